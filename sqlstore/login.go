package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// LoginFailures returns the failures counted against each key in windows that began
// after now−window; keys without any are left out.
func (db *DB) LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]int, error) {
	out := map[string]int{}
	if len(keys) == 0 {
		return out, nil
	}
	args := []any{ts(now.Add(-window).UTC().Truncate(time.Microsecond))}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := db.db.QueryContext(ctx, `
		SELECT key, failures FROM login_failures
		WHERE window_start > $1 AND key IN (`+placeholders(2, len(keys))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k string
			n int
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// RecordLoginFailure counts one failure against each key, in one transaction: a key
// whose window has run out starts a new one at now. Windows that have run out are
// deleted on the way, so that a spray of distinct keys does not pile up.
func (db *DB) RecordLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) error {
	now = now.UTC().Truncate(time.Microsecond)
	expired := ts(now.Add(-window))
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE window_start <= $1`, expired); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO login_failures (key, window_start, failures) VALUES ($1, $2, 1)
				ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1`,
				k, ts(now)); err != nil {
				return err
			}
		}
		return nil
	})
}
