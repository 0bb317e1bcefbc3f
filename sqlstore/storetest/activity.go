package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// testPermissionChanges runs every permission change in turn and checks that each bumps the
// organization's rules revision by one and writes exactly one activity row describing it,
// and that a refused or empty change writes neither.
func testPermissionChanges(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p := e.org("Acme", alice)
	mb := e.join(org.ID, bob, access.MemberLevel)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)

	lv := levels(access.Editor)
	lv[access.FeatureFlags] = access.Viewer
	const (
		editorLevels = `{"actions":"editor","cohorts":"editor","dashboards":"editor","experiments":"editor","feature_flags":"editor","insights":"editor","session_recordings":"editor"}`
		mixedLevels  = `{"actions":"editor","cohorts":"editor","dashboards":"editor","experiments":"editor","feature_flags":"viewer","insights":"editor","session_recordings":"editor"}`
	)
	var (
		role       = &gatehouse.Role{OrganizationID: org.ID, Name: "Product", Levels: lv}
		design     = &gatehouse.Role{OrganizationID: org.ID, Name: "Design", Levels: levels(access.Editor)}
		rm         = &gatehouse.RoleMembership{User: gatehouse.User{ID: bob.ID}}
		kindRule   = &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}}
		objectRule = &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flag.ID, User: bob.ID, Level: access.Manager}}
		invite     = &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: carol.Email, Level: access.AdminLevel, CreatedBy: alice.ID}
		member     *gatehouse.Membership
	)
	if err := s.CreateInvite(ctx, invite); err != nil {
		t.Fatalf("CreateInvite() = %v", err)
	}
	// put sends r (a copy, so that a refused put leaves r as it was) to PutRule.
	put := func(r *gatehouse.Rule, l access.Level) (string, error) {
		c := *r
		c.ID, c.Level = "", l
		err := s.PutRule(ctx, &c, alice.ID)
		return c.ID, err
	}

	steps := []struct {
		name    string
		do      func() (item string, err error)
		code    string // the error expected, "" for none
		none    bool   // succeeds without changing anything
		actor   int64  // 0 = alice
		project int64
		scope   string
		verb    string
		changes string // JSON
	}{
		{name: "SetMemberLevel", do: func() (string, error) {
			return mb.ID, s.SetMemberLevel(ctx, org.ID, bob.ID, access.AdminLevel, alice.ID)
		},
			scope: "Membership", verb: "updated", changes: `[{"field":"level","before":1,"after":8}]`},
		{name: "SetMemberLevel(same level)", do: func() (string, error) { return "", s.SetMemberLevel(ctx, org.ID, bob.ID, access.AdminLevel, alice.ID) }, none: true},
		{name: "SetMemberLevel(non-member)", do: func() (string, error) { return "", s.SetMemberLevel(ctx, org.ID, carol.ID, 8, alice.ID) }, code: gatehouse.ENotFound},
		{name: "CreateRole", do: func() (string, error) { err := s.CreateRole(ctx, role, alice.ID); return role.ID, err },
			scope: "Role", verb: "created", changes: `[{"field":"name","before":null,"after":"Product"},{"field":"levels","before":null,"after":` + mixedLevels + `}]`},
		{name: "CreateRole(second)", do: func() (string, error) { err := s.CreateRole(ctx, design, alice.ID); return design.ID, err },
			scope: "Role", verb: "created", changes: `[{"field":"name","before":null,"after":"Design"},{"field":"levels","before":null,"after":` + editorLevels + `}]`},
		{name: "CreateRole(taken name)", do: func() (string, error) {
			return "", s.CreateRole(ctx, &gatehouse.Role{OrganizationID: org.ID, Name: "PRODUCT"}, alice.ID)
		}, code: gatehouse.EUnique},
		{name: "UpdateRole(name)", do: func() (string, error) { role.Name = "Product team"; return role.ID, s.UpdateRole(ctx, role, alice.ID) },
			scope: "Role", verb: "updated", changes: `[{"field":"name","before":"Product","after":"Product team"}]`},
		{name: "UpdateRole(levels)", do: func() (string, error) {
			role.Levels[access.FeatureFlags] = access.Editor
			return role.ID, s.UpdateRole(ctx, role, alice.ID)
		}, scope: "Role", verb: "updated", changes: `[{"field":"levels","before":` + mixedLevels + `,"after":` + editorLevels + `}]`},
		{name: "UpdateRole(nothing)", do: func() (string, error) { return "", s.UpdateRole(ctx, role, alice.ID) }, none: true},
		{name: "UpdateRole(taken name)", do: func() (string, error) {
			r := *role
			r.Name = "design"
			return "", s.UpdateRole(ctx, &r, alice.ID)
		}, code: gatehouse.EUnique},
		{name: "AddRoleMember", do: func() (string, error) {
			rm.RoleID = role.ID
			err := s.AddRoleMember(ctx, org.ID, rm, bob.ID)
			return rm.ID, err
		},
			actor: bob.ID, scope: "RoleMembership", verb: "created",
			changes: `[{"field":"role","before":null,"after":"` + "ROLE" + `"},{"field":"user","before":null,"after":BOB}]`},
		{name: "AddRoleMember(again)", do: func() (string, error) {
			return "", s.AddRoleMember(ctx, org.ID, &gatehouse.RoleMembership{RoleID: role.ID, User: gatehouse.User{ID: bob.ID}}, alice.ID)
		}, code: gatehouse.EUnique},
		{name: "AddRoleMember(non-member)", do: func() (string, error) {
			return "", s.AddRoleMember(ctx, org.ID, &gatehouse.RoleMembership{RoleID: role.ID, User: gatehouse.User{ID: carol.ID}}, alice.ID)
		}, code: gatehouse.EDoesNotExist},
		{name: "RemoveRoleMember", do: func() (string, error) { return rm.ID, s.RemoveRoleMember(ctx, org.ID, role.ID, rm.ID, alice.ID) },
			scope: "RoleMembership", verb: "deleted", changes: `[{"field":"role","before":"ROLE","after":null},{"field":"user","before":BOB,"after":null}]`},
		{name: "RemoveRoleMember(again)", do: func() (string, error) { return "", s.RemoveRoleMember(ctx, org.ID, role.ID, rm.ID, alice.ID) }, code: gatehouse.ENotFound},
		{name: "CreateRule(kind)", do: func() (string, error) { err := s.CreateRule(ctx, kindRule, alice.ID); return kindRule.ID, err },
			scope: "AccessControl", verb: "created",
			changes: `[{"field":"scope","before":null,"after":"kind"},{"field":"kind","before":null,"after":"feature_flags"},{"field":"level","before":null,"after":"viewer"}]`},
		{name: "CreateRule(object)", do: func() (string, error) { err := s.CreateRule(ctx, objectRule, alice.ID); return objectRule.ID, err },
			project: p.ID, scope: "AccessControl", verb: "created",
			changes: `[{"field":"scope","before":null,"after":"object"},{"field":"project","before":null,"after":PROJECT},{"field":"kind","before":null,"after":"feature_flags"},{"field":"object","before":null,"after":FLAG},{"field":"user","before":null,"after":BOB},{"field":"level","before":null,"after":"manager"}]`},
		{name: "CreateRule(duplicate)", do: func() (string, error) {
			r := *kindRule
			return "", s.CreateRule(ctx, &r, alice.ID)
		}, code: gatehouse.EUnique},
		{name: "PutRule(new level)", do: func() (string, error) { return put(kindRule, access.Editor) },
			scope: "AccessControl", verb: "updated", changes: `[{"field":"level","before":"viewer","after":"editor"}]`},
		{name: "PutRule(same level)", do: func() (string, error) { return put(kindRule, access.Editor) }, none: true},
		{name: "PutRule(object, new level)", do: func() (string, error) { return put(objectRule, access.Viewer) },
			project: p.ID, scope: "AccessControl", verb: "updated", changes: `[{"field":"level","before":"manager","after":"viewer"}]`},
		{name: "PutRule(new target)", do: func() (string, error) {
			r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Role: role.ID, Level: access.Viewer}}
			err := s.PutRule(ctx, r, alice.ID)
			return r.ID, err
		}, scope: "AccessControl", verb: "created",
			changes: `[{"field":"scope","before":null,"after":"kind"},{"field":"kind","before":null,"after":"cohorts"},{"field":"role","before":null,"after":"ROLE"},{"field":"level","before":null,"after":"viewer"}]`},
		{name: "DeleteRule", do: func() (string, error) { return kindRule.ID, s.DeleteRule(ctx, org.ID, kindRule.ID, alice.ID) },
			scope: "AccessControl", verb: "deleted",
			changes: `[{"field":"scope","before":"kind","after":null},{"field":"kind","before":"feature_flags","after":null},{"field":"level","before":"editor","after":null}]`},
		{name: "DeleteRule(again)", do: func() (string, error) { return "", s.DeleteRule(ctx, org.ID, kindRule.ID, alice.ID) }, code: gatehouse.ENotFound},
		{name: "DeleteRole", do: func() (string, error) { return design.ID, s.DeleteRole(ctx, org.ID, design.ID, alice.ID) },
			scope: "Role", verb: "deleted", changes: `[{"field":"name","before":"Design","after":null}]`},
		{name: "AcceptInvite", do: func() (string, error) {
			var err error
			member, err = s.AcceptInvite(ctx, invite.ID, carol.ID)
			if err != nil {
				return "", err
			}
			return member.ID, nil
		}, actor: carol.ID, scope: "Membership", verb: "created", changes: `[{"field":"user","before":null,"after":CAROL},{"field":"level","before":null,"after":8}]`},
		{name: "RemoveMember", do: func() (string, error) { return mb.ID, s.RemoveMember(ctx, org.ID, bob.ID, alice.ID) },
			scope: "Membership", verb: "deleted", changes: `[{"field":"user","before":BOB,"after":null},{"field":"level","before":8,"after":null}]`},
		{name: "RemoveMember(again)", do: func() (string, error) { return "", s.RemoveMember(ctx, org.ID, bob.ID, alice.ID) }, code: gatehouse.ENotFound},
	}
	for _, st := range steps {
		rev, before := e.revision(org.ID), e.activity(org.ID)
		item, err := st.do()
		after := e.activity(org.ID)
		if st.code != "" || st.none {
			if st.code != "" && gatehouse.ErrorCode(err) != st.code {
				t.Errorf("%s = %v, want a %q error", st.name, err, st.code)
			}
			if st.none && err != nil {
				t.Errorf("%s = %v, want success", st.name, err)
			}
			if got := e.revision(org.ID); got != rev {
				t.Errorf("%s: RulesRevision = %d, want %d unchanged", st.name, got, rev)
			}
			if len(after) != len(before) {
				t.Errorf("%s: %d activity rows, want %d unchanged", st.name, len(after), len(before))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s = %v", st.name, err)
			continue
		}
		if got := e.revision(org.ID); got != rev+1 {
			t.Errorf("%s: RulesRevision = %d, want %d", st.name, got, rev+1)
		}
		if len(after) != len(before)+1 {
			t.Errorf("%s: %d activity rows, want %d", st.name, len(after), len(before)+1)
			continue
		}
		a := after[0]
		actor := st.actor
		if actor == 0 {
			actor = alice.ID
		}
		if a.OrganizationID != org.ID || a.ProjectID != st.project || a.Scope != st.scope || a.Activity != st.verb || a.ItemID != item || a.UserID != actor {
			t.Errorf("%s: activity = {org %s, project %d, %s %s, item %s, user %d}, want {org %s, project %d, %s %s, item %s, user %d}",
				st.name, a.OrganizationID, a.ProjectID, a.Scope, a.Activity, a.ItemID, a.UserID,
				org.ID, st.project, st.scope, st.verb, item, actor)
		}
		if a.User == nil || a.User.ID != actor {
			t.Errorf("%s: activity user = %+v, want user %d", st.name, a.User, actor)
		}
		checkUTC(t, st.name+": activity CreatedAt", a.CreatedAt)
		want := replaceAll(st.changes, "ROLE", role.ID, "BOB", itoa(bob.ID), "CAROL", itoa(carol.ID), "PROJECT", itoa(p.ID), "FLAG", itoa(flag.ID))
		if got := changesJSON(t, a.Changes); got != want {
			t.Errorf("%s: changes =\n%s\nwant\n%s", st.name, got, want)
		}
	}
}

func testAccessFacts(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p := e.org("Acme", alice)
	other, op := e.org("Other", carol)
	e.join(org.ID, bob, access.MemberLevel)
	e.join(org.ID, carol, access.AdminLevel)
	e.join(other.ID, bob, access.MemberLevel)

	lv := levels(access.Editor)
	lv[access.FeatureFlags] = access.Viewer
	product := &gatehouse.Role{OrganizationID: org.ID, Name: "Product", Levels: lv}
	if err := s.CreateRole(ctx, product, alice.ID); err != nil {
		t.Fatalf("CreateRole() = %v", err)
	}
	design := e.role(org.ID, "Design", alice.ID)
	empty := e.role(org.ID, "Empty", alice.ID)
	e.roleMember(org.ID, product.ID, carol, alice.ID)
	e.roleMember(org.ID, design.ID, carol, alice.ID)
	e.roleMember(org.ID, product.ID, bob, alice.ID)
	foreign := e.role(other.ID, "Foreign", carol.ID)
	e.roleMember(other.ID, foreign.ID, bob, carol.ID)

	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)
	rules := []access.Rule{
		{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer},
		{Scope: access.ScopeObject, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, Role: product.ID, Level: access.Editor},
		{Scope: access.ScopeProject, Project: p.ID, User: bob.ID, ProjectLevel: access.ProjectNone},
		{Scope: access.ScopeKind, Project: p.ID, Kind: access.Cohorts, User: carol.ID, Level: access.Manager},
	}
	for _, r := range rules {
		e.rule(org.ID, r, alice.ID)
	}
	e.rule(other.ID, access.Rule{Scope: access.ScopeProject, Project: op.ID, ProjectLevel: access.ProjectNone}, carol.ID)

	facts, rev, err := s.AccessFacts(ctx, org.ID)
	if err != nil {
		t.Fatalf("AccessFacts() = %v", err)
	}
	want := access.Facts{
		Members: []access.Member{{User: alice.ID, Level: access.OwnerLevel}, {User: bob.ID, Level: access.MemberLevel}, {User: carol.ID, Level: access.AdminLevel}},
		Roles: []access.Role{
			{ID: product.ID, Name: "Product", Levels: lv, Members: []int64{carol.ID, bob.ID}},
			{ID: design.ID, Name: "Design", Levels: levels(access.Editor), Members: []int64{carol.ID}},
			{ID: empty.ID, Name: "Empty", Levels: levels(access.Editor)},
		},
		Rules: rules,
	}
	if diff := cmp.Diff(want, facts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("AccessFacts() mismatch (-want +got):\n%s", diff)
	}
	if got := e.revision(org.ID); rev != got {
		t.Errorf("AccessFacts() revision = %d, want %d", rev, got)
	}
	_, _, err = s.AccessFacts(ctx, "nope")
	wantNotFound(t, "AccessFacts(unknown)", err)

	// A fresh organization has facts at revision 0.
	fresh, _ := e.org("Fresh", bob)
	facts, rev, err = s.AccessFacts(ctx, fresh.ID)
	want = access.Facts{Members: []access.Member{{User: bob.ID, Level: access.OwnerLevel}}}
	if err != nil || rev != 0 {
		t.Errorf("AccessFacts(fresh) = revision %d, %v, want 0", rev, err)
	}
	if diff := cmp.Diff(want, facts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("AccessFacts(fresh) mismatch (-want +got):\n%s", diff)
	}
}

func testActivityLog(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, p1 := e.org("Acme", alice)
	p2 := e.project(org.ID, "Second")
	other, _ := e.org("Other", carol)
	e.join(org.ID, bob, access.AdminLevel) // by bob
	e.role(other.ID, "Elsewhere", carol.ID)

	var flags []*gatehouse.Resource
	for range 3 {
		flags = append(flags, e.resource(p1.ID, access.FeatureFlags, "", alice.ID))
	}
	dash := e.resource(p2.ID, access.Dashboards, "", bob.ID)
	var first *gatehouse.Rule
	for _, f := range flags {
		r := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: f.ID, User: bob.ID, Level: access.Viewer}, alice.ID)
		if first == nil {
			first = r
		}
	}
	e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: dash.ID, Level: access.Viewer}, bob.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Project: p2.ID, Kind: access.Dashboards, Level: access.Viewer}, bob.ID)
	e.role(org.ID, "Product", bob.ID)
	if err := s.DeleteRule(ctx, org.ID, first.ID, bob.ID); err != nil {
		t.Fatalf("DeleteRule() = %v", err)
	}

	all := e.activity(org.ID)
	if len(all) != 8 {
		t.Fatalf("ActivityLog() = %d rows, want 8", len(all))
	}
	for i, a := range all {
		if a.OrganizationID != org.ID {
			t.Errorf("ActivityLog()[%d] is of organization %s, want %s", i, a.OrganizationID, org.ID)
		}
		if a.User == nil || a.User.ID != a.UserID || a.User.Email == "" {
			t.Errorf("ActivityLog()[%d].User = %+v, want user %d filled in", i, a.User, a.UserID)
		}
		if i > 0 && (a.CreatedAt.After(all[i-1].CreatedAt) || a.ID >= all[i-1].ID) {
			t.Errorf("ActivityLog()[%d] (id %d, %v) comes after [%d] (id %d, %v), want newest first", i, a.ID, a.CreatedAt, i-1, all[i-1].ID, all[i-1].CreatedAt)
		}
	}
	if all[0].Activity != "deleted" || all[0].ItemID != first.ID || all[len(all)-1].Scope != "Membership" {
		t.Errorf("ActivityLog() runs from %s %s to %s, want the rule's deletion first, bob's joining last", all[0].Scope, all[0].Activity, all[len(all)-1].Scope)
	}

	ids := func(log []gatehouse.Activity) []int64 {
		out := []int64{}
		for _, a := range log {
			out = append(out, a.ID)
		}
		return out
	}
	where := func(keep func(a gatehouse.Activity) bool) []int64 {
		var out []gatehouse.Activity
		for _, a := range all {
			if keep(a) {
				out = append(out, a)
			}
		}
		return ids(out)
	}
	filterTests := []struct {
		name string
		f    gatehouse.ActivityFilter
		want []int64
	}{
		{"project 1", gatehouse.ActivityFilter{OptionalProjectID: p1.ID}, where(func(a gatehouse.Activity) bool { return a.ProjectID == p1.ID })},
		{"project 2", gatehouse.ActivityFilter{OptionalProjectID: p2.ID}, where(func(a gatehouse.Activity) bool { return a.ProjectID == p2.ID })},
		{"item", gatehouse.ActivityFilter{OptionalItemID: first.ID}, where(func(a gatehouse.Activity) bool { return a.ItemID == first.ID })},
		{"user bob", gatehouse.ActivityFilter{OptionalUserID: bob.ID}, where(func(a gatehouse.Activity) bool { return a.UserID == bob.ID })},
		{"bob in project 1", gatehouse.ActivityFilter{OptionalUserID: bob.ID, OptionalProjectID: p1.ID}, where(func(a gatehouse.Activity) bool { return a.UserID == bob.ID && a.ProjectID == p1.ID })},
		{"unknown item", gatehouse.ActivityFilter{OptionalItemID: "nope"}, []int64{}},
	}
	for _, tt := range filterTests {
		tt.f.OrganizationID = org.ID
		got, total, err := s.ActivityLog(ctx, tt.f)
		if err != nil {
			t.Errorf("ActivityLog(%s) = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("ActivityLog(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
		if total != len(tt.want) {
			t.Errorf("ActivityLog(%s) total = %d, want %d", tt.name, total, len(tt.want))
		}
	}
	// The filters are not vacuous.
	if n := len(filterTests[0].want); n != 4 {
		t.Errorf("activity rows in project 1 = %d, want 4 (the rules on its flags, then a deletion)", n)
	}
	if n := len(filterTests[2].want); n != 2 {
		t.Errorf("activity rows of the first rule = %d, want 2 (created, deleted)", n)
	}

	// Pages of 3 walk the whole log, each with the whole total.
	var paged []gatehouse.Activity
	for offset := 0; offset <= len(all); offset += 3 {
		page, total, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, Limit: 3, Offset: offset})
		if err != nil {
			t.Fatalf("ActivityLog(offset %d) = %v", offset, err)
		}
		if total != len(all) {
			t.Errorf("ActivityLog(offset %d) total = %d, want %d", offset, total, len(all))
		}
		if want := min(3, len(all)-offset); len(page) != want {
			t.Errorf("ActivityLog(offset %d) = %d rows, want %d", offset, len(page), want)
		}
		paged = append(paged, page...)
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("ActivityLog pages mismatch (-want +got):\n%s", diff)
	}
	if got, total, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: "nope", Limit: 10}); err != nil || len(got) != 0 || total != 0 {
		t.Errorf("ActivityLog(unknown organization) = %v, %d, %v, want nothing", got, total, err)
	}
}

// testActivityLogObjects: a row about a rule on an object names the object (ObjectID),
// whether it records the rule's creation, a change of its level or its deletion, and
// keeps naming it after the object is gone; ActivityObjects lists the objects the
// matching rows are about; OptionalObjects keeps of the rows about objects only those
// about listed ones, in the page and in the count alike.
func testActivityLogObjects(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	open, hidden, gone := e.resource(p.ID, access.FeatureFlags, "", alice.ID), e.resource(p.ID, access.FeatureFlags, "", alice.ID), e.resource(p.ID, access.Cohorts, "", alice.ID)

	put := func(obj int64, user int64, l access.Level) *gatehouse.Rule {
		t.Helper()
		r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: obj, User: user, Level: l}}
		if err := s.PutRule(ctx, r, alice.ID); err != nil {
			t.Fatalf("PutRule() = %v", err)
		}
		return r
	}
	put(open.ID, bob.ID, access.Editor)
	put(hidden.ID, 0, access.None)
	put(hidden.ID, bob.ID, access.Viewer)
	r := put(hidden.ID, bob.ID, access.Editor) // a change of level
	if err := s.DeleteRule(ctx, org.ID, r.ID, alice.ID); err != nil {
		t.Fatalf("DeleteRule() = %v", err)
	}
	put(gone.ID, 0, access.None)
	if err := s.DeleteResource(ctx, p.ID, access.Cohorts, gone.ID); err != nil {
		t.Fatalf("DeleteResource() = %v", err)
	}
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Project: p.ID, Kind: access.Cohorts, Level: access.Viewer}, alice.ID)
	e.role(org.ID, "Product", alice.ID)

	all := e.activity(org.ID)
	var objects []int64
	for _, a := range all {
		objects = append(objects, a.ObjectID)
	}
	want := []int64{0, 0, gone.ID, hidden.ID, hidden.ID, hidden.ID, hidden.ID, open.ID, 0} // newest first; bob's joining last
	if diff := cmp.Diff(want, objects); diff != "" {
		t.Fatalf("ActivityLog() ObjectIDs mismatch (-want +got):\n%s", diff)
	}

	sorted := func(ids []int64) []int64 { slices.Sort(ids); return ids }
	objectTests := []struct {
		name string
		f    gatehouse.ActivityFilter
		want []int64
	}{
		{"organization", gatehouse.ActivityFilter{}, sorted([]int64{open.ID, hidden.ID, gone.ID})},
		{"project", gatehouse.ActivityFilter{OptionalProjectID: p.ID}, sorted([]int64{open.ID, hidden.ID, gone.ID})},
		{"item", gatehouse.ActivityFilter{OptionalItemID: r.ID}, []int64{hidden.ID}},
		{"user", gatehouse.ActivityFilter{OptionalUserID: bob.ID}, []int64{}},
		{"other project", gatehouse.ActivityFilter{OptionalProjectID: p.ID + 1000}, []int64{}},
	}
	for _, tt := range objectTests {
		tt.f.OrganizationID = org.ID
		got, err := s.ActivityObjects(ctx, tt.f)
		if err != nil {
			t.Errorf("ActivityObjects(%s) = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, sorted(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ActivityObjects(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	keep := func(list ...int64) *[]int64 { return &list }
	filterTests := []struct {
		name    string
		objects *[]int64
	}{
		{"no list", nil},
		{"every object", keep(open.ID, hidden.ID, gone.ID)},
		{"the open flag", keep(open.ID)},
		{"none", keep()},
		{"an object never written about", keep(999999)},
	}
	for _, tt := range filterTests {
		var wantRows []int64
		for _, a := range all {
			if tt.objects == nil || a.ObjectID == 0 || slices.Contains(*tt.objects, a.ObjectID) {
				wantRows = append(wantRows, a.ID)
			}
		}
		// Pages of 2 walk exactly the rows kept, each page with their count.
		var gotRows []int64
		for offset := 0; offset <= len(all); offset += 2 {
			page, total, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, OptionalObjects: tt.objects, Limit: 2, Offset: offset})
			if err != nil {
				t.Fatalf("ActivityLog(%s, offset %d) = %v", tt.name, offset, err)
			}
			if total != len(wantRows) {
				t.Errorf("ActivityLog(%s, offset %d) total = %d, want %d", tt.name, offset, total, len(wantRows))
			}
			for _, a := range page {
				gotRows = append(gotRows, a.ID)
			}
		}
		if diff := cmp.Diff(wantRows, gotRows); diff != "" {
			t.Errorf("ActivityLog(%s) rows mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
