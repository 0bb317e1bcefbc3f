package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// roleLevels is how a role's levels are stored and shown in the activity log: a JSON object
// from kind ("feature_flags") to level name ("editor").
type roleLevels map[string]string

func levelsOf(l [access.NumKinds]access.Level) roleLevels {
	m := make(roleLevels, access.NumKinds)
	for _, k := range access.Kinds {
		m[k.String()] = l[k].String()
	}
	return m
}

func encodeLevels(l [access.NumKinds]access.Level) (string, error) {
	b, err := json.Marshal(levelsOf(l))
	return string(b), err
}

// decodeLevels reads stored levels; a kind missing from them (one added later) is None.
func decodeLevels(s string) ([access.NumKinds]access.Level, error) {
	var (
		out [access.NumKinds]access.Level
		m   roleLevels
	)
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return out, fmt.Errorf("sqlstore: role levels %q: %w", s, err)
	}
	for name, level := range m {
		k, ok := access.KindFromPath(name)
		if !ok {
			continue
		}
		l, ok := access.ParseLevel(level)
		if !ok {
			return out, fmt.Errorf("sqlstore: role levels %q: unknown level %q", s, level)
		}
		out[k] = l
	}
	return out, nil
}

const roleColumns = `id, organization_id, name, levels, created_by, created_at, updated_at`

func scanRole(s scanner, r *gatehouse.Role) error {
	var levels string
	if err := s.Scan(&r.ID, &r.OrganizationID, &r.Name, &levels, orZero(&r.CreatedBy), scanTime(&r.CreatedAt), scanTime(&r.UpdatedAt)); err != nil {
		return err
	}
	var err error
	r.Levels, err = decodeLevels(levels)
	return err
}

func (db *DB) role(ctx context.Context, q querier, orgID, id string) (*gatehouse.Role, error) {
	var r gatehouse.Role
	err := scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE organization_id = $1 AND id = $2`, orgID, id), &r)
	if err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// CreateRole inserts r, setting ID, CreatedBy (when 0, to actor), CreatedAt and UpdatedAt. EUnique attr
// "name" when the organization has a role of that name in any case, Unicode case folded
// (nameKey). Activity "Role" "created" with name and levels as after.
func (db *DB) CreateRole(ctx context.Context, r *gatehouse.Role, actor int64) error {
	levels, err := encodeLevels(r.Levels)
	if err != nil {
		return err
	}
	stored := *r
	stored.ID = newID()
	if stored.CreatedBy == 0 {
		stored.CreatedBy = actor
	}
	stored.CreatedAt = db.clock()
	stored.UpdatedAt = stored.CreatedAt
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, r.OrganizationID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (`+roleColumns+`, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			stored.ID, stored.OrganizationID, stored.Name, levels, nullable(stored.CreatedBy), ts(stored.CreatedAt), ts(stored.UpdatedAt), nameKey(stored.Name))
		if err != nil {
			return unique(err, "name", detailRoleTaken)
		}
		return db.record(ctx, tx, change{org: r.OrganizationID, scope: scopeRole, verb: created, item: stored.ID, actor: actor,
			changes: []gatehouse.Change{
				{Field: "name", Before: nil, After: stored.Name},
				{Field: "levels", Before: nil, After: levelsOf(stored.Levels)},
			}})
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

// Roles lists an organization's roles, oldest first.
func (db *DB) Roles(ctx context.Context, orgID string) ([]gatehouse.Role, error) {
	return db.rolesIn(ctx, db.db, orgID)
}

// rolesIn is Roles read through q (a transaction, or the pool).
func (db *DB) rolesIn(ctx context.Context, q querier, orgID string) ([]gatehouse.Role, error) {
	return collect(ctx, q, scanRole, `SELECT `+roleColumns+` FROM roles WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
}

// Role returns the organization's role with this id.
func (db *DB) Role(ctx context.Context, orgID, id string) (*gatehouse.Role, error) {
	return db.role(ctx, db.db, orgID, id)
}

// UpdateRole saves Name and Levels, sets UpdatedAt and fills in r from the stored row.
// EUnique attr "name" as CreateRole; a case variant of the role's own name is allowed.
// Activity "Role" "updated" with the fields that changed; when none did, nothing is written.
func (db *DB) UpdateRole(ctx context.Context, r *gatehouse.Role, actor int64) error {
	stored, err := db.UpdateRoleFunc(ctx, r.OrganizationID, r.ID, actor, func(cur *gatehouse.Role) error {
		cur.Name, cur.Levels = r.Name, r.Levels
		return nil
	})
	if err != nil {
		return err
	}
	*r = *stored
	return nil
}

// UpdateRoleFunc reads the organization's role under the organization's lock, lets modify
// change its Name and Levels, and saves them as UpdateRole does: a change made from this
// read cannot undo a concurrent one. ENotFound when the role is not the organization's; an
// error from modify is returned as is and nothing is written.
func (db *DB) UpdateRoleFunc(ctx context.Context, orgID, id string, actor int64, modify func(r *gatehouse.Role) error) (*gatehouse.Role, error) {
	var stored *gatehouse.Role
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		before, err := db.role(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		after := *before
		if err := modify(&after); err != nil {
			return err
		}
		levels, err := encodeLevels(after.Levels)
		if err != nil {
			return err
		}
		var changes []gatehouse.Change
		if before.Name != after.Name {
			changes = append(changes, gatehouse.Change{Field: "name", Before: before.Name, After: after.Name})
		}
		if before.Levels != after.Levels {
			changes = append(changes, gatehouse.Change{Field: "levels", Before: levelsOf(before.Levels), After: levelsOf(after.Levels)})
		}
		if len(changes) == 0 {
			stored = before
			return nil
		}
		after.UpdatedAt = db.clock()
		_, err = tx.ExecContext(ctx, `UPDATE roles SET name = $1, levels = $2, updated_at = $3 WHERE id = $4`,
			after.Name, levels, ts(after.UpdatedAt), after.ID)
		if err == nil && before.Name != after.Name {
			// Only a new name takes a new key: a role left without one by migration 5
			// keeps its levels changeable.
			_, err = tx.ExecContext(ctx, `UPDATE roles SET name_key = $1 WHERE id = $2`, nameKey(after.Name), after.ID)
		}
		if err != nil {
			return unique(err, "name", detailRoleTaken)
		}
		stored = &after
		return db.record(ctx, tx, change{org: orgID, scope: scopeRole, verb: updated, item: id, actor: actor, changes: changes})
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// DeleteRole removes the role and, by cascade, its memberships and every rule targeting it.
// Activity "Role" "deleted" with the name as before.
func (db *DB) DeleteRole(ctx context.Context, orgID, id string, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		r, err := db.role(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE id = $1`, id); err != nil {
			return err
		}
		return db.record(ctx, tx, change{org: orgID, scope: scopeRole, verb: deleted, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "name", Before: r.Name, After: nil}}})
	})
}

const roleMembershipColumns = `rm.id, rm.role_id, rm.joined_at, rm.updated_at, ` + userColumns

func scanRoleMembership(s scanner, m *gatehouse.RoleMembership) error {
	dest := []any{&m.ID, &m.RoleID, scanTime(&m.JoinedAt), scanTime(&m.UpdatedAt)}
	return s.Scan(append(dest, userScanners(&m.User, false)...)...)
}

// AddRoleMember inserts m into the organization's role m.RoleID (setting ID, JoinedAt,
// UpdatedAt; m.User.ID names the user and m.User is filled in). ENotFound when the role is
// not the organization's; EUnique attr "user_uuid" when the user is already in the role;
// EDoesNotExist attr "user_uuid" when the user is not a member of the organization.
// Activity "RoleMembership" "created" with role and user as after.
func (db *DB) AddRoleMember(ctx context.Context, orgID string, m *gatehouse.RoleMembership, actor int64) error {
	var stored gatehouse.RoleMembership
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if _, err := db.role(ctx, tx, orgID, m.RoleID); err != nil {
			return err
		}
		now, id := db.clock(), newID()
		_, err := tx.ExecContext(ctx, `
			INSERT INTO role_memberships (id, organization_id, role_id, user_id, joined_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			id, orgID, m.RoleID, m.User.ID, ts(now), ts(now))
		if err != nil {
			err = unique(err, "user_uuid", detailInRole)
			return missingParent(err, gatehouse.FieldError(gatehouse.EDoesNotExist, "user_uuid", "User does not exist."))
		}
		if err := db.record(ctx, tx, change{org: orgID, scope: scopeRoleMembership, verb: created, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "role", Before: nil, After: m.RoleID}, {Field: "user", Before: nil, After: m.User.ID}}}); err != nil {
			return err
		}
		return scanRoleMembership(tx.QueryRowContext(ctx, `
			SELECT `+roleMembershipColumns+` FROM role_memberships rm JOIN users u ON u.id = rm.user_id WHERE rm.id = $1`, id), &stored)
	})
	if err != nil {
		return err
	}
	*m = stored
	return nil
}

// RoleMembers lists the role's memberships with users, oldest first.
func (db *DB) RoleMembers(ctx context.Context, roleID string) ([]gatehouse.RoleMembership, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT `+roleMembershipColumns+`
		FROM role_memberships rm JOIN users u ON u.id = rm.user_id
		WHERE rm.role_id = $1
		ORDER BY rm.joined_at, rm.id`, roleID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.RoleMembership{}
	for rows.Next() {
		var m gatehouse.RoleMembership
		if err := scanRoleMembership(rows, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// RoleMember returns the role's membership with this id.
func (db *DB) RoleMember(ctx context.Context, roleID, id string) (*gatehouse.RoleMembership, error) {
	var m gatehouse.RoleMembership
	err := scanRoleMembership(db.db.QueryRowContext(ctx, `
		SELECT `+roleMembershipColumns+`
		FROM role_memberships rm JOIN users u ON u.id = rm.user_id
		WHERE rm.role_id = $1 AND rm.id = $2`, roleID, id), &m)
	if err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// RemoveRoleMember deletes the membership of the organization's role. Activity
// "RoleMembership" "deleted" with role and user as before.
func (db *DB) RemoveRoleMember(ctx context.Context, orgID, roleID, id string, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		var userID int64
		err := tx.QueryRowContext(ctx, `
			SELECT user_id FROM role_memberships WHERE id = $1 AND role_id = $2 AND organization_id = $3`,
			id, roleID, orgID).Scan(&userID)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM role_memberships WHERE id = $1`, id); err != nil {
			return err
		}
		return db.record(ctx, tx, change{org: orgID, scope: scopeRoleMembership, verb: deleted, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "role", Before: roleID, After: nil}, {Field: "user", Before: userID, After: nil}}})
	})
}
