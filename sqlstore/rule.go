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

// How a rule's scope is stored.
var scopeNames = [...]string{access.ScopeProject: "project", access.ScopeKind: "kind", access.ScopeObject: "object"}

func scopeName(s access.Scope) (string, bool) {
	if int(s) >= len(scopeNames) {
		return "", false
	}
	return scopeNames[s], true
}

func parseScope(s string) (access.Scope, bool) {
	for i, n := range scopeNames {
		if n == s {
			return access.Scope(i), true
		}
	}
	return 0, false
}

// ruleRow is an access.Rule as stored: the fields its scope ignores are cleared (kind ”
// for project rules), and an object rule names its object's project and kind.
type ruleRow struct {
	scope, kind         string
	level, projectLevel string
	// For an object rule, the rule already on its object and target (expired or not),
	// read with the object: err is sql.ErrNoRows when there is none.
	existing    gatehouse.Rule
	existingErr error
}

// normalize clears the fields r's scope ignores and, for an object rule, takes project and
// kind from the object. ENotFound when the object or the project is not the organization's,
// EDoesNotExist when the target role or member is not.
func (db *DB) normalize(ctx context.Context, tx *sql.Tx, orgID string, r *access.Rule) (ruleRow, error) {
	scope, ok := scopeName(r.Scope)
	if !ok {
		return ruleRow{}, gatehouse.FieldError(gatehouse.EInvalid, "scope", "Unknown rule scope.")
	}
	row := ruleRow{scope: scope}
	memberChecked, isMember := false, false
	switch r.Scope {
	case access.ScopeProject:
		r.Kind, r.Object, r.Level = 0, 0, access.None
	case access.ScopeKind:
		r.Object, r.ProjectLevel = 0, access.ProjectNone
	case access.ScopeObject:
		r.ProjectLevel = access.ProjectNone
		var (
			kind    string
			project int64
		)
		// The target member's membership and the rule already on the object for the
		// same target are read in the same statement: a rule write holds its
		// organization's row, and every other change of the organization waits for
		// each of its round trips.
		q := tx.QueryRowContext(ctx, `
			SELECT r.project_id, r.kind, EXISTS (SELECT 1 FROM memberships WHERE organization_id = $2 AND user_id = $3),
				`+ruleColumnsOf("a")+`
			FROM resources r JOIN projects p ON p.id = r.project_id
			LEFT JOIN access_rules a ON a.organization_id = $2 AND a.scope = 'object' AND a.object_id = r.id
				AND a.project_id = r.project_id AND a.kind = r.kind
				AND COALESCE(a.role_id, '') = $4 AND COALESCE(a.user_id, 0) = $3
			WHERE r.id = $1 AND p.organization_id = $2`, r.Object, orgID, r.User, r.Role)
		switch err := scanRule(scanAfter(q, &project, &kind, &isMember), &row.existing); {
		case errors.Is(err, sql.ErrNoRows): // no such object
			return row, notFound(err)
		case errors.Is(err, errNoRule):
			row.existingErr = sql.ErrNoRows
		case err != nil:
			return row, err
		}
		r.Project = project
		memberChecked = true
		k, ok := access.KindFromPath(kind)
		if !ok {
			return row, fmt.Errorf("sqlstore: resource %d has unknown kind %q", r.Object, kind)
		}
		r.Kind = k
	}
	if r.Scope != access.ScopeProject {
		if r.Kind >= access.NumKinds {
			return row, gatehouse.FieldError(gatehouse.EInvalid, "resource", "Unknown resource kind.")
		}
		row.kind = r.Kind.String()
	}
	if !r.Level.Valid() {
		return row, gatehouse.FieldError(gatehouse.EInvalid, "access_level", "Unknown access level.")
	}
	if !r.ProjectLevel.Valid() {
		return row, gatehouse.FieldError(gatehouse.EInvalid, "access_level", "Unknown access level.")
	}
	row.level, row.projectLevel = r.Level.String(), r.ProjectLevel.String()
	// Stored to the microsecond, like every timestamp: the rule handed back must be the
	// rule that is read later.
	r.ExpiresAt = r.ExpiresAt / 1e3 * 1e3
	if r.ExpiresAt < 0 {
		return row, gatehouse.FieldError(gatehouse.EInvalid, "expires_at", "Expiry must be a valid instant.")
	}

	if r.Role != "" && r.User != 0 {
		return row, gatehouse.Errorf(gatehouse.EInvalidInput, "A rule targets a role or a member, not both.")
	}
	check := func(query string, arg any, fail *gatehouse.Error) error {
		var one int
		if err := tx.QueryRowContext(ctx, query, orgID, arg).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fail
			}
			return err
		}
		return nil
	}
	// A project rule needs its project; a kind rule's is optional (0 = organization-wide).
	if r.Scope == access.ScopeProject || (r.Scope == access.ScopeKind && r.Project != 0) {
		if err := check(`SELECT 1 FROM projects WHERE organization_id = $1 AND id = $2`, r.Project, gatehouse.NotFound()); err != nil {
			return row, err
		}
	}
	if r.Role != "" {
		if err := check(`SELECT 1 FROM roles WHERE organization_id = $1 AND id = $2`, r.Role,
			gatehouse.FieldError(gatehouse.EDoesNotExist, "role", "Role does not exist.")); err != nil {
			return row, err
		}
	}
	if r.User != 0 && memberChecked && !isMember {
		return row, gatehouse.FieldError(gatehouse.EDoesNotExist, "organization_member", "User is not a member of the organization.")
	}
	if r.User != 0 && !memberChecked {
		if err := check(`SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2`, r.User,
			gatehouse.FieldError(gatehouse.EDoesNotExist, "organization_member", "User is not a member of the organization.")); err != nil {
			return row, err
		}
	}
	return row, nil
}

// ruleChanges describes r for the activity log, as after (or, with gone, as before).
func ruleChanges(r *access.Rule, gone bool) []gatehouse.Change {
	var out []gatehouse.Change
	add := func(field string, v any) {
		if gone {
			out = append(out, gatehouse.Change{Field: field, Before: v})
		} else {
			out = append(out, gatehouse.Change{Field: field, After: v})
		}
	}
	add("scope", scopeNames[r.Scope])
	if r.Project != 0 {
		add("project", r.Project)
	}
	if r.Scope != access.ScopeProject {
		add("kind", r.Kind.String())
	}
	if r.Scope == access.ScopeObject {
		add("object", r.Object)
	}
	if r.Role != "" {
		add("role", r.Role)
	}
	if r.User != 0 {
		add("user", r.User)
	}
	if r.Scope == access.ScopeProject {
		add("project_level", r.ProjectLevel.String())
	} else {
		add("level", r.Level.String())
	}
	if r.ExpiresAt != 0 {
		add("expires_at", expiryText(r.ExpiresAt))
	}
	return out
}

// expiryText is an expiry as the activity log and the API show it (RFC 3339, UTC); nil
// for a permanent rule.
func expiryText(n int64) any {
	if n == 0 {
		return nil
	}
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

const ruleColumns = `id, organization_id, scope, project_id, kind, object_id, role_id, user_id, level, project_level, created_by, created_at, updated_at, expires_at`

// ruleColumnsOf is ruleColumns of the table named t in a query.
func ruleColumnsOf(t string) string {
	return t + "." + strings.ReplaceAll(ruleColumns, ", ", ", "+t+".")
}

// errNoRule is scanRule's answer for a row whose rule columns are all NULL: an outer
// join that found no rule.
var errNoRule = errors.New("sqlstore: no rule in the row")

func scanRule(s scanner, r *gatehouse.Rule) error {
	var scope, kind, level, projectLevel string
	err := s.Scan(orZero(&r.ID), orZero(&r.OrganizationID), orZero(&scope), orZero(&r.Project), orZero(&kind), orZero(&r.Object), orZero(&r.Role), orZero(&r.User),
		orZero(&level), orZero(&projectLevel), orZero(&r.CreatedBy), scanTime(&r.CreatedAt), scanTime(&r.UpdatedAt), scanExpiry(&r.ExpiresAt))
	if err != nil {
		return err
	}
	if r.ID == "" {
		return errNoRule
	}
	return parseRule(&r.Rule, scope, kind, level, projectLevel)
}

// scanAfter is s with first scanned before the columns its caller scans.
func scanAfter(s scanner, first ...any) scanner {
	return scanRow(func(dest ...any) error { return s.Scan(append(first, dest...)...) })
}

// scanRow is a scanner made of a function.
type scanRow func(dest ...any) error

func (f scanRow) Scan(dest ...any) error { return f(dest...) }

func parseRule(r *access.Rule, scope, kind, level, projectLevel string) error {
	var ok [4]bool
	r.Scope, ok[0] = parseScope(scope)
	r.Kind, ok[1] = access.KindFromPath(kind)
	ok[1] = ok[1] || kind == ""
	r.Level, ok[2] = access.ParseLevel(level)
	r.ProjectLevel, ok[3] = access.ParseProjectLevel(projectLevel)
	if ok != [4]bool{true, true, true, true} {
		return fmt.Errorf("sqlstore: bad stored rule (%q, %q, %q, %q)", scope, kind, level, projectLevel)
	}
	return nil
}

// insertRule inserts r in tx and records it.
func (db *DB) insertRule(ctx context.Context, tx *sql.Tx, r *gatehouse.Rule, row ruleRow, actor int64) error {
	r.ID = newID()
	if r.CreatedBy == 0 {
		r.CreatedBy = actor
	}
	r.CreatedAt = db.clock()
	r.UpdatedAt = r.CreatedAt
	_, err := tx.ExecContext(ctx, `INSERT INTO access_rules (`+ruleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.OrganizationID, row.scope, nullable(r.Project), row.kind, nullable(r.Object), nullable(r.Role), nullable(r.User),
		row.level, row.projectLevel, nullable(r.CreatedBy), ts(r.CreatedAt), ts(r.UpdatedAt), expiry(r.ExpiresAt))
	if err != nil {
		return missingParent(unique(err, "resource", detailRuleExists), gatehouse.NotFound())
	}
	return db.record(ctx, tx, change{org: r.OrganizationID, project: r.Project, object: r.Object, scope: scopeAccessControl, verb: created,
		item: r.ID, actor: actor, changes: ruleChanges(&r.Rule, false), rules: []access.RuleChange{{Rule: r.Rule}}})
}

// CreateRule inserts r (setting ID, CreatedBy when 0, CreatedAt, UpdatedAt; the fields its
// scope ignores are cleared, and an object rule takes its object's project and kind).
// EUnique attr "resource" when a rule with the same scope, project, kind, object and target
// exists; ENotFound when the organization, project or object is unknown; EDoesNotExist attr
// "role" or "organization_member" when the target is not the organization's. Activity
// "AccessControl" "created" (project: the rule's) with the rule's fields as after.
func (db *DB) CreateRule(ctx context.Context, r *gatehouse.Rule, actor int64) error {
	stored := *r
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, r.OrganizationID); err != nil {
			return err
		}
		row, err := db.normalize(ctx, tx, r.OrganizationID, &stored.Rule)
		if err != nil {
			return err
		}
		// An expired rule the sweep has not reached yet grants nothing and is
		// listed nowhere: it must not hold the target against a new rule.
		if err := db.sweepTarget(ctx, tx, r.OrganizationID, row, &stored.Rule); err != nil {
			return err
		}
		return db.insertRule(ctx, tx, &stored, row, actor)
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

// PutRule inserts r as CreateRule does or, when a rule with the same scope, project, kind,
// object and target exists (expired or not), changes that rule's level and expiry
// (activity "AccessControl" "updated" with the before and after of what changed; nothing
// is written when neither did).
// r is filled in with the stored rule either way.
func (db *DB) PutRule(ctx context.Context, r *gatehouse.Rule, actor int64) error {
	stored := *r
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, r.OrganizationID); err != nil {
			return err
		}
		return db.putRule(ctx, tx, &stored, actor)
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

// putRule is PutRule in tx, which holds the organization's row; r is filled in with the
// stored rule.
func (db *DB) putRule(ctx context.Context, tx *sql.Tx, r *gatehouse.Rule, actor int64) error {
	stored := *r
	row, err := db.normalize(ctx, tx, r.OrganizationID, &stored.Rule)
	if err != nil {
		return err
	}
	existing := row.existing
	if stored.Scope == access.ScopeObject { // read with the object
		err = row.existingErr
	} else {
		err = scanRule(tx.QueryRowContext(ctx, `
			SELECT `+ruleColumns+` FROM access_rules
			WHERE organization_id = $1 AND scope = $2 AND COALESCE(project_id, 0) = $3 AND kind = $4
				AND COALESCE(object_id, 0) = $5 AND COALESCE(role_id, '') = $6 AND COALESCE(user_id, 0) = $7`,
			r.OrganizationID, row.scope, stored.Project, row.kind, stored.Object, stored.Role, stored.User), &existing)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if err := db.insertRule(ctx, tx, &stored, row, actor); err != nil {
			return err
		}
		*r = stored
		return nil
	}
	if err != nil {
		return err
	}
	var cs []gatehouse.Change
	switch {
	case stored.Scope == access.ScopeProject && existing.ProjectLevel != stored.ProjectLevel:
		cs = append(cs, gatehouse.Change{Field: "project_level", Before: existing.ProjectLevel.String(), After: stored.ProjectLevel.String()})
	case stored.Scope != access.ScopeProject && existing.Level != stored.Level:
		cs = append(cs, gatehouse.Change{Field: "level", Before: existing.Level.String(), After: stored.Level.String()})
	}
	// A put states the whole rule: without an expiry it makes the rule permanent.
	if existing.ExpiresAt != stored.ExpiresAt {
		cs = append(cs, gatehouse.Change{Field: "expires_at", Before: expiryText(existing.ExpiresAt), After: expiryText(stored.ExpiresAt)})
	}
	if len(cs) == 0 {
		*r = existing
		return nil
	}
	was := existing.Rule
	existing.Level, existing.ProjectLevel, existing.ExpiresAt, existing.UpdatedAt = stored.Level, stored.ProjectLevel, stored.ExpiresAt, db.clock()
	if _, err := tx.ExecContext(ctx, `UPDATE access_rules SET level = $1, project_level = $2, expires_at = $3, updated_at = $4 WHERE id = $5`,
		row.level, row.projectLevel, expiry(existing.ExpiresAt), ts(existing.UpdatedAt), existing.ID); err != nil {
		return err
	}
	*r = existing
	return db.record(ctx, tx, change{org: r.OrganizationID, project: existing.Project, object: existing.Object, scope: scopeAccessControl, verb: updated,
		item: existing.ID, actor: actor, changes: cs, rules: []access.RuleChange{{Rule: was, Removed: true}, {Rule: existing.Rule}}})
}

// Rule returns the organization's rule with this id; an expired rule is not found.
func (db *DB) Rule(ctx context.Context, orgID, id string) (*gatehouse.Rule, error) {
	return db.rule(ctx, db.db, orgID, id)
}

func (db *DB) rule(ctx context.Context, q querier, orgID, id string) (*gatehouse.Rule, error) {
	var r gatehouse.Rule
	err := scanRule(q.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM access_rules WHERE organization_id = $1 AND id = $2
		AND (expires_at IS NULL OR expires_at > $3)`, orgID, id, ts(db.clock())), &r)
	if err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// Rules lists the organization's rules that match f, oldest first, leaving out those expired
// by the store's clock (the sweep deletes them later). OptionalProject 0 selects
// organization-wide rules.
func (db *DB) Rules(ctx context.Context, f gatehouse.RuleFilter) ([]gatehouse.Rule, error) {
	where := []string{"organization_id = $1", "(expires_at IS NULL OR expires_at > $2)"}
	args := []any{f.OrganizationID, ts(db.clock())}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" = $"+strconv.Itoa(len(args)))
	}
	if f.OptionalScope != nil {
		s, ok := scopeName(*f.OptionalScope)
		if !ok {
			return []gatehouse.Rule{}, nil
		}
		add("scope", s)
	}
	if f.OptionalProject != nil {
		add("COALESCE(project_id, 0)", *f.OptionalProject)
	}
	if f.OptionalKind != nil {
		add("kind", f.OptionalKind.String())
	}
	if f.OptionalObject != nil {
		add("COALESCE(object_id, 0)", *f.OptionalObject)
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+ruleColumns+` FROM access_rules WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.Rule{}
	for rows.Next() {
		var r gatehouse.Rule
		if err := scanRule(rows, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRule removes the organization's rule. Activity "AccessControl" "deleted" with the
// rule's fields as before.
func (db *DB) DeleteRule(ctx context.Context, orgID, id string, actor int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockOrganization(ctx, tx, orgID); err != nil {
			return err
		}
		// Read as it goes, in one round trip under the organization's row; an expired
		// rule is not found, as Rule has it (the sweep records its expiry).
		var r gatehouse.Rule
		err := scanRule(tx.QueryRowContext(ctx, `DELETE FROM access_rules WHERE organization_id = $1 AND id = $2
			AND (expires_at IS NULL OR expires_at > $3) RETURNING `+ruleColumns, orgID, id, ts(db.clock())), &r)
		if err != nil {
			return notFound(err)
		}
		return db.record(ctx, tx, change{org: orgID, project: r.Project, object: r.Object, scope: scopeAccessControl, verb: deleted,
			item: id, actor: actor, changes: ruleChanges(&r.Rule, true), rules: []access.RuleChange{{Rule: r.Rule, Removed: true}}})
	})
}

// sweepTarget deletes, in tx, the expired rule on r's target if there is one, recording
// its expiry as ExpireRules does.
func (db *DB) sweepTarget(ctx context.Context, tx *sql.Tx, orgID string, row ruleRow, r *access.Rule) error {
	var gone gatehouse.Rule
	err := scanRule(tx.QueryRowContext(ctx, `
		DELETE FROM access_rules
		WHERE organization_id = $1 AND scope = $2 AND COALESCE(project_id, 0) = $3 AND kind = $4
			AND COALESCE(object_id, 0) = $5 AND COALESCE(role_id, '') = $6 AND COALESCE(user_id, 0) = $7 AND expires_at <= $8
		RETURNING `+ruleColumns,
		orgID, row.scope, r.Project, row.kind, r.Object, r.Role, r.User, ts(db.clock())), &gone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return db.record(ctx, tx, change{org: orgID, project: gone.Project, object: gone.Object, scope: scopeAccessControl, verb: expired,
		item: gone.ID, changes: ruleChanges(&gone.Rule, true), rules: []access.RuleChange{{Rule: gone.Rule, Removed: true}}})
}

// ExpireRules deletes up to limit rules whose expiry has passed by the store's clock,
// each in a transaction of its own that records activity "AccessControl" "expired" (no
// actor) with the rule's fields as before, and returns how many it deleted. Every
// replica may sweep at once: only the one whose DELETE removes a row records it.
// Deleting changes no decision (an expired rule grants nothing already); it keeps the
// table and the lists small.
func (db *DB) ExpireRules(ctx context.Context, limit int) (int, error) {
	type due struct{ org, id string }
	rules, err := collect(ctx, db.db, func(s scanner, d *due) error { return s.Scan(&d.org, &d.id) },
		`SELECT organization_id, id FROM access_rules WHERE expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, ts(db.clock()), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range rules {
		err := db.tx(ctx, func(tx *sql.Tx) error {
			if err := db.lockOrganization(ctx, tx, d.org); err != nil {
				return err
			}
			var r gatehouse.Rule
			err := scanRule(tx.QueryRowContext(ctx, `DELETE FROM access_rules WHERE id = $1 AND expires_at <= $2 RETURNING `+ruleColumns,
				d.id, ts(db.clock())), &r)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // another replica swept it, or it was changed meanwhile
			}
			if err != nil {
				return err
			}
			n++
			return db.record(ctx, tx, change{org: d.org, project: r.Project, object: r.Object, scope: scopeAccessControl, verb: expired,
				item: r.ID, changes: ruleChanges(&r.Rule, true), rules: []access.RuleChange{{Rule: r.Rule, Removed: true}}})
		})
		if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			return n, err
		}
	}
	return n, nil
}

// AccessFacts loads the organization's members, roles (with levels and members) and rules,
// and the rules revision they reflect, in one read-only transaction that sees one snapshot.
// Enforced and Now are left zero, and expired rules are kept: the caller compiles for its
// own instant. Lists are oldest first.
func (db *DB) AccessFacts(ctx context.Context, orgID string) (access.Facts, int64, error) {
	var (
		f   access.Facts
		rev int64
	)
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		f, rev, err = db.accessFacts(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return access.Facts{}, 0, err
	}
	return f, rev, nil
}

// accessFacts is AccessFacts in q, which must see one snapshot throughout.
func (db *DB) accessFacts(ctx context.Context, q querier, orgID string) (access.Facts, int64, error) {
	var (
		f   access.Facts
		rev int64
	)
	err := func(tx querier) error {
		if err := tx.QueryRowContext(ctx, `SELECT rules_revision FROM organizations WHERE id = $1`, orgID).Scan(&rev); err != nil {
			return notFound(err)
		}
		var err error
		if f.Members, err = collect(ctx, tx, func(s scanner, m *access.Member) error { return s.Scan(&m.User, &m.Level) },
			`SELECT user_id, level FROM memberships WHERE organization_id = $1 ORDER BY joined_at, id`, orgID); err != nil {
			return err
		}
		if f.Roles, err = collect(ctx, tx, func(s scanner, r *access.Role) error {
			var levels string
			if err := s.Scan(&r.ID, &r.Name, &levels); err != nil {
				return err
			}
			r.Levels, err = decodeLevels(levels)
			return err
		}, `SELECT id, name, levels FROM roles WHERE organization_id = $1 ORDER BY created_at, id`, orgID); err != nil {
			return err
		}
		type roleMember struct {
			role string
			user int64
		}
		rms, err := collect(ctx, tx, func(s scanner, m *roleMember) error { return s.Scan(&m.role, &m.user) },
			`SELECT role_id, user_id FROM role_memberships WHERE organization_id = $1 ORDER BY joined_at, id`, orgID)
		if err != nil {
			return err
		}
		index := make(map[string]int, len(f.Roles))
		for i, r := range f.Roles {
			index[r.ID] = i
		}
		for _, m := range rms {
			if i, ok := index[m.role]; ok {
				f.Roles[i].Members = append(f.Roles[i].Members, m.user)
			}
		}
		f.Rules, err = collect(ctx, tx, func(s scanner, r *access.Rule) error {
			var scope, kind, level, projectLevel string
			if err := s.Scan(&scope, orZero(&r.Project), &kind, orZero(&r.Object), orZero(&r.Role), orZero(&r.User), &level, &projectLevel, scanExpiry(&r.ExpiresAt)); err != nil {
				return err
			}
			return parseRule(r, scope, kind, level, projectLevel)
		}, `SELECT scope, project_id, kind, object_id, role_id, user_id, level, project_level, expires_at
			FROM access_rules WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
		return err
	}(q)
	if err != nil {
		return access.Facts{}, 0, err
	}
	return f, rev, nil
}

type scanner interface{ Scan(...any) error }

// collect runs query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(scanner, *T) error, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
