package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse/access"
)

// SQL exposes the connection to the tests of package sqlstore_test.
func (db *DB) SQL() *sql.DB { return db.db }

// Writer exposes the connection that writes, for tests that prepare rows by hand.
func (db *DB) Writer() *sql.DB { return db.w }

// OpenAt opens the database at databaseURL migrated up to version only, for tests of a
// later migration: they write rows as the older schema held them, Close, and Open.
func OpenAt(ctx context.Context, databaseURL string, version int64) (*DB, error) {
	db, err := open(ctx, databaseURL, nil)
	if err != nil {
		return nil, err
	}
	if err := db.migrateTo(ctx, version); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// WriteTx runs fn in a write transaction, as the store's writes do.
func (db *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error { return db.tx(ctx, fn) }

// RecentChanges is what a write's recheck finds in memory of the changes after revision
// from up to to; known is false when it must read the log.
func (db *DB) RecentChanges(orgID string, from, to int64) (changes []access.RuleChange, ok, known bool) {
	changes, ok, known, _ = db.recent.between(orgID, from, to)
	return changes, ok, known
}

// Fly marks rev as made by a transaction of this process that has not ended, as a write
// does once it has moved the revision; land ends it, committed with rules or not.
func (db *DB) Fly(orgID string, rev int64) (land func(rules []access.RuleChange, committed bool)) {
	landed := db.recent.fly(orgID, rev)
	return func(rules []access.RuleChange, committed bool) {
		if committed {
			db.recent.remember(orgID, rev, rules)
		}
		landed()
	}
}

// RecheckChanges is what a write's recheck, holding revision to, finds after from.
func (db *DB) RecheckChanges(ctx context.Context, orgID string, from, to int64) ([]access.RuleChange, bool, error) {
	changes, _, ok, err := db.ruleChanges(ctx, db.db, orgID, from, to)
	return changes, ok, err
}

// LoggedChanges reads the changes after revision from up to the latest from the log itself.
func (db *DB) LoggedChanges(ctx context.Context, orgID string, from int64) ([]access.RuleChange, int64, bool, error) {
	return db.ruleChanges(ctx, db.db, orgID, from, -1)
}
