package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"

	"github.com/gatehouse/gatehouse"
)

const projectColumns = `id, uuid, organization_id, name, api_token, created_at`

func scanProject(s scanner, p *gatehouse.Project) error {
	return s.Scan(&p.ID, &p.UUID, &p.OrganizationID, &p.Name, &p.APIToken, scanTime(&p.CreatedAt))
}

// newAPIToken returns a project token in PostHog's form: "phc_" and random characters.
func newAPIToken() string { return "phc_" + rand.Text() }

// CreateProject inserts p, setting ID, UUID, APIToken (when empty) and CreatedAt.
// ENotFound when the organization does not exist; EUnique attr "api_token" when the
// token is taken.
func (db *DB) CreateProject(ctx context.Context, p *gatehouse.Project) error {
	stored := *p
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		return db.insertProject(ctx, tx, &stored)
	})
	if err != nil {
		return err
	}
	*p = stored
	return nil
}

func (db *DB) insertProject(ctx context.Context, q querier, p *gatehouse.Project) error {
	if p.UUID == "" {
		p.UUID = newID()
	}
	if p.APIToken == "" {
		p.APIToken = newAPIToken()
	}
	p.CreatedAt = db.clock()
	err := q.QueryRowContext(ctx, `
		INSERT INTO projects (uuid, organization_id, name, api_token, created_at) VALUES ($1, $2, $3, $4, $5)
		RETURNING id`,
		p.UUID, p.OrganizationID, p.Name, p.APIToken, ts(p.CreatedAt)).Scan(&p.ID)
	return missingParent(unique(err, "api_token", detailAPITokenUsed), gatehouse.NotFound())
}

// Projects lists an organization's projects, oldest first.
func (db *DB) Projects(ctx context.Context, orgID string) ([]gatehouse.Project, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE organization_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.Project{}
	for rows.Next() {
		var p gatehouse.Project
		if err := scanProject(rows, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Project returns the project with this id.
func (db *DB) Project(ctx context.Context, id int64) (*gatehouse.Project, error) {
	var p gatehouse.Project
	if err := scanProject(db.db.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = $1`, id), &p); err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// UpdateProject saves Name; p is filled in with the stored row.
func (db *DB) UpdateProject(ctx context.Context, p *gatehouse.Project) error {
	var stored gatehouse.Project
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		err := scanProject(tx.QueryRowContext(ctx, `UPDATE projects SET name = $1 WHERE id = $2 RETURNING `+projectColumns, p.Name, p.ID), &stored)
		if err != nil {
			return notFound(err)
		}
		return db.notify(ctx, tx, notice{what: noticeProject, id: p.ID})
	})
	if err != nil {
		return err
	}
	*p = stored
	return nil
}

// DeleteProject removes the project, its resources and their rules (by cascade). It bumps
// the organization's rules revision, since rules may go with it, but writes no activity:
// the project's activity goes too.
func (db *DB) DeleteProject(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var orgID string
		if err := tx.QueryRowContext(ctx, `SELECT organization_id FROM projects WHERE id = $1`, id).Scan(&orgID); err != nil {
			return notFound(err)
		}
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if err := affected(tx.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, id)); err != nil {
			return err
		}
		if err := db.notify(ctx, tx, notice{what: noticeProjectGone, id: id}); err != nil {
			return err
		}
		return db.bumpRevision(ctx, tx, orgID, nil)
	})
}

// ProjectOrganization returns the project with this id and its organization,
// in one query: every project-scoped request needs both.
func (db *DB) ProjectOrganization(ctx context.Context, id int64) (*gatehouse.Project, *gatehouse.Organization, error) {
	gen, cached := db.cache.begin()
	if cached {
		if p, o, ok := db.cache.projectOrg(id); ok {
			return &p, &o, nil
		}
	}
	var (
		p gatehouse.Project
		o gatehouse.Organization
	)
	dest := append([]any{&p.ID, &p.UUID, &p.OrganizationID, &p.Name, &p.APIToken, scanTime(&p.CreatedAt)}, organizationScanners(&o)...)
	err := db.queryRowHot(ctx, `
		SELECT p.id, p.uuid, p.organization_id, p.name, p.api_token, p.created_at, `+organizationColumnsO+`
		FROM projects p JOIN organizations o ON o.id = p.organization_id
		WHERE p.id = $1`, id).Scan(dest...)
	if err != nil {
		return nil, nil, notFound(err)
	}
	if cached {
		db.cache.putProjectOrg(gen, p, o)
	}
	return &p, &o, nil
}
