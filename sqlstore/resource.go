package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

const resourceColumns = `id, project_id, kind, key, created_by, created_at, updated_at, deleted, data`

func scanResource(s scanner, r *gatehouse.Resource) error {
	var (
		kind string
		data []byte
	)
	if err := s.Scan(&r.ID, &r.ProjectID, &kind, &r.Key, orZero(&r.CreatedBy), scanTime(&r.CreatedAt), scanTime(&r.UpdatedAt), &r.Deleted, &data); err != nil {
		return err
	}
	k, ok := access.KindFromPath(kind)
	if !ok {
		return fmt.Errorf("sqlstore: resource %d has unknown kind %q", r.ID, kind)
	}
	r.Kind, r.Data = k, json.RawMessage(data)
	return nil
}

// keyTaken is the detail of a key conflict, e.g. "There is already a feature flag with this key."
func keyTaken(k access.Kind) string {
	noun := k.Noun()
	article := "a"
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		article = "an"
	}
	return "There is already " + article + " " + noun + " with this key."
}

// data returns what is stored for r.Data: "{}" when it is empty.
func data(r *gatehouse.Resource) string {
	if len(r.Data) == 0 {
		r.Data = json.RawMessage("{}")
	}
	return string(r.Data)
}

// CreateResource inserts r, setting ID, CreatedAt and UpdatedAt (and Data to {} when empty).
// EUnique attr "key" when a live resource of the kind in the project has r.Key; ENotFound
// when the project does not exist.
func (db *DB) CreateResource(ctx context.Context, r *gatehouse.Resource) error {
	now := db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO resources (project_id, kind, key, created_by, created_at, updated_at, deleted, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING id`,
			r.ProjectID, r.Kind.String(), r.Key, nullable(r.CreatedBy), ts(now), ts(now), r.Deleted, data(r)).Scan(&r.ID)
		if err != nil {
			return err
		}
		if r.Deleted {
			return nil // in no list
		}
		return db.notify(ctx, tx, notice{what: noticeCreated, id: r.ID, project: r.ProjectID, kind: r.Kind, creator: r.CreatedBy, at: now.UnixMicro()})
	})
	if err != nil {
		return missingParent(unique(err, "key", keyTaken(r.Kind)), gatehouse.NotFound())
	}
	r.CreatedAt, r.UpdatedAt = now, now
	return nil
}

// Resource returns one resource of the kind in the project, deleted or not.
func (db *DB) Resource(ctx context.Context, projectID int64, kind access.Kind, id int64) (*gatehouse.Resource, error) {
	gen, cached := db.cache.begin()
	if cached {
		// From the rows list pages keep (see ResourcesByID): the id alone finds
		// it, and another project's or kind's object is still not this one.
		if rs, _ := lookup(db.cache, inMap(db.cache.rows), []int64{id}, nil); len(rs) == 1 {
			if r := rs[0]; r.ProjectID == projectID && r.Kind == kind {
				return &r, nil
			}
			return nil, gatehouse.NotFound()
		}
	}
	var r gatehouse.Resource
	err := scanResource(db.queryRowHot(ctx, `
		SELECT `+resourceColumns+` FROM resources WHERE id = $1 AND project_id = $2 AND kind = $3`,
		id, projectID, kind.String()), &r)
	if err != nil {
		return nil, notFound(err)
	}
	if cached {
		db.cache.putRows(gen, []gatehouse.Resource{r})
	}
	return &r, nil
}

// ResourceByKey returns the live resource of the kind in the project with this key.
func (db *DB) ResourceByKey(ctx context.Context, projectID int64, kind access.Kind, key string) (*gatehouse.Resource, error) {
	if key == "" {
		return nil, gatehouse.NotFound()
	}
	var r gatehouse.Resource
	err := scanResource(db.queryRowHot(ctx, `
		SELECT `+resourceColumns+` FROM resources WHERE project_id = $1 AND kind = $2 AND key = $3 AND key <> '' AND NOT deleted`, // the terms of the partial index resources_key
		projectID, kind.String(), key), &r)
	if err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// idsPerQuery bounds the parameters of one IN list, well under SQLite's limit.
const idsPerQuery = 500

// ResourcesByID returns the resources with these ids in the order given; ids that name no
// resource are left out. Rows read before are answered from memory (every change to a row
// invalidates it, on every replica), so a busy list's first pages read nothing.
func (db *DB) ResourcesByID(ctx context.Context, ids []int64) ([]gatehouse.Resource, error) {
	found := make(map[int64]gatehouse.Resource, len(ids))
	missing := ids
	gen, cached := db.cache.begin()
	if cached {
		var hits []gatehouse.Resource
		hits, missing = lookup(db.cache, inMap(db.cache.rows), ids, make([]gatehouse.Resource, 0, len(ids)))
		for _, r := range hits {
			found[r.ID] = r
		}
	}
	read := make([]gatehouse.Resource, 0, len(missing))
	for start := 0; start < len(missing); start += idsPerQuery {
		chunk := missing[start:min(start+idsPerQuery, len(missing))]
		args := idArgs(chunk)
		if err := func() error {
			rows, err := db.queryHot(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id IN (`+placeholders(1, len(args))+`)`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r gatehouse.Resource
				if err := scanResource(rows, &r); err != nil {
					return err
				}
				found[r.ID] = r
				read = append(read, r)
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	if cached && len(read) > 0 {
		db.cache.putRows(gen, read)
	}
	out := make([]gatehouse.Resource, 0, len(found))
	for _, id := range ids {
		if r, ok := found[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// UpdateResource saves Key, Deleted and Data of the resource (named by ID, ProjectID and
// Kind), sets UpdatedAt and fills in the rest from the stored row. EUnique attr "key" as
// CreateResource.
func (db *DB) UpdateResource(ctx context.Context, r *gatehouse.Resource) error {
	stored, err := db.UpdateResourceFunc(ctx, r.ProjectID, r.Kind, r.ID, func(cur *gatehouse.Resource) error {
		cur.Key, cur.Deleted, cur.Data = r.Key, r.Deleted, r.Data
		return nil
	})
	if err != nil {
		return err
	}
	*r = *stored
	return nil
}

// UpdateResourceFunc reads the resource of the kind in the project (ENotFound when there is
// none), lets modify change Key, Deleted and Data, and saves them as UpdateResource does, in
// one transaction: the row is locked (FOR UPDATE; SQLite's IMMEDIATE transaction holds the
// database's write lock), so a read-modify-write cannot undo a concurrent one. An error from
// modify is returned as is and nothing is written.
func (db *DB) UpdateResourceFunc(ctx context.Context, projectID int64, kind access.Kind, id int64, modify func(r *gatehouse.Resource) error) (*gatehouse.Resource, error) {
	var stored gatehouse.Resource
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The organization before the row, as permission changes (DeleteResource) take them.
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		var r gatehouse.Resource
		err := scanResource(tx.QueryRowContext(ctx, `
			SELECT `+resourceColumns+` FROM resources WHERE id = $1 AND project_id = $2 AND kind = $3`+db.forUpdate,
			id, projectID, kind.String()), &r)
		if err != nil {
			return notFound(err)
		}
		wasDeleted := r.Deleted
		if err := modify(&r); err != nil {
			return err
		}
		err = scanResource(tx.QueryRowContext(ctx, `
			UPDATE resources SET key = $1, deleted = $2, data = $3, updated_at = $4 WHERE id = $5
			RETURNING `+resourceColumns,
			r.Key, r.Deleted, data(&r), ts(db.clock()), r.ID), &stored)
		if err != nil {
			return notFound(unique(err, "key", keyTaken(kind)))
		}
		if err := db.notify(ctx, tx, notice{what: noticeResource, id: id, project: projectID}); err != nil {
			return err
		}
		switch {
		case stored.Deleted && !wasDeleted:
			return db.notify(ctx, tx, notice{what: noticeHidden, id: id, project: projectID})
		case !stored.Deleted && wasDeleted:
			// Back in the list, at a place only its created_at knows.
			return db.notify(ctx, tx, notice{what: noticeList, id: projectID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &stored, nil
}

// DeleteResource removes the resource of the kind in the project and, by cascade, the
// rules on it; ENotFound when the project has no such resource of that kind (another
// project's id included), and nothing is removed then. When rules go, the organization's
// rules revision is bumped (no activity is written: the object is gone).
func (db *DB) DeleteResource(ctx context.Context, projectID int64, kind access.Kind, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var orgID string
		err := tx.QueryRowContext(ctx, `
			SELECT p.organization_id FROM resources r JOIN projects p ON p.id = r.project_id
			WHERE r.id = $1 AND r.project_id = $2 AND r.kind = $3`, id, projectID, kind.String()).Scan(&orgID)
		if err != nil {
			return notFound(err)
		}
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		// The rules on the object go with it: logged as removed, so that replicas drop them
		// without reading every rule again.
		var gone []access.RuleChange
		rows, err := tx.QueryContext(ctx, `SELECT `+ruleColumns+` FROM access_rules WHERE object_id = $1 ORDER BY created_at, id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r gatehouse.Rule
			if err := scanRule(rows, &r); err != nil {
				rows.Close()
				return err
			}
			gone = append(gone, access.RuleChange{Rule: r.Rule, Removed: true})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := affected(tx.ExecContext(ctx, `DELETE FROM resources WHERE id = $1 AND project_id = $2 AND kind = $3`, id, projectID, kind.String())); err != nil {
			return err
		}
		if err := db.notify(ctx, tx, notice{what: noticeObject, id: id, project: projectID}); err != nil {
			return err
		}
		if len(gone) == 0 {
			return nil
		}
		return db.bumpRevision(ctx, tx, orgID, gone)
	})
}
