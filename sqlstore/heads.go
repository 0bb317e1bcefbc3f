package sqlstore

import (
	"context"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// ResourceHeads returns what the decision needs of the live resources f
// selects, newest first (created_at desc, id desc), reading only the index
// resources_heads (deleted = $3 rather than NOT deleted, so that SQLite walks
// the index in order).
func (db *DB) ResourceHeads(ctx context.Context, f gatehouse.HeadFilter) ([]access.Object, error) {
	whole := f.OptionalLimit <= 0 && f.OptionalRuledIn == "" && f.OptionalCreator == 0
	gen, cached := db.cache.begin()
	cached = cached && whole
	if cached {
		if l, ok := db.cache.list(f.ProjectID, f.Kind); ok {
			return l, nil
		}
	}
	out, newest, err := db.resourceHeads(ctx, f)
	if err == nil && cached {
		db.cache.putList(gen, f.ProjectID, f.Kind, cachedList{heads: out, newest: newest})
	}
	return out, err
}

// resourceHeads queries ResourceHeads, and the newest head's created_at
// (unix microseconds; 0 when there is none).
func (db *DB) resourceHeads(ctx context.Context, f gatehouse.HeadFilter) (_ []access.Object, newest int64, _ error) {
	q := `SELECT id, created_by, created_at FROM resources WHERE project_id = $1 AND kind = $2 AND deleted = $3`
	args := []any{f.ProjectID, f.Kind.String(), false}
	if f.OptionalRuledIn != "" {
		args = append(args, f.OptionalRuledIn, f.Kind.String())
		ruled := `id IN (SELECT object_id FROM access_rules WHERE organization_id = $4 AND scope = 'object' AND kind = $5 AND object_id IS NOT NULL)`
		if f.OptionalCreator != 0 {
			args = append(args, f.OptionalCreator)
			q += ` AND (` + ruled + ` OR created_by = $6)`
		} else {
			q += ` AND ` + ruled
		}
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if f.OptionalLimit > 0 {
		args = append(args, f.OptionalLimit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := db.queryHot(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []access.Object{}
	var at time.Time
	for rows.Next() {
		o := access.Object{Kind: f.Kind, Project: f.ProjectID}
		if err := rows.Scan(&o.ID, orZero(&o.Creator), scanTime(&at)); err != nil {
			return nil, 0, err
		}
		if len(out) == 0 {
			newest = at.UnixMicro()
		}
		out = append(out, o)
	}
	return out, newest, rows.Err()
}

// CountResources counts the live resources of the kind in the project.
func (db *DB) CountResources(ctx context.Context, projectID int64, kind access.Kind) (int, error) {
	var n int
	err := db.queryRowHot(ctx, `SELECT COUNT(*) FROM resources WHERE project_id = $1 AND kind = $2 AND deleted = $3`,
		projectID, kind.String(), false).Scan(&n)
	return n, err
}

// HeadsByID returns what the decision needs of the resources with these
// ids (deleted or not, of any kind), in no particular order; unknown ids are
// left out. A batch of access checks reads nothing more.
func (db *DB) HeadsByID(ctx context.Context, ids []int64) ([]access.Object, error) {
	out := make([]access.Object, 0, len(ids))
	// An object's head never changes (its id, project, kind and creator are
	// fixed when it is made), so only deletions invalidate it.
	gen, cached := db.cache.begin()
	if cached {
		out, ids = lookup(db.cache, db.cache.heads, ids, out)
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
