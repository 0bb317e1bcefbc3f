package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
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

// ImportMembers creates users (setting ID, UUID, DistinctID and CreatedAt) and makes each
// a member of the organization at level, in one transaction with one rules revision: for
// seeding benchmarks and scale tests, and for moving an organization from another system.
// It fails whole on the first error, with the errors of CreateUser.
func (db *DB) ImportMembers(ctx context.Context, orgID string, users []gatehouse.User, level int) error {
	if !access.IsMember(level) {
		return gatehouse.FieldError(gatehouse.EInvalid, "level", "Unknown membership level.")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO memberships (id, organization_id, user_id, level, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range users {
			u := &users[i]
			if err := db.insertUser(ctx, tx, u); err != nil {
				return err
			}
			now := ts(u.CreatedAt)
			if _, err := stmt.ExecContext(ctx, newID(), orgID, u.ID, level, now, now); err != nil {
				return err
			}
		}
		return db.bumpRevision(ctx, tx, orgID, nil)
	})
}

// ImportRoleMembers adds members to roles of the organization in one transaction with one
// rules revision (each m names RoleID and User.ID; ID and JoinedAt are set), for the same
// uses as ImportMembers. A membership already there, or a role or user not the
// organization's, fails the whole import.
func (db *DB) ImportRoleMembers(ctx context.Context, orgID string, ms []gatehouse.RoleMembership) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO role_memberships (id, organization_id, role_id, user_id, joined_at, updated_at)
			SELECT $1, $2, r.id, m.user_id, $5, $6 FROM roles r JOIN memberships m ON m.organization_id = r.organization_id
			WHERE r.id = $3 AND r.organization_id = $2 AND m.user_id = $4`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := db.clock()
		for i := range ms {
			m := &ms[i]
			m.ID, m.JoinedAt, m.UpdatedAt = newID(), now, now
			if err := affected(stmt.ExecContext(ctx, m.ID, orgID, m.RoleID, m.User.ID, ts(now), ts(now))); err != nil {
				return missingParent(unique(err, "user_uuid", detailInRole), gatehouse.NotFound())
			}
		}
		return db.bumpRevision(ctx, tx, orgID, nil)
	})
}

// ImportRules inserts rules of the organization in one transaction with one rules
// revision and no activity entry per rule (setting ID, CreatedAt and UpdatedAt), for the
// same uses as ImportMembers. Unlike CreateRule it takes each rule as complete (an object
// rule names its object's project and kind) and checks only what the database's
// constraints check: the rows it names exist and no rule is there twice. It is for data
// known to be consistent, never for input from a client.
func (db *DB) ImportRules(ctx context.Context, orgID string, rules []gatehouse.Rule) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO access_rules (`+ruleColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := db.clock()
		for i := range rules {
			r := &rules[i]
			scope, ok := scopeName(r.Scope)
			if !ok || !r.Kind.Valid() || !r.Level.Valid() || !r.ProjectLevel.Valid() || r.Role != "" && r.User != 0 {
				return gatehouse.Errorf(gatehouse.EInvalidInput, "Rule %d of the import is not a valid rule.", i)
			}
			kind := r.Kind.String()
			if r.Scope == access.ScopeProject {
				kind = ""
			}
			r.ID, r.OrganizationID, r.CreatedAt, r.UpdatedAt = newID(), orgID, now, now
			r.ExpiresAt = r.ExpiresAt / 1e3 * 1e3 // stored to the microsecond
			if _, err := stmt.ExecContext(ctx, r.ID, orgID, scope, nullable(r.Project), kind, nullable(r.Object), nullable(r.Role), nullable(r.User),
				r.Level.String(), r.ProjectLevel.String(), nullable(r.CreatedBy), ts(now), ts(now), expiry(r.ExpiresAt)); err != nil {
				return missingParent(unique(err, "resource", detailRuleExists), gatehouse.NotFound())
			}
		}
		return db.bumpRevision(ctx, tx, orgID, nil)
	})
}
