package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// The log of rule changes (table rule_changes): one row per revision of an organization's
// access facts, written in the transaction that makes the revision, holding the rules put
// and removed at it, or NULL for a change that is not a rule's. A server whose snapshot
// reflects revision A brings it to B by replaying the rows after A (access.Snapshot.Apply),
// which costs what changed, not what the organization holds.

// keptRuleChanges is how many of an organization's latest revisions the log keeps. A
// replica further behind reads the facts again, as it would without the log.
const keptRuleChanges = 1000

// maxReplay bounds how many revisions one read of the log replays: past it, reading the
// facts is as cheap.
const maxReplay = keptRuleChanges

// loggedRule is an access.Rule as the log stores it, in the words the rule table uses.
type loggedRule struct {
	Removed      bool   `json:"removed,omitempty"`
	Scope        string `json:"scope"`
	Project      int64  `json:"project,omitempty"`
	Kind         string `json:"kind,omitempty"`
	Object       int64  `json:"object,omitempty"`
	Role         string `json:"role,omitempty"`
	User         int64  `json:"user,omitempty"`
	Level        string `json:"level"`
	ProjectLevel string `json:"project_level"`
	ExpiresAt    int64  `json:"expires_at,omitempty"` // Unix nanoseconds
}

func encodeRuleChanges(changes []access.RuleChange) (string, error) {
	out := make([]loggedRule, len(changes))
	for i, c := range changes {
		r := &c.Rule
		scope, ok := scopeName(r.Scope)
		if !ok {
			return "", fmt.Errorf("sqlstore: logging a rule of unknown scope %d", r.Scope)
		}
		out[i] = loggedRule{Removed: c.Removed, Scope: scope, Project: r.Project, Object: r.Object, Role: r.Role, User: r.User,
			Level: r.Level.String(), ProjectLevel: r.ProjectLevel.String(), ExpiresAt: r.ExpiresAt}
		if r.Scope != access.ScopeProject {
			out[i].Kind = r.Kind.String()
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeRuleChanges(s string) ([]access.RuleChange, error) {
	var in []loggedRule
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("sqlstore: bad logged rule changes: %w", err)
	}
	out := make([]access.RuleChange, len(in))
	for i, l := range in {
		c := access.RuleChange{Removed: l.Removed, Rule: access.Rule{Project: l.Project, Object: l.Object, Role: l.Role, User: l.User, ExpiresAt: l.ExpiresAt}}
		if err := parseRule(&c.Rule, l.Scope, l.Kind, l.Level, l.ProjectLevel); err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// logRuleChanges records what revision rev of orgID's facts changed (rules nil: not only
// rules) and forgets the revision that falls out of the log: one row each way, by key.
func (db *DB) logRuleChanges(ctx context.Context, tx *sql.Tx, orgID string, rev int64, rules []access.RuleChange) error {
	var changes any // NULL
	if rules != nil {
		text, err := encodeRuleChanges(rules)
		if err != nil {
			return err
		}
		changes = text
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rule_changes (organization_id, revision, changes) VALUES ($1, $2, $3)`, orgID, rev, changes); err != nil {
		return err
	}
	if rev > keptRuleChanges {
		// Every bump deletes the one row that falls out, so there is never more than one.
		if _, err := tx.ExecContext(ctx, `DELETE FROM rule_changes WHERE organization_id = $1 AND revision = $2`, orgID, rev-keptRuleChanges); err != nil {
			return err
		}
	}
	return nil
}

// RuleChanges returns the rule changes that took organization orgID's rules from revision
// from to the latest revision the log holds, in order, and that revision (from itself when
// nothing changed since). ok is false when they cannot be replayed: a change that is not
// a rule's came between, the log no longer reaches back to from, or it is too far
// behind; read AccessFacts then.
func (db *DB) RuleChanges(ctx context.Context, orgID string, from int64) (changes []access.RuleChange, rev int64, ok bool, err error) {
	return db.ruleChanges(ctx, db.db, orgID, from, -1)
}

// ruleChanges is RuleChanges in q, up to revision to (-1: the latest), which q must hold
// when given: then the changes must reach it.
func (db *DB) ruleChanges(ctx context.Context, q querier, orgID string, from, to int64) (changes []access.RuleChange, rev int64, ok bool, err error) {
	for to >= 0 {
		changes, ok, known, wait := db.recent.between(orgID, from, to)
		if known {
			return changes, to, ok, nil
		}
		if wait == nil {
			break
		}
		// A revision this process made is committed (q holds it) but not yet kept.
		t := time.NewTimer(flightWait)
		select {
		case <-wait:
			t.Stop()
			continue
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, 0, false, ctx.Err()
		}
		break
	}
	query := `SELECT revision, changes FROM rule_changes WHERE organization_id = $1 AND revision > $2`
	args := []any{orgID, from}
	if to >= 0 {
		if to-from > maxReplay {
			return nil, 0, false, nil
		}
		query += ` AND revision <= $3 ORDER BY revision`
		args = append(args, to)
	} else {
		query += ` ORDER BY revision LIMIT $3`
		args = append(args, maxReplay+1)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	rev = from
	for rows.Next() {
		var (
			r    int64
			text sql.NullString
		)
		if err := rows.Scan(&r, &text); err != nil {
			return nil, 0, false, err
		}
		if r != rev+1 || !text.Valid || r-from > maxReplay {
			// A gap (pruned, or made before the log existed), or not a rule change.
			return nil, 0, false, nil
		}
		cs, err := decodeRuleChanges(text.String)
		if err != nil {
			return nil, 0, false, err
		}
		changes, rev = append(changes, cs...), r
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, err
	}
	if to >= 0 && rev != to {
		return nil, 0, false, nil
	}
	return changes, rev, true, nil
}

// recentChanges keeps, per organization, the rule changes of the latest revisions this
// process committed, as the log holds them. A write's recheck, holding its organization's
// row, needs the changes since its decision, and they are nearly always the ones the
// writers queued before it committed here a moment ago: reading them from memory saves a
// round trip while every other writer of the organization waits. A committed revision's
// changes never change, so what is kept here is what the log says.
type recentChanges struct {
	mu   sync.Mutex
	orgs map[string]*orgChanges
}

// orgChanges is a ring of the latest recentKept revisions of one organization, and the
// revisions this process's transactions have made but not yet ended with.
type orgChanges struct {
	revs     [recentKept]int64
	logs     [recentKept][]access.RuleChange // nil: not a rule's change (no replay)
	rule     [recentKept]bool
	inFlight map[int64]chan struct{} // closed when the transaction has ended
}

// flightWait bounds how long a recheck waits for a revision in flight before it reads the
// log: the committing goroutine only has to be scheduled.
const flightWait = 20 * time.Millisecond

// fly marks rev of orgID as made by a transaction of this process that has not ended; the
// returned func, called once it has ended (after remember, if it committed), lands it.
func (r *recentChanges) fly(orgID string, rev int64) (landed func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.org(orgID)
	if o.inFlight == nil {
		o.inFlight = map[int64]chan struct{}{}
	}
	done := make(chan struct{})
	o.inFlight[rev] = done
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		// Compared, not only deleted: after a rollback another transaction may make rev.
		if o.inFlight[rev] == done {
			delete(o.inFlight, rev)
		}
		close(done)
	}
}

// org returns orgID's changes, made if new; r.mu is held.
func (r *recentChanges) org(orgID string) *orgChanges {
	if r.orgs == nil || len(r.orgs) >= recentOrgs {
		r.orgs = map[string]*orgChanges{}
	}
	o := r.orgs[orgID]
	if o == nil {
		o = &orgChanges{}
		r.orgs[orgID] = o
	}
	return o
}

const (
	recentKept = 64
	recentOrgs = 1024 // organizations kept; past it, the memory starts again
)

func (r *recentChanges) remember(orgID string, rev int64, rules []access.RuleChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.org(orgID)
	i := rev % recentKept
	o.revs[i], o.logs[i], o.rule[i] = rev, slices.Clone(rules), rules != nil
}

// between returns the changes after revision from up to to, in order, when every one of
// those revisions is kept (known); ok is false when one of them is not a rule's change.
// When one is not kept but in flight, wait is closed once it has landed.
func (r *recentChanges) between(orgID string, from, to int64) (changes []access.RuleChange, ok, known bool, wait <-chan struct{}) {
	if to <= from || to-from > recentKept {
		return nil, false, false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.orgs[orgID]
	if o == nil {
		return nil, false, false, nil
	}
	ok = true
	for rev := from + 1; rev <= to; rev++ {
		i := rev % recentKept
		if o.revs[i] != rev {
			return nil, false, false, o.inFlight[rev]
		}
		ok = ok && o.rule[i]
		changes = append(changes, o.logs[i]...)
	}
	if !ok {
		return nil, false, true, nil
	}
	return changes, true, true, nil
}
