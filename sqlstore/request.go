package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

const requestColumns = `id, organization_id, project_id, kind, object_id, requested_by, access_level, reason, duration_seconds,
	status, decided_by, decided_at, decision_reason, rule_id, created_at`

const detailRequestPending = "You already have a pending request for this."

func scanRequest(s scanner, rq *gatehouse.AccessRequest) error {
	var (
		kind, level string
		seconds     int64
		decidedAt   *time.Time
	)
	err := s.Scan(&rq.ID, &rq.OrganizationID, &rq.Project, &kind, orZero(&rq.Object), &rq.RequestedBy, &level, &rq.Reason, orZero(&seconds),
		&rq.Status, orZero(&rq.DecidedBy), scanNullTime(&decidedAt), &rq.DecisionReason, orZero(&rq.RuleID), scanTime(&rq.CreatedAt))
	if err != nil {
		return err
	}
	rq.Duration = time.Duration(seconds) * time.Second
	if decidedAt != nil {
		rq.DecidedAt = *decidedAt
	}
	var ok [2]bool
	rq.Kind, ok[0] = access.KindFromPath(kind)
	rq.Level, ok[1] = access.ParseLevel(level)
	if ok != [2]bool{true, true} {
		return fmt.Errorf("sqlstore: bad stored access request (%q, %q)", kind, level)
	}
	return nil
}

// requestChanges describes rq for the activity log as created.
func requestChanges(rq *gatehouse.AccessRequest) []gatehouse.Change {
	out := []gatehouse.Change{
		{Field: "status", After: rq.Status},
		{Field: "kind", After: rq.Kind.String()},
	}
	if rq.Object != 0 {
		out = append(out, gatehouse.Change{Field: "object", After: rq.Object})
	}
	out = append(out,
		gatehouse.Change{Field: "user", After: rq.RequestedBy},
		gatehouse.Change{Field: "level", After: rq.Level.String()},
		gatehouse.Change{Field: "reason", After: rq.Reason})
	if rq.Duration > 0 {
		out = append(out, gatehouse.Change{Field: "duration_seconds", After: int64(rq.Duration / time.Second)})
	}
	return out
}

// CreateAccessRequest inserts rq as pending (setting ID, Status and CreatedAt). One pending
// request per requester and object (or kind in a project) is held by a unique partial
// index, so the check is the insert itself: EUnique attr "resource". ENotFound when the
// project, or the object of that kind in it, is not the organization's; EDoesNotExist
// attr "user" when the requester is not a member; EInvalid attr "access_level" for a
// level that asks nothing (none). When ctx carries a decision it is held as for any write
// it guards. Activity "AccessRequest" "created", which does not move the rules revision:
// a request grants nothing.
func (db *DB) CreateAccessRequest(ctx context.Context, rq *gatehouse.AccessRequest) error {
	if rq.Level == access.None || !rq.Level.Valid() {
		return gatehouse.FieldError(gatehouse.EInvalid, "access_level", "Ask for viewer, editor or manager.")
	}
	if rq.Kind >= access.NumKinds {
		return gatehouse.FieldError(gatehouse.EInvalid, "resource", "Unknown resource kind.")
	}
	stored := *rq
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.holdDecision(ctx, tx); err != nil {
			return err
		}
		var one int
		var err error
		if stored.Object != 0 {
			err = tx.QueryRowContext(ctx, `
				SELECT 1 FROM resources r JOIN projects p ON p.id = r.project_id
				WHERE r.id = $1 AND r.project_id = $2 AND r.kind = $3 AND p.organization_id = $4`,
				stored.Object, stored.Project, stored.Kind.String(), stored.OrganizationID).Scan(&one)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM projects WHERE id = $1 AND organization_id = $2`,
				stored.Project, stored.OrganizationID).Scan(&one)
		}
		if err != nil {
			return notFound(err)
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2`,
			stored.OrganizationID, stored.RequestedBy).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.FieldError(gatehouse.EDoesNotExist, "user", "User is not a member of the organization.")
		}
		if err != nil {
			return err
		}
		stored.ID, stored.Status, stored.CreatedAt = newID(), gatehouse.RequestPending, db.clock()
		stored.DecidedBy, stored.DecidedAt, stored.DecisionReason, stored.RuleID = 0, time.Time{}, "", ""
		stored.Duration = stored.Duration.Truncate(time.Second)
		_, err = tx.ExecContext(ctx, `INSERT INTO access_requests (`+requestColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, '', NULL, $11)`,
			stored.ID, stored.OrganizationID, stored.Project, stored.Kind.String(), nullable(stored.Object), stored.RequestedBy,
			stored.Level.String(), stored.Reason, nullable(int64(stored.Duration/time.Second)), stored.Status, ts(stored.CreatedAt))
		if err != nil {
			return missingParent(unique(err, "resource", detailRequestPending), gatehouse.NotFound())
		}
		return db.logOnly(ctx, tx, change{org: stored.OrganizationID, project: stored.Project, object: stored.Object, scope: scopeAccessRequest,
			verb: created, item: stored.ID, actor: stored.RequestedBy, changes: requestChanges(&stored)})
	})
	if err != nil {
		return err
	}
	*rq = stored
	return nil
}

// AccessRequest returns the organization's request with this id; ENotFound otherwise.
func (db *DB) AccessRequest(ctx context.Context, orgID, id string) (*gatehouse.AccessRequest, error) {
	return db.accessRequest(ctx, db.db, orgID, id, "")
}

func (db *DB) accessRequest(ctx context.Context, q querier, orgID, id, lock string) (*gatehouse.AccessRequest, error) {
	var rq gatehouse.AccessRequest
	err := scanRequest(q.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM access_requests WHERE organization_id = $1 AND id = $2`+lock, orgID, id), &rq)
	if err != nil {
		return nil, notFound(err)
	}
	return &rq, nil
}

// AccessRequests lists the project's requests that f selects, newest first.
func (db *DB) AccessRequests(ctx context.Context, f gatehouse.AccessRequestFilter) ([]gatehouse.AccessRequest, error) {
	where := []string{"organization_id = $1", "project_id = $2"}
	args := []any{f.OrganizationID, f.Project}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" = $"+strconv.Itoa(len(args)))
	}
	if f.OptionalStatus != "" {
		add("status", f.OptionalStatus)
	}
	if f.OptionalRequestedBy != 0 {
		add("requested_by", f.OptionalRequestedBy)
	}
	return collect(ctx, db.db, scanRequest,
		`SELECT `+requestColumns+` FROM access_requests WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at DESC, id DESC`, args...)
}

// DecideAccessRequest moves the pending request to d.Status in one transaction that holds
// the organization's row (as every permission change does, with the decision ctx carries)
// and so every other decision on the organization's requests: EInvalidInput when the
// request is no longer pending, ENotFound when the organization has none with this id.
// d.Check, asked there with the stored request, may refuse it. An approval puts a member
// rule for the requester at d.Level on the request's object (or kind in its project), as
// PutRule does, expiring at d.ExpiresAt, and names it in the request; its own activity row
// ("AccessControl") is written beside the request's ("AccessRequest" "updated", with the
// status's before and after, the level and the expiry or the reason).
func (db *DB) DecideAccessRequest(ctx context.Context, orgID, id string, d gatehouse.RequestDecision, actor int64) (*gatehouse.AccessRequest, *gatehouse.Rule, error) {
	switch d.Status {
	case gatehouse.RequestApproved, gatehouse.RequestDenied, gatehouse.RequestCancelled:
	default:
		return nil, nil, gatehouse.FieldError(gatehouse.EInvalidChoice, "status", "\""+d.Status+"\" is not a valid choice.")
	}
	if d.Status == gatehouse.RequestApproved && (d.Level == access.None || !d.Level.Valid()) {
		return nil, nil, gatehouse.FieldError(gatehouse.EInvalid, "access_level", "Approve viewer, editor or manager.")
	}
	var (
		rq   *gatehouse.AccessRequest
		rule *gatehouse.Rule
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		var err error
		if rq, err = db.accessRequest(ctx, tx, orgID, id, db.forUpdate); err != nil {
			return err
		}
		if rq.Status != gatehouse.RequestPending {
			return gatehouse.Errorf(gatehouse.EInvalidInput, "This request was %s already.", rq.Status)
		}
		if d.Check != nil {
			if err := d.Check(rq); err != nil {
				return err
			}
		}
		changes := []gatehouse.Change{{Field: "status", Before: rq.Status, After: d.Status}}
		if d.Status == gatehouse.RequestApproved {
			rule = ruleFor(rq, d)
			if err := db.putRule(ctx, tx, rule, actor); err != nil {
				return err
			}
			rq.RuleID = rule.ID
			changes = append(changes, gatehouse.Change{Field: "level", After: d.Level.String()})
			if !d.ExpiresAt.IsZero() {
				changes = append(changes, gatehouse.Change{Field: "expires_at", After: d.ExpiresAt.UTC().Format(time.RFC3339)})
			}
		}
		if d.Status == gatehouse.RequestDenied {
			changes = append(changes, gatehouse.Change{Field: "reason", After: d.Reason})
		}
		rq.Status, rq.DecidedBy, rq.DecidedAt, rq.DecisionReason = d.Status, actor, db.clock(), d.Reason
		if err := affected(tx.ExecContext(ctx, `
			UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4, rule_id = $5
			WHERE id = $6 AND status = 'pending'`,
			rq.Status, nullable(actor), ts(rq.DecidedAt), rq.DecisionReason, nullable(rq.RuleID), rq.ID)); err != nil {
			return err
		}
		return db.logOnly(ctx, tx, change{org: orgID, project: rq.Project, object: rq.Object, scope: scopeAccessRequest, verb: updated,
			item: rq.ID, actor: actor, changes: changes})
	})
	if err != nil {
		return nil, nil, err
	}
	return rq, rule, nil
}

// ruleFor is the member rule approving rq as d says writes.
func ruleFor(rq *gatehouse.AccessRequest, d gatehouse.RequestDecision) *gatehouse.Rule {
	r := access.Rule{Scope: access.ScopeKind, Project: rq.Project, Kind: rq.Kind, User: rq.RequestedBy, Level: d.Level}
	if !d.ExpiresAt.IsZero() {
		// To the microsecond, as the store keeps times, so that the rule read back is the one written.
		r.ExpiresAt = d.ExpiresAt.UTC().Truncate(time.Microsecond).UnixNano()
	}
	if rq.Object != 0 {
		r.Scope, r.Object = access.ScopeObject, rq.Object
	}
	return &gatehouse.Rule{OrganizationID: rq.OrganizationID, Rule: r}
}
