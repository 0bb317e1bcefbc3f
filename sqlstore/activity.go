package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// The activity-log scopes and verbs the store writes.
const (
	scopeMembership     = "Membership"
	scopeRole           = "Role"
	scopeRoleMembership = "RoleMembership"
	scopeAccessControl  = "AccessControl"
	scopeDomain         = "OrganizationDomain"
	scopeAccessRequest  = "AccessRequest"

	created = "created"
	updated = "updated"
	deleted = "deleted"
	expired = "expired"
)

// change is one permission change about to be recorded.
type change struct {
	org     string
	project int64 // 0 = organization-wide
	object  int64 // the object the change is about (a rule on it); 0 = none
	scope   string
	verb    string
	item    string
	actor   int64
	changes []gatehouse.Change
	// rules is what the change did to the rules, for the log of rule changes; nil for a
	// change that is not a rule's (members, roles), which replicas take as a reason to
	// read the facts again.
	rules []access.RuleChange
}

type activityDetail struct {
	Changes []gatehouse.Change `json:"changes"`
	// Actor names an actor that is no user (gatehouse.WithActorName).
	Actor string `json:"actor,omitempty"`
}

// record writes c's activity-log row and bumps the organization's rules revision: the two
// writes every permission change makes in its own transaction.
func (db *DB) record(ctx context.Context, tx *sql.Tx, c change) error {
	if db.dialect == Postgres {
		return db.recordPostgres(ctx, tx, c)
	}
	if err := db.logActivity(ctx, tx, c); err != nil {
		return err
	}
	return db.bumpRevision(ctx, tx, c.org, c.rules)
}

// recordPostgres is record in one statement: the activity row, the revision moved (from
// the decided one, when ctx carries a decision), the logged rule changes with the row
// that falls out of the log deleted, and the change notice. A permission change holds its
// organization's row until it commits, and every other change of that organization waits
// for it: five round trips made one shortened that wait (gatehouse-load --ops rules on a
// durable PostgreSQL). What it writes is what logActivity and bumpRevision write.
func (db *DB) recordPostgres(ctx context.Context, tx *sql.Tx, c change) error {
	detail, err := c.detail(ctx)
	if err != nil {
		return err
	}
	var changes any // NULL: not a rule's change
	if c.rules != nil {
		text, err := encodeRuleChanges(c.rules)
		if err != nil {
			return err
		}
		changes = text
	}
	from, decided := db.bumpFrom(ctx, tx, c.org)
	n := notice{what: noticeRules, org: c.org}
	var rev int64
	err = tx.QueryRowContext(ctx, `
		WITH activity AS (
			INSERT INTO activity_log (organization_id, project_id, object_id, scope, activity, item_id, user_id, detail, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		), rev AS (
			UPDATE organizations SET rules_revision = rules_revision + 1
			WHERE id = $1 AND ($10::bigint < 0 OR rules_revision = $10)
			RETURNING rules_revision
		), logged AS (
			INSERT INTO rule_changes (organization_id, revision, changes) SELECT $1, rules_revision, $11 FROM rev
		), pruned AS (
			DELETE FROM rule_changes WHERE organization_id = $1 AND revision = (SELECT rules_revision - $12 FROM rev)
		)
		SELECT rules_revision, pg_notify($13, $14) IS NULL FROM rev`,
		c.org, nullable(c.project), nullable(c.object), c.scope, c.verb, c.item, nullable(c.actor), detail, ts(db.clock()),
		from, changes, keptRuleChanges, changesChannel, n.payload(),
	).Scan(&rev, new(bool))
	if err := bumpErr(err, decided); err != nil {
		return err
	}
	db.bumped(ctx, tx, c.org, from, rev, decided, c.rules)
	n.rev = rev
	db.pend(tx, n) // the statement sent the notice to the other replicas
	return nil
}

// detail is c's activity row's detail column.
func (c change) detail(ctx context.Context) (string, error) {
	cs := c.changes
	if cs == nil {
		cs = []gatehouse.Change{}
	}
	detail, err := json.Marshal(activityDetail{Changes: cs, Actor: gatehouse.ActorName(ctx)})
	return string(detail), err
}

// logOnly writes c's activity-log row alone, for a change that grants nothing by itself (an
// access request and its transitions): the rules revision stays, so no snapshot is
// rebuilt and no write decided on it is sent round again.
func (db *DB) logOnly(ctx context.Context, tx *sql.Tx, c change) error {
	return db.logActivity(ctx, tx, c)
}

// logActivity writes c's activity-log row alone: for changes that move no one's access
// (an organization's domains), which need no snapshot rebuilt.
func (db *DB) logActivity(ctx context.Context, tx *sql.Tx, c change) error {
	detail, err := c.detail(ctx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO activity_log (organization_id, project_id, object_id, scope, activity, item_id, user_id, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.org, nullable(c.project), nullable(c.object), c.scope, c.verb, c.item, nullable(c.actor), detail, ts(db.clock()),
	)
	return err
}

// bumpRevision tells every replica that the organization's access facts changed, and
// logs what changed at the new revision: rules, the rule changes (put and removed) that
// brought it, in order; nil for any other change. When ctx's request was authorized on
// the organization's rules, it moves the revision only from the one that decision was
// made on (gatehouse.ErrStaleDecision otherwise), and once tx commits the request carries
// the new revision, so that its own next write is not taken for a stale one. One bump
// per transaction.
func (db *DB) bumpRevision(ctx context.Context, tx *sql.Tx, orgID string, rules []access.RuleChange) error {
	from, decided := db.bumpFrom(ctx, tx, orgID)
	var rev int64
	err := tx.QueryRowContext(ctx, `
		UPDATE organizations SET rules_revision = rules_revision + 1
		WHERE id = $1 AND (CAST($2 AS BIGINT) < 0 OR rules_revision = $2)
		RETURNING rules_revision`, orgID, from).Scan(&rev)
	if err := bumpErr(err, decided); err != nil {
		return err
	}
	if err := db.logRuleChanges(ctx, tx, orgID, rev, rules); err != nil {
		return err
	}
	db.bumped(ctx, tx, orgID, from, rev, decided, rules)
	return db.notify(ctx, tx, notice{what: noticeRules, org: orgID, rev: rev})
}

// bumpFrom returns the revision a bump in tx must move orgID's rules from: the one ctx's
// request was decided on (decided), or the one tx itself already moved them to (putting
// a rule over an expired one sweeps it first); -1, not decided, when ctx carries no
// decision about orgID and the revision moves from wherever it is.
func (db *DB) bumpFrom(ctx context.Context, tx *sql.Tx, orgID string) (from int64, decided bool) {
	decidedOrg, rev, ok := gatehouse.DecidedRevision(ctx)
	if !ok || decidedOrg != orgID {
		return -1, false
	}
	if own, ok := db.bumpedIn(tx, orgID); ok {
		return own, true
	}
	return rev, true
}

// bumpErr is the error of a bump's UPDATE … RETURNING: no row is a stale decision when
// the bump was decided, else an organization that does not exist.
func bumpErr(err error, decided bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows) && decided:
		return gatehouse.ErrStaleDecision
	}
	return notFound(err)
}

// bumped records, for once tx commits, that it moved orgID's rules from from to rev with
// rules: the request carries the new revision (so that its own next write is not taken
// for a stale one), and the changes are kept in memory for the next writes' rechecks.
//
// Until then the revision is in flight: the next writer, given the organization's row the
// moment tx commits, finds rev there before this goroutine has kept its changes, and
// waits for them rather than reading the log while every other writer waits for it.
func (db *DB) bumped(ctx context.Context, tx *sql.Tx, orgID string, from, rev int64, decided bool, rules []access.RuleChange) {
	db.afterCommit(tx, func() {
		if decided {
			gatehouse.AdvanceDecidedRevision(ctx, orgID, from, rev)
		}
		db.recent.remember(orgID, rev, rules)
	})
	landed := db.recent.fly(orgID, rev)
	db.pendingMu.Lock()
	db.ended[tx] = append(db.ended[tx], landed) // after the commit's remember, or without it
	db.pendingMu.Unlock()
}

// bumpedIn returns the revision tx last moved organization orgID to, if it did.
func (db *DB) bumpedIn(tx *sql.Tx, orgID string) (int64, bool) {
	db.pendingMu.Lock()
	defer db.pendingMu.Unlock()
	ns := db.pending[tx]
	for i := len(ns) - 1; i >= 0; i-- {
		if n := ns[i]; n.what == noticeRules && n.org == orgID && n.rev != 0 {
			return n.rev, true
		}
	}
	return 0, false
}

// activityWhere returns f's conditions on activity_log a, and their arguments, leaving out
// OptionalObjects.
func activityWhere(f gatehouse.ActivityFilter) (where []string, args []any) {
	where = []string{"a.organization_id = $1"}
	args = []any{f.OrganizationID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" = $"+strconv.Itoa(len(args)))
	}
	if f.OptionalProjectID != 0 {
		add("a.project_id", f.OptionalProjectID)
	}
	if f.OptionalItemID != "" {
		add("a.item_id", f.OptionalItemID)
	}
	if f.OptionalUserID != 0 {
		add("a.user_id", f.OptionalUserID)
	}
	return where, args
}

// ActivityObjects returns the ids of the objects that rows matching f are about, each
// once, in no particular order; f's Limit, Offset and OptionalObjects are ignored.
func (db *DB) ActivityObjects(ctx context.Context, f gatehouse.ActivityFilter) ([]int64, error) {
	where, args := activityWhere(f)
	rows, err := db.db.QueryContext(ctx, `SELECT DISTINCT a.object_id FROM activity_log a WHERE a.object_id IS NOT NULL AND `+strings.Join(where, " AND "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ActivityLog returns a page of matching rows (with User filled in when the actor still
// exists), newest first, and the total count. Limit ≤ 0 means no limit. A change's before
// and after come back as decoded JSON, numbers as json.Number. With OptionalObjects, a row
// about an object not listed is left out of the page and of the count alike.
func (db *DB) ActivityLog(ctx context.Context, f gatehouse.ActivityFilter) ([]gatehouse.Activity, int, error) {
	where, args := activityWhere(f)
	if f.OptionalObjects != nil {
		// One argument whatever the list's length: a reader may see many objects.
		ids := *f.OptionalObjects
		if db.dialect == Postgres {
			args = append(args, ids)
			where = append(where, "(a.object_id IS NULL OR a.object_id = ANY($"+strconv.Itoa(len(args))+"))")
		} else {
			list, err := json.Marshal(ids)
			if err != nil {
				return nil, 0, err
			}
			if ids == nil {
				list = []byte("[]")
			}
			args = append(args, string(list))
			where = append(where, "(a.object_id IS NULL OR a.object_id IN (SELECT value FROM json_each($"+strconv.Itoa(len(args))+")))")
		}
	}
	cond := strings.Join(where, " AND ")
	limit, offset := int64(f.Limit), int64(max(f.Offset, 0))
	if limit <= 0 {
		limit = math.MaxInt64
	}

	var (
		total int
		out   = []gatehouse.Activity{}
	)
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM activity_log a WHERE `+cond, args...).Scan(&total); err != nil {
			return err
		}
		n := len(args)
		rows, err := tx.QueryContext(ctx, `
			SELECT a.id, a.organization_id, a.project_id, a.object_id, a.scope, a.activity, a.item_id, a.user_id, a.detail, a.created_at,
				`+userColumns+`
			FROM activity_log a LEFT JOIN users u ON u.id = a.user_id
			WHERE `+cond+`
			ORDER BY a.created_at DESC, a.id DESC
			LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
			append(args, limit, offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a      gatehouse.Activity
				u      gatehouse.User
				detail string
			)
			dest := []any{&a.ID, &a.OrganizationID, orZero(&a.ProjectID), orZero(&a.ObjectID), &a.Scope, &a.Activity, &a.ItemID, orZero(&a.UserID), &detail, scanTime(&a.CreatedAt)}
			if err := rows.Scan(append(dest, userScanners(&u, true)...)...); err != nil {
				return err
			}
			if u.ID != 0 {
				a.User = &u
			}
			var d activityDetail
			dec := json.NewDecoder(bytes.NewReader([]byte(detail)))
			dec.UseNumber()
			if err := dec.Decode(&d); err != nil {
				return err
			}
			a.Changes, a.ActorName = d.Changes, d.Actor
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
