package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/gatehouse/gatehouse"
)

const domainColumns = `id, organization_id, domain, verified_at, jit_provisioning_enabled, sso_enforcement,
	scim_enabled, scim_token_hash, created_at`

func scanDomain(s scanner, d *gatehouse.Domain) error {
	return s.Scan(&d.ID, &d.OrganizationID, &d.Domain, scanNullTime(&d.VerifiedAt), &d.JITProvisioningEnabled,
		&d.SSOEnforcement, &d.SCIMEnabled, &d.SCIMTokenHash, scanTime(&d.CreatedAt))
}

const detailDomainTaken = "This domain is already in use."

// CreateDomain inserts d, setting ID and CreatedAt and lower-casing Domain. EUnique attr
// "domain" when the instance has the domain already, in any organization; ENotFound when
// the organization does not exist. Activity "OrganizationDomain" "created".
func (db *DB) CreateDomain(ctx context.Context, d *gatehouse.Domain, actor int64) error {
	stored := *d
	stored.ID = newID()
	stored.Domain = strings.ToLower(stored.Domain)
	stored.CreatedAt = db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO organization_domains (`+domainColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			stored.ID, stored.OrganizationID, stored.Domain, nullTime(stored.VerifiedAt), stored.JITProvisioningEnabled,
			stored.SSOEnforcement, stored.SCIMEnabled, stored.SCIMTokenHash, ts(stored.CreatedAt))
		if err != nil {
			return missingParent(unique(err, "domain", detailDomainTaken), gatehouse.NotFound())
		}
		return db.logActivity(ctx, tx, change{org: stored.OrganizationID, scope: scopeDomain, verb: created, item: stored.ID,
			actor: actor, changes: []gatehouse.Change{{Field: "domain", Before: nil, After: stored.Domain},
				{Field: "is_verified", Before: nil, After: stored.Verified()}}})
	})
	if err != nil {
		return err
	}
	*d = stored
	return nil
}

// Domains lists the organization's domains, oldest first.
func (db *DB) Domains(ctx context.Context, orgID string) ([]gatehouse.Domain, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+domainColumns+` FROM organization_domains
		WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.Domain{}
	for rows.Next() {
		var d gatehouse.Domain
		if err := scanDomain(rows, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Domain returns the domain with this id, whichever organization it is of.
func (db *DB) Domain(ctx context.Context, id string) (*gatehouse.Domain, error) {
	return db.domain(ctx, db.db, `id = $1`, id)
}

func (db *DB) domain(ctx context.Context, q querier, where string, args ...any) (*gatehouse.Domain, error) {
	var d gatehouse.Domain
	if err := scanDomain(q.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM organization_domains WHERE `+where, args...), &d); err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// VerifiedDomain returns the verified domain named name, compared case-insensitively.
func (db *DB) VerifiedDomain(ctx context.Context, name string) (gatehouse.Domain, bool, error) {
	d, err := db.domain(ctx, db.db, `domain = $1 AND verified_at IS NOT NULL`, strings.ToLower(name))
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return gatehouse.Domain{}, false, nil
	case err != nil:
		return gatehouse.Domain{}, false, err
	}
	return *d, true, nil
}

// updateDomain reads the organization's domain in tx (holding its row), lets modify change
// it, saves what the store saves and logs what changed.
func (db *DB) updateDomain(ctx context.Context, orgID, id string, actor int64, modify func(d *gatehouse.Domain)) (*gatehouse.Domain, error) {
	var stored *gatehouse.Domain
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		before, err := db.domain(ctx, tx, `id = $1 AND organization_id = $2`+db.forUpdate, id, orgID)
		if err != nil {
			return err
		}
		d := *before
		modify(&d)
		if _, err := tx.ExecContext(ctx, `UPDATE organization_domains SET verified_at = $1, jit_provisioning_enabled = $2,
			sso_enforcement = $3, scim_enabled = $4, scim_token_hash = $5 WHERE id = $6`,
			nullTime(d.VerifiedAt), d.JITProvisioningEnabled, d.SSOEnforcement, d.SCIMEnabled, d.SCIMTokenHash, id); err != nil {
			return err
		}
		stored = &d
		var changes []gatehouse.Change
		add := func(field string, before, after any) {
			if before != after {
				changes = append(changes, gatehouse.Change{Field: field, Before: before, After: after})
			}
		}
		add("is_verified", before.Verified(), d.Verified())
		add("jit_provisioning_enabled", before.JITProvisioningEnabled, d.JITProvisioningEnabled)
		add("sso_enforcement", before.SSOEnforcement, d.SSOEnforcement)
		add("scim_enabled", before.SCIMEnabled, d.SCIMEnabled)
		if before.SCIMTokenHash != d.SCIMTokenHash {
			// The hash itself stays out of the log: that a token was made is what matters.
			changes = append(changes, gatehouse.Change{Field: "scim_bearer_token", Before: nil, After: "regenerated"})
		}
		if len(changes) == 0 {
			return nil
		}
		return db.logActivity(ctx, tx, change{org: orgID, scope: scopeDomain, verb: updated, item: id, actor: actor, changes: changes})
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// UpdateDomain saves JITProvisioningEnabled, SSOEnforcement and SCIMEnabled of the
// organization's domain d.ID, and fills d in with the stored domain.
func (db *DB) UpdateDomain(ctx context.Context, d *gatehouse.Domain, actor int64) error {
	stored, err := db.updateDomain(ctx, d.OrganizationID, d.ID, actor, func(cur *gatehouse.Domain) {
		cur.JITProvisioningEnabled, cur.SSOEnforcement, cur.SCIMEnabled = d.JITProvisioningEnabled, d.SSOEnforcement, d.SCIMEnabled
	})
	if err != nil {
		return err
	}
	*d = *stored
	return nil
}

// VerifyDomain marks the organization's domain verified, keeping an earlier verification's
// time, and returns it.
func (db *DB) VerifyDomain(ctx context.Context, orgID, id string, actor int64) (*gatehouse.Domain, error) {
	now := db.clock()
	return db.updateDomain(ctx, orgID, id, actor, func(d *gatehouse.Domain) {
		if d.VerifiedAt == nil {
			d.VerifiedAt = &now
		}
	})
}

// SetDomainSCIMToken replaces the domain's SCIM token hash.
func (db *DB) SetDomainSCIMToken(ctx context.Context, orgID, id, tokenHash string, actor int64) error {
	_, err := db.updateDomain(ctx, orgID, id, actor, func(d *gatehouse.Domain) { d.SCIMTokenHash = tokenHash })
	return err
}

// DeleteDomain removes the organization's domain and, by cascade, its SCIM links.
func (db *DB) DeleteDomain(ctx context.Context, orgID, id string, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		var name string
		err := tx.QueryRowContext(ctx, `DELETE FROM organization_domains WHERE id = $1 AND organization_id = $2 RETURNING domain`,
			id, orgID).Scan(&name)
		if err != nil {
			return notFound(err)
		}
		return db.logActivity(ctx, tx, change{org: orgID, scope: scopeDomain, verb: deleted, item: id, actor: actor,
			changes: []gatehouse.Change{{Field: "domain", Before: name, After: nil}}})
	})
}
