package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

const scimUserColumns = `s.domain_id, s.user_name, s.external_id, s.given_name, s.family_name, s.active, s.created_at, s.updated_at, ` + userColumns

func scanSCIMUser(sc scanner, su *gatehouse.SCIMUser) error {
	dest := []any{&su.DomainID, &su.UserName, &su.ExternalID, &su.GivenName, &su.FamilyName, &su.Active,
		scanTime(&su.CreatedAt), scanTime(&su.UpdatedAt)}
	return sc.Scan(append(dest, userScanners(&su.User, false)...)...)
}

const detailUserNameTaken = "A user with this userName is already provisioned."

// SCIMUsers lists the users the domain provisioned, oldest first.
func (db *DB) SCIMUsers(ctx context.Context, domainID string) ([]gatehouse.SCIMUser, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+scimUserColumns+`
		FROM scim_users s JOIN users u ON u.id = s.user_id
		WHERE s.domain_id = $1 ORDER BY s.created_at, u.id`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.SCIMUser{}
	for rows.Next() {
		var su gatehouse.SCIMUser
		if err := scanSCIMUser(rows, &su); err != nil {
			return nil, err
		}
		out = append(out, su)
	}
	return out, rows.Err()
}

// SCIMUser returns the domain's link to the user; ENotFound when it provisioned no such user.
func (db *DB) SCIMUser(ctx context.Context, domainID string, userID int64) (*gatehouse.SCIMUser, error) {
	return db.scimUser(ctx, db.db, domainID, userID, "")
}

func (db *DB) scimUser(ctx context.Context, q querier, domainID string, userID int64, lock string) (*gatehouse.SCIMUser, error) {
	var su gatehouse.SCIMUser
	err := scanSCIMUser(q.QueryRowContext(ctx, `SELECT `+scimUserColumns+`
		FROM scim_users s JOIN users u ON u.id = s.user_id
		WHERE s.domain_id = $1 AND s.user_id = $2`+lock, domainID, userID), &su)
	if err != nil {
		return nil, notFound(err)
	}
	return &su, nil
}

// ProvisionSCIMUser links su.UserName's account to the domain, creating the account (with
// no password: it signs in through the identity provider) when no user has that email, and,
// when su.Active, makes it a member of orgID at member level unless it is one already. An
// inactive link to a new account leaves it disabled, as deprovisioning would. EUnique attr
// "userName" when the domain has provisioned that userName (or that account) already.
// su is filled in with what was stored.
func (db *DB) ProvisionSCIMUser(ctx context.Context, orgID string, su *gatehouse.SCIMUser) error {
	var stored *gatehouse.SCIMUser
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		u, err := db.user(ctx, tx, `lower(u.email) = lower($1)`, su.UserName)
		fresh := gatehouse.ErrorCode(err) == gatehouse.ENotFound
		switch {
		case fresh:
			u = &gatehouse.User{Email: su.UserName, FirstName: su.GivenName}
			if err := db.insertUser(ctx, tx, u); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		now := db.clock()
		_, err = tx.ExecContext(ctx, `INSERT INTO scim_users (domain_id, user_id, user_name, external_id, given_name, family_name, active, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			su.DomainID, u.ID, su.UserName, su.ExternalID, su.GivenName, su.FamilyName, su.Active, ts(now), ts(now))
		if err != nil {
			return missingParent(unique(err, "userName", detailUserNameTaken), gatehouse.NotFound())
		}
		if su.Active {
			if err := db.restoreMember(ctx, tx, orgID, u.ID); err != nil {
				return err
			}
		} else if fresh {
			if err := db.disableIfNoMember(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		stored, err = db.scimUser(ctx, tx, su.DomainID, u.ID, "")
		return err
	})
	if err != nil {
		return err
	}
	*su = *stored
	return nil
}

// UpdateSCIMUser reads the domain's link to the user (ENotFound when there is none), lets
// modify change its UserName, ExternalID, GivenName, FamilyName and Active, and saves them
// in one transaction under orgID's lock. Going inactive deprovisions the user from orgID
// (deprovision), and returns once every replica has applied that (Barrier); going active
// again restores a plain membership and lifts a disabling. A
// given name also becomes the user's first name. An error from modify is returned as is
// and nothing is written.
func (db *DB) UpdateSCIMUser(ctx context.Context, orgID, domainID string, userID int64, modify func(su *gatehouse.SCIMUser) error) (*gatehouse.SCIMUser, error) {
	var (
		stored        *gatehouse.SCIMUser
		deprovisioned bool
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		before, err := db.scimUser(ctx, tx, domainID, userID, db.forUpdate)
		if err != nil {
			return err
		}
		su := *before
		if err := modify(&su); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE scim_users SET user_name = $1, external_id = $2, given_name = $3, family_name = $4,
			active = $5, updated_at = $6 WHERE domain_id = $7 AND user_id = $8`,
			su.UserName, su.ExternalID, su.GivenName, su.FamilyName, su.Active, ts(db.clock()), domainID, userID)
		if err != nil {
			return unique(err, "userName", detailUserNameTaken)
		}
		if su.GivenName != before.GivenName && su.GivenName != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET first_name = $1 WHERE id = $2`, su.GivenName, userID); err != nil {
				return err
			}
			if err := db.notify(ctx, tx, notice{what: noticeUser, id: userID}); err != nil {
				return err
			}
		}
		switch {
		case before.Active && !su.Active:
			deprovisioned = true
			err = db.deprovision(ctx, tx, orgID, userID)
		case !before.Active && su.Active:
			err = db.restoreMember(ctx, tx, orgID, userID)
		}
		if err != nil {
			return err
		}
		stored, err = db.scimUser(ctx, tx, domainID, userID, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	if deprovisioned {
		if err := db.Barrier(ctx); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// DeleteSCIMUser deprovisions the user from orgID as going inactive does and removes the
// domain's link to them; ENotFound when the domain has none. Like a deprovisioning
// UpdateSCIMUser it returns once every replica has applied the change (Barrier).
func (db *DB) DeleteSCIMUser(ctx context.Context, orgID, domainID string, userID int64) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if err := affected(tx.ExecContext(ctx, `DELETE FROM scim_users WHERE domain_id = $1 AND user_id = $2`, domainID, userID)); err != nil {
			return err
		}
		return db.deprovision(ctx, tx, orgID, userID)
	})
	if err != nil {
		return err
	}
	return db.Barrier(ctx)
}

// deprovision removes userID's membership of orgID (and by cascade their role memberships
// and the rules targeting them there), then disables them if that left them in no
// organization. access.ErrLastOwnerLeave for the organization's last owner. tx holds the
// organization's lock.
func (db *DB) deprovision(ctx context.Context, tx *sql.Tx, orgID string, userID int64) error {
	var (
		id    string
		level int
	)
	err := tx.QueryRowContext(ctx, `SELECT id, level FROM memberships WHERE organization_id = $1 AND user_id = $2`,
		orgID, userID).Scan(&id, &level)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Removed by hand already: what is left is the disabling.
	case err != nil:
		return err
	default:
		if err := db.keepOwner(ctx, tx, orgID, level, 0, access.ErrLastOwnerLeave); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE id = $1`, id); err != nil {
			return err
		}
		if err := db.record(ctx, tx, change{org: orgID, scope: scopeMembership, verb: deleted, item: id,
			changes: []gatehouse.Change{{Field: "user", Before: userID, After: nil}, {Field: "level", Before: level, After: nil}}}); err != nil {
			return err
		}
	}
	return db.disableIfNoMember(ctx, tx, userID)
}

// disableIfNoMember disables userID when they belong to no organization: their sessions
// and API keys are deleted, so that no replica lets them in again, and disabled_at keeps
// any new sign-in out.
func (db *DB) disableIfNoMember(ctx context.Context, tx *sql.Tx, userID int64) error {
	var member bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)`, userID).Scan(&member); err != nil {
		return err
	}
	if member {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL`, ts(db.clock()), userID); err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM sessions WHERE user_id = $1`, `DELETE FROM api_keys WHERE user_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, userID); err != nil {
			return err
		}
	}
	return db.notify(ctx, tx, notice{what: noticeUser, id: userID})
}

// restoreMember makes userID a member of orgID at member level unless they are one, and
// lifts a disabling. tx holds the organization's lock.
func (db *DB) restoreMember(ctx context.Context, tx *sql.Tx, orgID string, userID int64) error {
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2)`,
		orgID, userID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		now, id := db.clock(), newID()
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO memberships (id, organization_id, user_id, level, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, orgID, userID, access.MemberLevel, ts(now), ts(now)); err != nil {
			return err
		}
		if err := db.record(ctx, tx, change{org: orgID, scope: scopeMembership, verb: created, item: id,
			changes: []gatehouse.Change{{Field: "user", Before: nil, After: userID}, {Field: "level", Before: nil, After: access.MemberLevel}}}); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE id = $1`, userID); err != nil {
		return err
	}
	return db.notify(ctx, tx, notice{what: noticeUser, id: userID})
}

// SCIMGroupLinks returns the roles the domain's SCIM client manages, each with its
// external id.
func (db *DB) SCIMGroupLinks(ctx context.Context, domainID string) (map[string]string, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT role_id, external_id FROM scim_groups WHERE domain_id = $1`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var role, ext string
		if err := rows.Scan(&role, &ext); err != nil {
			return nil, err
		}
		out[role] = ext
	}
	return out, rows.Err()
}

// LinkSCIMGroup records that the domain's SCIM client manages the role, under externalID
// (replacing an earlier one). ENotFound when the domain or the role does not exist.
func (db *DB) LinkSCIMGroup(ctx context.Context, domainID, roleID, externalID string) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO scim_groups (domain_id, role_id, external_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (domain_id, role_id) DO UPDATE SET external_id = excluded.external_id`,
		domainID, roleID, externalID, ts(db.clock()))
	return missingParent(err, gatehouse.NotFound())
}
