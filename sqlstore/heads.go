package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// ResourceHeads returns what the decision needs of the live resources of the
// kind in the project, newest first (created_at desc, id desc), reading only
// the index resources_heads (deleted = $3 rather than NOT deleted, so that
// SQLite walks the index in order). The answer is kept in memory and shared.
func (db *DB) ResourceHeads(ctx context.Context, projectID int64, kind access.Kind) ([]access.Object, error) {
	gen, cached := db.cache.begin()
	if cached {
		if l, ok := db.cache.list(projectID, kind); ok {
			return l, nil
		}
	}
	rows, err := db.queryHot(ctx, `
		SELECT id, created_by, created_at FROM resources
		WHERE project_id = $1 AND kind = $2 AND deleted = $3
		ORDER BY created_at DESC, id DESC`, projectID, kind.String(), false)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []access.Object{}
	var (
		at     time.Time
		newest int64 // the first head's created_at, unix microseconds
	)
	for rows.Next() {
		o := access.Object{Kind: kind, Project: projectID}
		if err := rows.Scan(&o.ID, orZero(&o.Creator), scanTime(&at)); err != nil {
			return nil, err
		}
		if len(out) == 0 {
			newest = at.UnixMicro()
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if cached {
		db.cache.putList(gen, projectID, kind, cachedList{heads: out, newest: newest})
	}
	return out, nil
}

// HeadsByID appends to dst what the decision needs of the resources with
// these ids (deleted or not, of any kind), in no particular order; unknown ids
// are left out. A batch of access checks reads nothing more.
func (db *DB) HeadsByID(ctx context.Context, dst []access.Object, ids []int64) ([]access.Object, error) {
	out := slices.Grow(dst, len(ids))
	// An object's head never changes (its id, project, kind and creator are
	// fixed when it is made), so only deletions invalidate it.
	gen, cached := db.cache.begin()
	if cached {
		out, ids = lookup(db.cache, db.cache.heads.get, ids, out)
		if len(ids) == 0 {
			return out, nil
		}
	}
	read := len(out)
	defer func() {
		if cached {
			db.cache.putHeads(gen, out[read:])
		}
	}()
	for start := 0; start < len(ids); start += idsPerQuery {
		args := idArgs(ids[start:min(start+idsPerQuery, len(ids))])
		if err := func() error {
			rows, err := db.queryHot(ctx, `SELECT id, project_id, kind, created_by FROM resources WHERE id IN (`+placeholders(1, len(args))+`)`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					o    access.Object
					kind string
				)
				if err := rows.Scan(&o.ID, &o.Project, &kind, orZero(&o.Creator)); err != nil {
					return err
				}
				k, ok := access.KindFromPath(kind)
				if !ok {
					continue
				}
				o.Kind = k
				out = append(out, o)
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
