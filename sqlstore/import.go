package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse"
)

// ImportResources inserts many resources in one transaction, setting each
// one's ID, CreatedAt (unless set) and UpdatedAt: for bulk imports such as
// session recordings, and for seeding benchmarks. It fails whole on the
// first error, with the same errors as CreateResource.
func (db *DB) ImportResources(ctx context.Context, rs []gatehouse.Resource) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO resources (project_id, kind, key, created_by, created_at, updated_at, deleted, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING id`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := db.clock()
		projects := map[int64]bool{}
		for i := range rs {
			r := &rs[i]
			if r.CreatedAt.IsZero() {
				r.CreatedAt = now
			}
			r.UpdatedAt = r.CreatedAt
			if err := stmt.QueryRowContext(ctx, r.ProjectID, r.Kind.String(), r.Key, nullable(r.CreatedBy),
				ts(r.CreatedAt), ts(r.UpdatedAt), r.Deleted, data(r)).Scan(&r.ID); err != nil {
				return missingParent(unique(err, "key", keyTaken(r.Kind)), gatehouse.NotFound())
			}
			if !projects[r.ProjectID] {
				projects[r.ProjectID] = true
				if err := db.notify(ctx, tx, notice{what: noticeList, id: r.ProjectID}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.Analyze(ctx)
}

// Analyze refreshes the query planner's statistics. PostgreSQL's autovacuum
// does this in time, but a list right after a bulk load would otherwise be
// planned for empty tables.
func (db *DB) Analyze(ctx context.Context) error {
	_, err := db.w.ExecContext(ctx, `ANALYZE`)
	return err
}
