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
)

// The activity-log scopes and verbs the store writes.
const (
	scopeMembership     = "Membership"
	scopeRole           = "Role"
	scopeRoleMembership = "RoleMembership"
	scopeAccessControl  = "AccessControl"

	created = "created"
	updated = "updated"
	deleted = "deleted"
)

// change is one permission change about to be recorded.
type change struct {
	org     string
	project int64 // 0 = organization-wide
	scope   string
	verb    string
	item    string
	actor   int64
	changes []gatehouse.Change
}

type activityDetail struct {
	Changes []gatehouse.Change `json:"changes"`
}

// record writes c's activity-log row and bumps the organization's rules revision: the two
// writes every permission change makes in its own transaction.
func (db *DB) record(ctx context.Context, tx *sql.Tx, c change) error {
	if c.changes == nil {
		c.changes = []gatehouse.Change{}
	}
	detail, err := json.Marshal(activityDetail{Changes: c.changes})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO activity_log (organization_id, project_id, scope, activity, item_id, user_id, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.org, nullable(c.project), c.scope, c.verb, c.item, nullable(c.actor), string(detail), ts(db.clock()),
	); err != nil {
		return err
	}
	return db.bumpRevision(ctx, tx, c.org)
}

// bumpRevision tells every replica that the organization's access facts changed. When
// ctx's request was authorized on the organization's rules, it moves the revision only
// from the one that decision was made on (gatehouse.ErrStaleDecision otherwise), and once
// tx commits the request carries the new revision, so that its own next write is not
// taken for a stale one. One bump per transaction.
func (db *DB) bumpRevision(ctx context.Context, tx *sql.Tx, orgID string) error {
	decidedOrg, from, decided := gatehouse.DecidedRevision(ctx)
	if !decided || decidedOrg != orgID {
		if err := affected(tx.ExecContext(ctx, `UPDATE organizations SET rules_revision = rules_revision + 1 WHERE id = $1`, orgID)); err != nil {
			return err
		}
	} else {
		var rev int64
		err := tx.QueryRowContext(ctx, `
			UPDATE organizations SET rules_revision = rules_revision + 1 WHERE id = $1 AND rules_revision = $2
			RETURNING rules_revision`, orgID, from).Scan(&rev)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.ErrStaleDecision
		}
		if err != nil {
			return err
		}
		db.afterCommit(tx, func() { gatehouse.AdvanceDecidedRevision(ctx, orgID, from, rev) })
	}
	return db.notify(ctx, tx, notice{what: noticeRules, org: orgID})
}

// ActivityLog returns a page of matching rows (with User filled in when the actor still
// exists), newest first, and the total count. Limit ≤ 0 means no limit. A change's before
// and after come back as decoded JSON, numbers as json.Number.
func (db *DB) ActivityLog(ctx context.Context, f gatehouse.ActivityFilter) ([]gatehouse.Activity, int, error) {
	where := []string{"a.organization_id = $1"}
	args := []any{f.OrganizationID}
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
			SELECT a.id, a.organization_id, a.project_id, a.scope, a.activity, a.item_id, a.user_id, a.detail, a.created_at,
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
			dest := []any{&a.ID, &a.OrganizationID, orZero(&a.ProjectID), &a.Scope, &a.Activity, &a.ItemID, orZero(&a.UserID), &detail, scanTime(&a.CreatedAt)}
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
			a.Changes = d.Changes
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
