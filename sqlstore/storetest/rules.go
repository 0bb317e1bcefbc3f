package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

func ptr[T any](v T) *T { return &v }

// ruleIDs returns the ids of rules, for readable diffs.
func ruleIDs(rules []gatehouse.Rule) []string {
	out := []string{}
	for _, r := range rules {
		out = append(out, r.ID)
	}
	return out
}

func testRules(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	other, _ := e.org("Other", bob)
	e.join(org.ID, bob, access.MemberLevel)
	role := e.role(org.ID, "Product", alice.ID)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)

	orgDefault := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}}
	if err := s.CreateRule(ctx, orgDefault, alice.ID); err != nil {
		t.Fatalf("CreateRule(organization default) = %v", err)
	}
	if orgDefault.ID == "" || orgDefault.CreatedBy != alice.ID || orgDefault.CreatedAt.IsZero() || !orgDefault.UpdatedAt.Equal(orgDefault.CreatedAt) {
		t.Errorf("CreateRule set %+v, want ID, CreatedBy, CreatedAt = UpdatedAt", orgDefault)
	}
	got, err := s.Rule(ctx, org.ID, orgDefault.ID)
	if err != nil {
		t.Fatalf("Rule() = %v", err)
	}
	if diff := cmp.Diff(orgDefault, got); diff != "" {
		t.Errorf("Rule() mismatch (-want +got):\n%s", diff)
	}
	_, err = s.Rule(ctx, other.ID, orgDefault.ID)
	wantNotFound(t, "Rule(of another organization)", err)

	// One rule per scope, project, kind, object and target, whatever its level.
	for _, l := range []access.Level{access.Viewer, access.Editor} {
		dup := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: l}}
		wantDetail(t, "CreateRule(same target, "+l.String()+")", s.CreateRule(ctx, dup, alice.ID),
			gatehouse.EUnique, "resource", "This resource access already exists.")
	}
	inProject := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Project: p.ID, Kind: access.FeatureFlags, Level: access.Viewer}, alice.ID)
	forRole := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Role: role.ID, Level: access.Editor}, alice.ID)
	forBob := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, User: bob.ID, Level: access.Editor}, alice.ID)
	cohorts := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Viewer}, alice.ID)

	// The fields a scope ignores are cleared; an object rule takes its object's project and kind.
	onFlag := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.Cohorts, Object: flag.ID, Role: role.ID,
		Level: access.Editor, ProjectLevel: access.ProjectAdmin}, alice.ID)
	wantRule := access.Rule{Scope: access.ScopeObject, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, Role: role.ID, Level: access.Editor}
	if onFlag.Rule != wantRule {
		t.Errorf("CreateRule(object rule) stored %+v, want %+v", onFlag.Rule, wantRule)
	}
	onProject := e.rule(org.ID, access.Rule{Scope: access.ScopeProject, Project: p.ID, Kind: access.Insights, Object: flag.ID, User: bob.ID,
		Level: access.Manager, ProjectLevel: access.ProjectAdmin}, alice.ID)
	wantRule = access.Rule{Scope: access.ScopeProject, Project: p.ID, User: bob.ID, ProjectLevel: access.ProjectAdmin}
	if onProject.Rule != wantRule {
		t.Errorf("CreateRule(project rule) stored %+v, want %+v", onProject.Rule, wantRule)
	}
	for _, r := range []*gatehouse.Rule{onFlag, onProject} {
		if got, err := s.Rule(ctx, org.ID, r.ID); err != nil || got.Rule != r.Rule {
			t.Errorf("Rule(%v) = %+v, %v, want %+v", r.Scope, got, err, r.Rule)
		}
	}

	// PutRule changes the level of the rule with the same target, or inserts one.
	put := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Editor}}
	if err := s.PutRule(ctx, put, bob.ID); err != nil {
		t.Fatalf("PutRule(existing target) = %v", err)
	}
	want := *orgDefault
	want.Level = access.Editor
	if diff := cmp.Diff(want, *put, cmpopts.IgnoreFields(gatehouse.Rule{}, "UpdatedAt")); diff != "" {
		t.Errorf("PutRule(existing target) mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.Rule(ctx, org.ID, orgDefault.ID); err != nil || got.Level != access.Editor || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("Rule after PutRule = %+v, %v, want level editor", got, err)
	}
	orgDefault.Level = access.Editor
	same := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Editor}}
	if err := s.PutRule(ctx, same, bob.ID); err != nil || same.ID != orgDefault.ID || same.CreatedBy != alice.ID {
		t.Errorf("PutRule(same level) = %v, rule %+v, want the stored rule %s", err, same, orgDefault.ID)
	}
	fresh := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.Dashboards, Role: role.ID, Level: access.Viewer}}
	if err := s.PutRule(ctx, fresh, bob.ID); err != nil {
		t.Fatalf("PutRule(new target) = %v", err)
	}
	if fresh.ID == "" || fresh.CreatedBy != bob.ID || fresh.Level != access.Viewer {
		t.Errorf("PutRule(new target) = %+v, want a new rule by bob", fresh)
	}
	putProject := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeProject, Project: p.ID, User: bob.ID, ProjectLevel: access.ProjectMember}}
	if err := s.PutRule(ctx, putProject, alice.ID); err != nil || putProject.ID != onProject.ID || putProject.ProjectLevel != access.ProjectMember {
		t.Errorf("PutRule(project rule) = %v, %+v, want %s at member", err, putProject, onProject.ID)
	}
	onProject.ProjectLevel = access.ProjectMember

	filterTests := []struct {
		name string
		f    gatehouse.RuleFilter
		want []*gatehouse.Rule
	}{
		{"all", gatehouse.RuleFilter{}, []*gatehouse.Rule{orgDefault, inProject, forRole, forBob, cohorts, onFlag, onProject, fresh}},
		{"kind scope", gatehouse.RuleFilter{OptionalScope: ptr(access.ScopeKind)}, []*gatehouse.Rule{orgDefault, inProject, forRole, forBob, cohorts, fresh}},
		{"object scope", gatehouse.RuleFilter{OptionalScope: ptr(access.ScopeObject)}, []*gatehouse.Rule{onFlag}},
		{"organization-wide", gatehouse.RuleFilter{OptionalProject: ptr(int64(0))}, []*gatehouse.Rule{orgDefault, forRole, forBob, cohorts, fresh}},
		{"project", gatehouse.RuleFilter{OptionalProject: ptr(p.ID)}, []*gatehouse.Rule{inProject, onFlag, onProject}},
		{"kind rules of the project", gatehouse.RuleFilter{OptionalScope: ptr(access.ScopeKind), OptionalProject: ptr(p.ID)}, []*gatehouse.Rule{inProject}},
		{"cohorts", gatehouse.RuleFilter{OptionalKind: ptr(access.Cohorts)}, []*gatehouse.Rule{cohorts}},
		{"rules on the flag", gatehouse.RuleFilter{OptionalScope: ptr(access.ScopeObject), OptionalKind: ptr(access.FeatureFlags), OptionalObject: ptr(flag.ID)}, []*gatehouse.Rule{onFlag}},
		{"no object", gatehouse.RuleFilter{OptionalObject: ptr(int64(0)), OptionalKind: ptr(access.Dashboards)}, []*gatehouse.Rule{fresh}},
	}
	for _, tt := range filterTests {
		tt.f.OrganizationID = org.ID
		got, err := s.Rules(ctx, tt.f)
		if err != nil {
			t.Errorf("Rules(%s) = %v", tt.name, err)
			continue
		}
		var want []gatehouse.Rule
		for _, r := range tt.want {
			want = append(want, *r)
		}
		if diff := cmp.Diff(ruleIDs(want), ruleIDs(got)); diff != "" {
			t.Errorf("Rules(%s) mismatch (-want +got):\n%s", tt.name, diff)
		} else if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(gatehouse.Rule{}, "UpdatedAt")); diff != "" {
			t.Errorf("Rules(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if got, err := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: other.ID}); err != nil || len(got) != 0 {
		t.Errorf("Rules(other organization) = %v, %v, want none", got, err)
	}

	wantNotFound(t, "DeleteRule(in another organization)", s.DeleteRule(ctx, other.ID, forBob.ID, bob.ID))
	if err := s.DeleteRule(ctx, org.ID, forBob.ID, alice.ID); err != nil {
		t.Fatalf("DeleteRule() = %v", err)
	}
	_, err = s.Rule(ctx, org.ID, forBob.ID)
	wantNotFound(t, "Rule(deleted)", err)
	wantNotFound(t, "DeleteRule(deleted)", s.DeleteRule(ctx, org.ID, forBob.ID, alice.ID))
	// The target is free again.
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, User: bob.ID, Level: access.Viewer}, alice.ID)
}

// testRuleTargets checks that a rule cannot reach outside its organization, and that a
// refused rule changes nothing.
func testRuleTargets(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, _ := e.org("Acme", alice)
	other, op := e.org("Other", bob)
	e.join(org.ID, carol, access.MemberLevel)
	role := e.role(org.ID, "Product", alice.ID)
	foreignRole := e.role(other.ID, "Foreign", bob.ID)
	foreignFlag := e.resource(op.ID, access.FeatureFlags, "f", bob.ID)
	flag := e.resource(e.firstProject(org.ID), access.FeatureFlags, "mine", alice.ID)
	dave := e.user("dave@example.com")
	e.join(other.ID, dave, access.MemberLevel) // a member of the other organization only

	// Every rule below names something of another organization (or nothing): the store
	// must refuse it inside its own transaction, whatever the caller checked, and write
	// nothing in either organization.
	tests := []struct {
		name string
		org  string
		rule access.Rule
		code string
		attr string
	}{
		{"role of another organization", org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Role: foreignRole.ID, Level: access.Viewer}, gatehouse.EDoesNotExist, "role"},
		{"unknown role", org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Role: "nope", Level: access.Viewer}, gatehouse.EDoesNotExist, "role"},
		{"non-member", org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, User: bob.ID, Level: access.Viewer}, gatehouse.EDoesNotExist, "organization_member"},
		{"object of another organization", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: foreignFlag.ID, Level: access.Viewer}, gatehouse.ENotFound, ""},
		{"object of another organization, for a member", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: foreignFlag.ID, User: carol.ID, Level: access.Manager}, gatehouse.ENotFound, ""},
		{"object of another organization, for its own member", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: foreignFlag.ID, User: dave.ID, Level: access.Manager}, gatehouse.ENotFound, ""},
		{"own object, role of another organization", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: flag.ID, Role: foreignRole.ID, Level: access.Manager}, gatehouse.EDoesNotExist, "role"},
		{"own object, member of another organization", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: flag.ID, User: dave.ID, Level: access.Manager}, gatehouse.EDoesNotExist, "organization_member"},
		{"unknown object", org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: foreignFlag.ID + 1000, Level: access.Viewer}, gatehouse.ENotFound, ""},
		{"project of another organization", org.ID, access.Rule{Scope: access.ScopeProject, Project: op.ID, ProjectLevel: access.ProjectNone}, gatehouse.ENotFound, ""},
		{"project rule without a project", org.ID, access.Rule{Scope: access.ScopeProject, ProjectLevel: access.ProjectAdmin}, gatehouse.ENotFound, ""},
		{"unknown organization", "nope", access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Viewer}, gatehouse.ENotFound, ""},
		{"role and member", org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Role: role.ID, User: carol.ID, Level: access.Viewer}, gatehouse.EInvalidInput, ""},
	}
	rev, log := e.revision(org.ID), len(e.activity(org.ID))
	otherRev, otherLog := e.revision(other.ID), len(e.activity(other.ID))
	for _, tt := range tests {
		for _, put := range []bool{false, true} {
			r := &gatehouse.Rule{OrganizationID: tt.org, Rule: tt.rule}
			call, err := "CreateRule("+tt.name+")", s.CreateRule(ctx, r, alice.ID)
			if put {
				call, err = "PutRule("+tt.name+")", s.PutRule(ctx, r, alice.ID)
			}
			wantError(t, call, err, tt.code, tt.attr)
		}
	}
	if got := e.revision(org.ID); got != rev {
		t.Errorf("RulesRevision after refused rules = %d, want %d", got, rev)
	}
	if got := len(e.activity(org.ID)); got != log {
		t.Errorf("activity rows after refused rules = %d, want %d", got, log)
	}
	if rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID}); len(rules) != 0 {
		t.Errorf("Rules() after refused rules = %+v, want none", rules)
	}
	if got := e.revision(other.ID); got != otherRev {
		t.Errorf("other organization's RulesRevision after refused rules = %d, want %d", got, otherRev)
	}
	if got := len(e.activity(other.ID)); got != otherLog {
		t.Errorf("other organization's activity rows after refused rules = %d, want %d", got, otherLog)
	}
	if rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: other.ID}); len(rules) != 0 {
		t.Errorf("other organization's Rules() after refused rules = %+v, want none", rules)
	}
}

// testCascades checks what goes with a membership and with a role.
func testCascades(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p := e.org("Acme", alice)
	other, op := e.org("Other", carol)
	e.join(org.ID, bob, access.MemberLevel)
	e.join(other.ID, bob, access.MemberLevel)
	role := e.role(org.ID, "Product", alice.ID)
	otherRole := e.role(other.ID, "Product", carol.ID)
	e.roleMember(org.ID, role.ID, bob, alice.ID)
	inOther := e.roleMember(other.ID, otherRole.ID, bob, carol.ID)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)

	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, User: bob.ID, Level: access.Viewer}, alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: flag.ID, User: bob.ID, Level: access.Manager}, alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeProject, Project: p.ID, User: bob.ID, ProjectLevel: access.ProjectAdmin}, alice.ID)
	roleRule := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: flag.ID, Role: role.ID, Level: access.Editor}, alice.ID)
	everyone := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Editor}, alice.ID)
	otherRule := e.rule(other.ID, access.Rule{Scope: access.ScopeProject, Project: op.ID, User: bob.ID, ProjectLevel: access.ProjectAdmin}, carol.ID)

	if err := s.RemoveMember(ctx, org.ID, bob.ID, alice.ID); err != nil {
		t.Fatalf("RemoveMember(bob) = %v", err)
	}
	if got, _ := s.RoleMembers(ctx, role.ID); len(got) != 0 {
		t.Errorf("RoleMembers(role) after RemoveMember = %+v, want none", got)
	}
	if got, _ := s.RoleMembers(ctx, otherRole.ID); len(got) != 1 || got[0].ID != inOther.ID {
		t.Errorf("RoleMembers(other organization's role) after RemoveMember = %+v, want bob kept", got)
	}
	rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
	if diff := cmp.Diff([]string{roleRule.ID, everyone.ID}, ruleIDs(rules)); diff != "" {
		t.Errorf("Rules() after RemoveMember mismatch (-want +got):\n%s", diff)
	}
	rules, _ = s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: other.ID})
	if diff := cmp.Diff([]string{otherRule.ID}, ruleIDs(rules)); diff != "" {
		t.Errorf("Rules(other organization) after RemoveMember mismatch (-want +got):\n%s", diff)
	}

	// Joining again starts from nothing.
	e.join(org.ID, bob, access.MemberLevel)
	m := e.roleMember(org.ID, role.ID, bob, alice.ID)
	if err := s.DeleteRole(ctx, org.ID, role.ID, alice.ID); err != nil {
		t.Fatalf("DeleteRole() = %v", err)
	}
	_, err := s.RoleMember(ctx, role.ID, m.ID)
	wantNotFound(t, "RoleMember(of deleted role)", err)
	rules, _ = s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
	if diff := cmp.Diff([]string{everyone.ID}, ruleIDs(rules)); diff != "" {
		t.Errorf("Rules() after DeleteRole mismatch (-want +got):\n%s", diff)
	}
}

// testRuleChangeLog: every rule change is logged at the revision it made, in order, and
// replays from any revision the log still reaches; a change that is not a rule's breaks
// the replay across it; the log keeps the latest revisions only (1,000), dropping one row
// per change past that, so that a replica further behind reads the facts.
func testRuleChangeLog(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)
	start := e.revision(org.ID)

	put := func(l access.Level) access.Rule {
		t.Helper()
		r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flag.ID, User: bob.ID, Level: l}}
		if err := s.PutRule(ctx, r, alice.ID); err != nil {
			t.Fatalf("PutRule(%v) = %v", l, err)
		}
		return r.Rule
	}
	viewer := put(access.Viewer)
	editor := put(access.Editor)
	changes, rev, ok, err := s.RuleChanges(ctx, org.ID, start)
	want := []access.RuleChange{{Rule: viewer}, {Rule: viewer, Removed: true}, {Rule: editor}}
	if err != nil || !ok || rev != start+2 || !slices.Equal(changes, want) {
		t.Fatalf("RuleChanges(from %d) = %+v, %d, %v, %v; want %+v, %d, true", start, changes, rev, ok, err, want, start+2)
	}
	if changes, rev, ok, err := s.RuleChanges(ctx, org.ID, start+2); err != nil || !ok || rev != start+2 || len(changes) != 0 {
		t.Fatalf("RuleChanges(from the latest) = %+v, %d, %v, %v; want nothing, %d, true", changes, rev, ok, err, start+2)
	}

	e.join(org.ID, carol, access.MemberLevel) // not a rule's change
	put(access.Manager)
	if _, _, ok, err := s.RuleChanges(ctx, org.ID, start+2); err != nil || ok {
		t.Fatalf("RuleChanges across a membership change: ok %v, %v; want false", ok, err)
	}
	after := e.revision(org.ID)

	levels := []access.Level{access.Viewer, access.Editor}
	for i := range 1005 {
		put(levels[i%2])
	}
	latest := e.revision(org.ID)
	if latest != after+1005 {
		t.Fatalf("revision %d after 1,005 rule changes from %d", latest, after)
	}
	changes, rev, ok, err = s.RuleChanges(ctx, org.ID, latest-1000)
	if err != nil || !ok || rev != latest || len(changes) != 2*1000 {
		t.Fatalf("RuleChanges(from %d, 1,000 back) = %d changes, %d, %v, %v; want 2,000, %d, true", latest-1000, len(changes), rev, ok, err, latest)
	}
	if _, _, ok, err := s.RuleChanges(ctx, org.ID, latest-1001); err != nil || ok {
		t.Fatalf("RuleChanges(from %d, past the log) ok %v, %v; want false", latest-1001, ok, err)
	}
}

// testPutRuleTargets: a put finds the rule already on its own scope and target and no
// other: rules for two members, two roles and everyone on two objects of one kind, and a
// kind rule for the same member, are each changed by their own put and left by the others'.
func testPutRuleTargets(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	e.join(org.ID, carol, access.MemberLevel)
	design, product := e.role(org.ID, "Design", alice.ID), e.role(org.ID, "Product", alice.ID)
	one, two := e.resource(p.ID, access.FeatureFlags, "one", alice.ID), e.resource(p.ID, access.FeatureFlags, "two", alice.ID)

	var rules []access.Rule
	for _, o := range []int64{one.ID, two.ID} {
		for _, target := range []access.Rule{{User: bob.ID}, {User: carol.ID}, {Role: design.ID}, {Role: product.ID}, {}} {
			target.Scope, target.Object = access.ScopeObject, o
			rules = append(rules, target)
		}
	}
	rules = append(rules, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, User: bob.ID})
	put := func(i int, l access.Level) *gatehouse.Rule {
		t.Helper()
		r := &gatehouse.Rule{OrganizationID: org.ID, Rule: rules[i]}
		r.Level = l
		if err := s.PutRule(ctx, r, alice.ID); err != nil {
			t.Fatalf("PutRule(%+v) = %v", rules[i], err)
		}
		return r
	}
	ids := map[string]int{}
	for i := range rules {
		ids[put(i, access.Viewer).ID] = i
	}
	if len(ids) != len(rules) {
		t.Fatalf("%d puts on distinct targets made %d rules", len(rules), len(ids))
	}
	for i := range rules {
		if r := put(i, access.Editor); ids[r.ID] != i || r.Level != access.Editor {
			t.Errorf("PutRule(%+v, editor) changed rule %d (%v), want its own (%d)", rules[i], ids[r.ID], r.Level, i)
		}
		got, err := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rules) {
			t.Fatalf("after put %d: %d rules, want %d", i, len(got), len(rules))
		}
		for _, r := range got {
			want := access.Viewer
			if ids[r.ID] <= i {
				want = access.Editor
			}
			if r.Level != want {
				t.Errorf("after put %d: rule %d is %v, want %v", i, ids[r.ID], r.Level, want)
			}
		}
	}
}
