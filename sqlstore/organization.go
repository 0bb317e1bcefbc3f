package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// organizationColumns selects an organization, unqualified or (joined as o) qualified.
const (
	organizationColumns  = `id, name, created_at, updated_at, rules_revision`
	organizationColumnsO = `o.id, o.name, o.created_at, o.updated_at, o.rules_revision`
)

func organizationScanners(o *gatehouse.Organization) []any {
	return []any{&o.ID, &o.Name, scanTime(&o.CreatedAt), scanTime(&o.UpdatedAt), &o.RulesRevision}
}

// CreateOrganization inserts org (setting ID, CreatedAt, UpdatedAt), makes owner its owner
// and inserts first as its first project, in one transaction. ENotFound when owner does
// not exist. Creating an organization is not a permission change: its revision starts at 0.
func (db *DB) CreateOrganization(ctx context.Context, org *gatehouse.Organization, owner int64, first *gatehouse.Project) error {
	now := db.clock()
	o := *org
	o.ID, o.CreatedAt, o.UpdatedAt, o.RulesRevision = newID(), now, now, 0
	p := *first
	p.OrganizationID = o.ID
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO organizations (id, name, created_at, updated_at, rules_revision) VALUES ($1, $2, $3, $4, 0)`,
			o.ID, o.Name, ts(now), ts(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO memberships (id, organization_id, user_id, level, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			newID(), o.ID, owner, access.OwnerLevel, ts(now), ts(now)); err != nil {
			return missingParent(err, gatehouse.NotFound())
		}
		return db.insertProject(ctx, tx, &p)
	})
	if err != nil {
		return err
	}
	*org, *first = o, p
	return nil
}

// Organization returns the organization with this id.
func (db *DB) Organization(ctx context.Context, id string) (*gatehouse.Organization, error) {
	gen, cached := db.cache.begin()
	if cached {
		if o, ok := db.cache.org(id); ok {
			return &o, nil
		}
	}
	var o gatehouse.Organization
	err := db.queryRowHot(ctx, `SELECT `+organizationColumns+` FROM organizations WHERE id = $1`, id).
		Scan(organizationScanners(&o)...)
	if err != nil {
		return nil, notFound(err)
	}
	if cached {
		db.cache.putOrg(gen, o)
	}
	return &o, nil
}

// OrganizationsOf lists the organizations userID belongs to, oldest membership first.
func (db *DB) OrganizationsOf(ctx context.Context, userID int64) ([]gatehouse.UserOrganization, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT `+organizationColumnsO+`, m.level
		FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.user_id = $1
		ORDER BY m.joined_at, m.id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.UserOrganization{}
	for rows.Next() {
		var uo gatehouse.UserOrganization
		if err := rows.Scan(append(organizationScanners(&uo.Organization), &uo.Level)...); err != nil {
			return nil, err
		}
		out = append(out, uo)
	}
	return out, rows.Err()
}

// UpdateOrganization saves Name and sets UpdatedAt; org is filled in with the stored row.
func (db *DB) UpdateOrganization(ctx context.Context, org *gatehouse.Organization) error {
	var o gatehouse.Organization
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `
			UPDATE organizations SET name = $1, updated_at = $2 WHERE id = $3
			RETURNING `+organizationColumns,
			org.Name, ts(db.clock()), org.ID).Scan(organizationScanners(&o)...)
		if err != nil {
			return notFound(err)
		}
		return db.notify(ctx, tx, notice{what: noticeOrg, org: org.ID})
	})
	if err != nil {
		return err
	}
	*org = o
	return nil
}

// DeleteOrganization removes the organization and, by cascade, everything in it.
func (db *DB) DeleteOrganization(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, id); err != nil {
			return err
		}
		if err := affected(tx.ExecContext(ctx, `DELETE FROM organizations WHERE id = $1`, id)); err != nil {
			return err
		}
		return db.notify(ctx, tx, notice{what: noticeOrg, org: id})
	})
}

const membershipColumns = `m.id, m.organization_id, m.level, m.joined_at, m.updated_at, ` + userColumns

func scanMembership(s scanner, m *gatehouse.Membership) error {
	dest := []any{&m.ID, &m.OrganizationID, &m.Level, scanTime(&m.JoinedAt), scanTime(&m.UpdatedAt)}
	return s.Scan(append(dest, userScanners(&m.User, false)...)...)
}

// Members lists an organization's memberships with users, oldest first.
func (db *DB) Members(ctx context.Context, orgID string) ([]gatehouse.Membership, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT `+membershipColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = $1
		ORDER BY m.joined_at, m.id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.Membership{}
	for rows.Next() {
		var m gatehouse.Membership
		if err := scanMembership(rows, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Membership returns userID's membership of the organization.
func (db *DB) Membership(ctx context.Context, orgID string, userID int64) (*gatehouse.Membership, error) {
	return db.membership(ctx, db.db, orgID, userID)
}

// MembershipByID returns the organization's membership with this id (the id the v2 API
// names members by).
func (db *DB) MembershipByID(ctx context.Context, orgID, id string) (*gatehouse.Membership, error) {
	var m gatehouse.Membership
	err := scanMembership(db.db.QueryRowContext(ctx, `
		SELECT `+membershipColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = $1 AND m.id = $2`, orgID, id), &m)
	if err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

func (db *DB) membership(ctx context.Context, q querier, orgID string, userID int64) (*gatehouse.Membership, error) {
	var m gatehouse.Membership
	err := scanMembership(q.QueryRowContext(ctx, `
		SELECT `+membershipColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = $1 AND m.user_id = $2`, orgID, userID), &m)
	if err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// SetMemberLevel changes a member's level. Activity "Membership" "updated" with the level's
// before and after; setting the level a member already has changes and records nothing.
// access.ErrLastOwnerDemote when it would leave the organization without an owner: the
// owners are counted under the organization's lock, so two owners demoting each other at
// once cannot both succeed.
func (db *DB) SetMemberLevel(ctx context.Context, orgID string, userID int64, level int, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		var (
			id     string
			before int
		)
		err := tx.QueryRowContext(ctx, `SELECT id, level FROM memberships WHERE organization_id = $1 AND user_id = $2`,
			orgID, userID).Scan(&id, &before)
		if err != nil {
			return notFound(err)
		}
		if before == level {
			return nil
		}
		if err := db.keepOwner(ctx, tx, orgID, before, level, access.ErrLastOwnerDemote); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE memberships SET level = $1, updated_at = $2 WHERE id = $3`,
			level, ts(db.clock()), id); err != nil {
			return err
		}
		return db.record(ctx, tx, change{org: orgID, scope: scopeMembership, verb: updated, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "level", Before: before, After: level}}})
	})
}

// keepOwner returns refusal when setting a member at level target to level to (0: removing
// them) would leave the organization without an owner, counting the owners in tx, which
// holds the organization's lock.
func (db *DB) keepOwner(ctx context.Context, tx *sql.Tx, orgID string, target, to int, refusal error) error {
	if access.KeepsOwner(0, target, to) {
		return nil // the change takes no owner away, whatever their count
	}
	rows, err := tx.QueryContext(ctx, `SELECT level, count(*) FROM memberships WHERE organization_id = $1 GROUP BY level`, orgID)
	if err != nil {
		return err
	}
	defer rows.Close()
	owners := 0
	for rows.Next() {
		var level, n int
		if err := rows.Scan(&level, &n); err != nil {
			return err
		}
		if access.IsOwner(level) {
			owners += n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !access.KeepsOwner(owners, target, to) {
		return refusal
	}
	return nil
}

// RemoveMember deletes the membership and, by cascade, the user's role memberships in the
// organization and every rule targeting them there. Activity "Membership" "deleted" with
// the user and level as before. access.ErrLastOwnerLeave when the member is the
// organization's last owner (counted under its lock, as SetMemberLevel does).
func (db *DB) RemoveMember(ctx context.Context, orgID string, userID int64, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		var (
			id    string
			level int
		)
		err := tx.QueryRowContext(ctx, `SELECT id, level FROM memberships WHERE organization_id = $1 AND user_id = $2`,
			orgID, userID).Scan(&id, &level)
		if err != nil {
			return notFound(err)
		}
		if err := db.keepOwner(ctx, tx, orgID, level, 0, access.ErrLastOwnerLeave); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE id = $1`, id); err != nil {
			return err
		}
		return db.record(ctx, tx, change{org: orgID, scope: scopeMembership, verb: deleted, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "user", Before: userID, After: nil}, {Field: "level", Before: level, After: nil}}})
	})
}

const inviteColumns = `id, organization_id, target_email, level, created_by, created_at`

func scanInvite(s scanner, inv *gatehouse.Invite) error {
	return s.Scan(&inv.ID, &inv.OrganizationID, &inv.TargetEmail, &inv.Level, orZero(&inv.CreatedBy), scanTime(&inv.CreatedAt))
}

// CreateInvite inserts inv, setting ID and CreatedAt. ENotFound when the organization does
// not exist.
func (db *DB) CreateInvite(ctx context.Context, inv *gatehouse.Invite) error {
	stored := *inv
	stored.ID = newID()
	stored.CreatedAt = db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO invites (`+inviteColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			stored.ID, stored.OrganizationID, stored.TargetEmail, stored.Level, nullable(stored.CreatedBy), ts(stored.CreatedAt))
		return missingParent(err, gatehouse.NotFound())
	})
	if err != nil {
		return err
	}
	*inv = stored
	return nil
}

// Invites lists an organization's invites, oldest first.
func (db *DB) Invites(ctx context.Context, orgID string) ([]gatehouse.Invite, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.Invite{}
	for rows.Next() {
		var inv gatehouse.Invite
		if err := scanInvite(rows, &inv); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Invite returns the invite with this id.
func (db *DB) Invite(ctx context.Context, id string) (*gatehouse.Invite, error) {
	var inv gatehouse.Invite
	if err := scanInvite(db.db.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE id = $1`, id), &inv); err != nil {
		return nil, notFound(err)
	}
	return &inv, nil
}

// DeleteInvite removes one of the organization's invites.
func (db *DB) DeleteInvite(ctx context.Context, orgID, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		return affected(tx.ExecContext(ctx, `DELETE FROM invites WHERE id = $1 AND organization_id = $2`, id, orgID))
	})
}

// AcceptInvite makes userID a member at the invite's level and deletes the invite, in one
// transaction. Activity "Membership" "created" (actor userID) with user and level as after.
// ENotFound when the invite is unknown or no longer honoured (access.InviteHonoured: its
// inviter, read under the organization's lock, is no longer a member at or above its
// level); EUnique attr "user" when userID is already a member. Nothing is written then.
func (db *DB) AcceptInvite(ctx context.Context, inviteID string, userID int64) (*gatehouse.Membership, error) {
	var m *gatehouse.Membership
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = db.acceptInvite(ctx, tx, inviteID, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// AcceptInviteAsNewUser creates u as CreateUser does and accepts the invite for it as
// AcceptInvite does, in one transaction: when the invite is unknown or no longer honoured
// (ENotFound) or the email is taken (EUnique attr "email"), no user is left behind.
func (db *DB) AcceptInviteAsNewUser(ctx context.Context, inviteID string, u *gatehouse.User) (*gatehouse.Membership, error) {
	var (
		m      *gatehouse.Membership
		stored = *u
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.insertUser(ctx, tx, &stored); err != nil {
			return err
		}
		var err error
		m, err = db.acceptInvite(ctx, tx, inviteID, stored.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	*u = stored
	return m, nil
}

func (db *DB) acceptInvite(ctx context.Context, tx *sql.Tx, inviteID string, userID int64) (*gatehouse.Membership, error) {
	var inv gatehouse.Invite
	if err := scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE id = $1`, inviteID), &inv); err != nil {
		return nil, notFound(err)
	}
	if err := db.lockOrganization(ctx, tx, inv.OrganizationID); err != nil {
		return nil, err
	}
	// The inviter's level as it is now, under the lock that every membership change takes:
	// an admin demoted (or gone) since inviting cannot still bring someone in at admin.
	var inviter int
	err := tx.QueryRowContext(ctx, `SELECT level FROM memberships WHERE organization_id = $1 AND user_id = $2`,
		inv.OrganizationID, inv.CreatedBy).Scan(&inviter)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if !access.InviteHonoured(inviter, inv.Level) {
		return nil, gatehouse.NotFound()
	}
	// The invite may have gone while this transaction waited for the lock.
	if err := affected(tx.ExecContext(ctx, `DELETE FROM invites WHERE id = $1`, inviteID)); err != nil {
		return nil, err
	}
	now, id := db.clock(), newID()
	_, err = tx.ExecContext(ctx, `
		INSERT INTO memberships (id, organization_id, user_id, level, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, inv.OrganizationID, userID, inv.Level, ts(now), ts(now))
	if err != nil {
		return nil, missingParent(unique(err, "user", detailMember), gatehouse.NotFound())
	}
	if err := db.record(ctx, tx, change{org: inv.OrganizationID, scope: scopeMembership, verb: created, item: id, actor: userID,
		changes: []gatehouse.Change{{Field: "user", Before: nil, After: userID}, {Field: "level", Before: nil, After: inv.Level}}}); err != nil {
		return nil, err
	}
	return db.membership(ctx, tx, inv.OrganizationID, userID)
}
