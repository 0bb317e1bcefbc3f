package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// viaOIDC marks, among an activity row's changes, a change that a sign-in with OpenID
// Connect made rather than a person.
var viaOIDC = gatehouse.Change{Field: "via", Before: nil, After: "oidc"}

// CreateOIDCLogin stores l, deleting the logins that expired by now on the way, so that
// abandoned sign-ins do not pile up.
func (db *DB) CreateOIDCLogin(ctx context.Context, l gatehouse.OIDCLogin) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_logins WHERE expires_at <= $1`, ts(db.clock())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO oidc_logins (state_hash, browser_hash, nonce, verifier, next, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			l.StateHash, l.BrowserHash, l.Nonce, l.Verifier, l.Next, ts(l.ExpiresAt.UTC().Truncate(time.Microsecond)))
		return unique(err, "state", "This sign-in is already under way.")
	})
}

// TakeOIDCLogin deletes the login with this state hash and returns it: of any number of
// callbacks carrying one state, on any replica, one gets it. ENotFound when there is none,
// or it expired by now (it is deleted all the same).
func (db *DB) TakeOIDCLogin(ctx context.Context, stateHash string, now time.Time) (*gatehouse.OIDCLogin, error) {
	var l gatehouse.OIDCLogin
	err := db.w.QueryRowContext(ctx, `
		DELETE FROM oidc_logins WHERE state_hash = $1
		RETURNING state_hash, browser_hash, nonce, verifier, next, expires_at`, stateHash).
		Scan(&l.StateHash, &l.BrowserHash, &l.Nonce, &l.Verifier, &l.Next, scanTime(&l.ExpiresAt))
	if err != nil {
		return nil, notFound(err)
	}
	if !l.ExpiresAt.After(now) {
		return nil, gatehouse.NotFound()
	}
	return &l, nil
}

// JoinOrganization makes u a member of the organization at level, creating u first (as
// CreateUser) when u.ID is 0, in one transaction: no user is left behind when the join
// fails. Activity "Membership" "created" with the user as actor and the change marked as
// made by a sign-in. ENotFound when the organization does not exist; EUnique attr "user"
// when u is a member already, attr "email" when a new u's email is taken.
func (db *DB) JoinOrganization(ctx context.Context, orgID string, u *gatehouse.User, level int) (*gatehouse.Membership, error) {
	var (
		m      *gatehouse.Membership
		stored = *u
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if stored.ID == 0 {
			if err := db.insertUser(ctx, tx, &stored); err != nil {
				return err
			}
		}
		now, id := db.clock(), newID()
		_, err := tx.ExecContext(ctx, `
			INSERT INTO memberships (id, organization_id, user_id, level, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, orgID, stored.ID, level, ts(now), ts(now))
		if err != nil {
			return missingParent(unique(err, "user", detailMember), gatehouse.NotFound())
		}
		if err := db.record(ctx, tx, change{org: orgID, scope: scopeMembership, verb: created, item: id, actor: stored.ID,
			changes: []gatehouse.Change{{Field: "user", Before: nil, After: stored.ID}, {Field: "level", Before: nil, After: level}, viaOIDC}}); err != nil {
			return err
		}
		m, err = db.membership(ctx, tx, orgID, stored.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	*u = stored
	return m, nil
}

// SyncSSORoles puts the member userID in every role of the organization whose name is
// one of groups (compared as role names are, nameKey) and takes them out of every role
// that an earlier call put them in and groups no longer names; role memberships added
// any other way are left as they are, named or not. One activity row per change
// ("RoleMembership", the user as actor, marked as made by a sign-in). It returns the
// roles joined and left. ENotFound when userID is not a member.
func (db *DB) SyncSSORoles(ctx context.Context, orgID string, userID int64, groups []string) (joined, left []gatehouse.Role, err error) {
	want := make(map[string]bool, len(groups))
	for _, g := range groups {
		if g = strings.TrimSpace(g); g != "" {
			want[nameKey(g)] = true
		}
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		joined, left = nil, nil
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		if _, err := db.membership(ctx, tx, orgID, userID); err != nil {
			return err
		}
		roles, err := db.rolesIn(ctx, tx, orgID)
		if err != nil {
			return err
		}
		type held struct {
			id  string
			sso bool
		}
		has := map[string]held{}
		rows, err := tx.QueryContext(ctx, `
			SELECT rm.id, rm.role_id, s.role_membership_id IS NOT NULL
			FROM role_memberships rm LEFT JOIN sso_role_memberships s ON s.role_membership_id = rm.id
			WHERE rm.organization_id = $1 AND rm.user_id = $2`, orgID, userID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				h    held
				role string
			)
			if err := rows.Scan(&h.id, &role, &h.sso); err != nil {
				rows.Close()
				return err
			}
			has[role] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range roles {
			h, in := has[r.ID]
			switch named := want[nameKey(r.Name)]; {
			case named && !in:
				now, id := db.clock(), newID()
				if _, err := tx.ExecContext(ctx, `
					INSERT INTO role_memberships (id, organization_id, role_id, user_id, joined_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6)`, id, orgID, r.ID, userID, ts(now), ts(now)); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO sso_role_memberships (role_membership_id) VALUES ($1)`, id); err != nil {
					return err
				}
				if err := db.record(ctx, tx, change{org: orgID, scope: scopeRoleMembership, verb: created, item: id, actor: userID,
					changes: []gatehouse.Change{{Field: "role", Before: nil, After: r.ID}, {Field: "user", Before: nil, After: userID}, viaOIDC}}); err != nil {
					return err
				}
				joined = append(joined, r)
			case !named && in && h.sso:
				if _, err := tx.ExecContext(ctx, `DELETE FROM role_memberships WHERE id = $1`, h.id); err != nil {
					return err
				}
				if err := db.record(ctx, tx, change{org: orgID, scope: scopeRoleMembership, verb: deleted, item: h.id, actor: userID,
					changes: []gatehouse.Change{{Field: "role", Before: r.ID, After: nil}, {Field: "user", Before: userID, After: nil}, viaOIDC}}); err != nil {
					return err
				}
				left = append(left, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return joined, left, nil
}
