package access

import (
	"slices"
	"testing"
)

// Users of the organization in this file's tests.
const (
	alice   int64 = 1 // owner
	bob     int64 = 2 // member in role product
	carol   int64 = 3 // member in roles product and support
	dave    int64 = 4 // member in no role
	erin    int64 = 5 // admin
	mallory int64 = 9 // not a member
)

func exampleFacts() Facts {
	return Facts{
		Enforced: true,
		Members: []Member{
			{User: alice, Level: OwnerLevel}, {User: bob, Level: MemberLevel}, {User: carol, Level: MemberLevel},
			{User: dave, Level: MemberLevel}, {User: erin, Level: AdminLevel},
		},
		Roles: []Role{
			{ID: "r-product", Name: "product", Levels: allLevels(Viewer), Members: []int64{bob, carol, mallory}},
			{ID: "r-support", Name: "support", Levels: allLevels(Editor), Members: []int64{carol}},
		},
		Rules: []Rule{
			{Scope: ScopeKind, Kind: FeatureFlags, Level: Viewer},
			{Scope: ScopeKind, Kind: Cohorts, Project: 2, Level: None},
			{Scope: ScopeKind, Kind: Cohorts, Project: 2, Role: "r-product", Level: Editor},
			{Scope: ScopeKind, Kind: Insights, User: dave, Level: Viewer},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Role: "r-product", Level: Editor},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 8, Level: None},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 9, User: dave, Level: Manager},
			{Scope: ScopeProject, Project: 3, ProjectLevel: ProjectNone},
			{Scope: ScopeProject, Project: 3, Role: "r-support", ProjectLevel: ProjectMember},
			{Scope: ScopeProject, Project: 3, User: dave, ProjectLevel: ProjectAdmin},
			{Scope: ScopeProject, Project: 4, User: bob, ProjectLevel: ProjectAdmin},
			{Scope: ScopeProject, Project: 4, Role: "r-product", ProjectLevel: ProjectNone},
		},
	}
}

func TestKindLevel(t *testing.T) {
	s := Compile(exampleFacts())
	for _, tc := range []struct {
		name    string
		user    int64
		project int64
		kind    Kind
		want    Decision
	}{
		{"stranger", mallory, 1, FeatureFlags, Decision{None, SourceOrganization, ""}},
		{"admin", erin, 3, FeatureFlags, Decision{Manager, SourceOrganizationAdmin, ""}},
		{"organization default", dave, 1, FeatureFlags, Decision{Viewer, SourceOrganizationDefault, ""}},
		{"role ties the default", bob, 1, FeatureFlags, Decision{Viewer, SourceRole, "r-product"}},
		{"best role", carol, 1, FeatureFlags, Decision{Editor, SourceRole, "r-support"}},
		{"no rules", dave, 1, Experiments, Decision{Editor, SourceDefault, ""}},
		{"member kind rule", dave, 1, Insights, Decision{Viewer, SourceExplicitMember, ""}},
		{"project kind rule hides", dave, 2, Cohorts, Decision{None, SourceOrganizationDefault, ""}},
		{"project kind rule for a role", bob, 2, Cohorts, Decision{Editor, SourceRole, "r-product"}},
		{"project kind rule stays in its project", dave, 1, Cohorts, Decision{Editor, SourceDefault, ""}},
		{"closed project", bob, 3, Experiments, Decision{None, SourceProject, ""}},
		{"closed project, role let in", carol, 3, Experiments, Decision{Editor, SourceRole, "r-support"}},
		{"closed project, project admin", dave, 3, Experiments, Decision{Manager, SourceProjectAdmin, ""}},
		{"highest project rule wins", bob, 4, Experiments, Decision{Manager, SourceProjectAdmin, ""}},
		{"unknown kind", dave, 1, NumKinds, Decision{None, SourceOrganization, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.KindLevel(tc.user, tc.project, tc.kind); got != tc.want {
				t.Errorf("KindLevel(%d, %d, %v) = %+v, want %+v", tc.user, tc.project, tc.kind, got, tc.want)
			}
		})
	}
}

func TestKindLevelIgnoresCreatorAndObjectRules(t *testing.T) {
	s := Compile(exampleFacts())
	// Object 7 grants product edit on that flag only, and bob may not create flags.
	if got := s.Decide(bob, Object{ID: 7, Kind: FeatureFlags, Project: 1}); got.Level != Editor {
		t.Errorf("Decide(bob, flag 7).Level = %v, want %v", got.Level, Editor)
	}
	if got := s.KindLevel(bob, 1, FeatureFlags); got.Level != Viewer {
		t.Errorf("KindLevel(bob, 1, flags).Level = %v, want %v", got.Level, Viewer)
	}
}

func TestProjectAccess(t *testing.T) {
	enforced := Compile(exampleFacts())
	freeFacts := exampleFacts()
	freeFacts.Enforced = false
	free := Compile(freeFacts)
	for _, tc := range []struct {
		name    string
		s       *Snapshot
		user    int64
		project int64
		want    ProjectLevel
		ok      bool
	}{
		{"stranger", enforced, mallory, 1, ProjectNone, false},
		{"no rules", enforced, bob, 1, ProjectMember, true},
		{"owner", enforced, alice, 3, ProjectAdmin, true},
		{"admin in a closed project", enforced, erin, 3, ProjectAdmin, true},
		{"closed", enforced, bob, 3, ProjectNone, false},
		{"closed, role let in", enforced, carol, 3, ProjectMember, true},
		{"closed, member made admin", enforced, dave, 3, ProjectAdmin, true},
		{"highest rule wins", enforced, bob, 4, ProjectAdmin, true},
		{"role shut out", enforced, carol, 4, ProjectNone, false},
		{"no rule reaches: member", enforced, dave, 4, ProjectMember, true},
		{"free plan ignores project rules", free, bob, 3, ProjectMember, true},
		{"free plan, no project admins", free, dave, 3, ProjectMember, true},
		{"free plan, admin", free, erin, 3, ProjectAdmin, true},
		{"free plan, stranger", free, mallory, 1, ProjectNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.s.ProjectAccess(tc.user, tc.project)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ProjectAccess(%d, %d) = %v, %v, want %v, %v", tc.user, tc.project, got, ok, tc.want, tc.ok)
			}
			d := tc.s.KindLevel(tc.user, tc.project, Experiments)
			if d.NoAccess() == ok {
				t.Errorf("ProjectAccess(%d, %d) ok = %v, but KindLevel = %+v", tc.user, tc.project, ok, d)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	s := Compile(exampleFacts())
	flag := func(id int64) Object { return Object{ID: id, Kind: FeatureFlags, Project: 1, Creator: alice} }
	for _, tc := range []struct {
		user int64
		o    Object
		want string
	}{
		{mallory, flag(1), "no access: you are not a member of this organization"},
		{bob, Object{ID: 1, Kind: Insights, Project: 3}, "no access: this project's access rules leave you out; ask a project admin"},
		{bob, Object{ID: 1, Kind: Insights, Project: 1, Creator: bob}, "manager: you created this insight"},
		{alice, flag(1), "manager: organization admin"},
		{dave, Object{ID: 1, Kind: Dashboards, Project: 3}, "manager: project admin"},
		{dave, flag(9), "manager through a rule for you on this feature flag"},
		{dave, Object{ID: 1, Kind: Insights, Project: 1}, "view only through a rule for you on insights; ask an admin or the insight's creator"},
		{bob, flag(7), "editor through role 'product' on this feature flag"},
		{dave, flag(8), "no access: this feature flag's rule for everyone; ask an admin or the feature flag's creator"},
		{dave, flag(1), "view only: organization default for feature flags; ask an admin or the feature flag's creator"},
		{carol, flag(1), "editor through role 'support' for feature flags"},
		{bob, flag(1), "view only through role 'product' for feature flags; ask an admin or the feature flag's creator"},
		{dave, Object{ID: 1, Kind: Experiments, Project: 1}, "editor: every member's default"},
	} {
		d := s.Decide(tc.user, tc.o)
		if got := s.Explain(d, tc.o); got != tc.want {
			t.Errorf("Explain(%+v, %+v) = %q, want %q", d, tc.o, got, tc.want)
		}
	}

	free := Compile(Facts{Members: []Member{{User: bob, Level: MemberLevel}}})
	o := Object{ID: 1, Kind: Cohorts, Project: 1}
	want := "editor: role-based access is not part of this organization's plan"
	if got := free.Explain(free.Decide(bob, o), o); got != want {
		t.Errorf("free plan: Explain = %q, want %q", got, want)
	}
	// A decision naming a role this snapshot does not know still reads well.
	d := Decision{Editor, SourceExplicitRole, "r-gone"}
	want = "editor through role 'r-gone' on this cohort"
	if got := s.Explain(d, o); got != want {
		t.Errorf("Explain(%+v, %+v) = %q, want %q", d, o, got, want)
	}
}

func TestSnapshotAccessors(t *testing.T) {
	f := exampleFacts()
	f.Members = append(f.Members, Member{User: bob, Level: OwnerLevel}) // repeated: first entry counts
	f.Roles = append(f.Roles, Role{ID: "r-product", Name: "impostor", Levels: allLevels(Manager), Members: []int64{dave}})
	s := Compile(f)

	for _, tc := range []struct {
		user  int64
		level int
		roles []string
	}{
		{alice, OwnerLevel, nil},
		{bob, MemberLevel, []string{"r-product"}},
		{carol, MemberLevel, []string{"r-product", "r-support"}},
		{dave, MemberLevel, nil},
		{mallory, 0, nil},
	} {
		if got := s.MembershipLevel(tc.user); got != tc.level {
			t.Errorf("MembershipLevel(%d) = %d, want %d", tc.user, got, tc.level)
		}
		if got := s.RolesOf(tc.user); !slices.Equal(got, tc.roles) {
			t.Errorf("RolesOf(%d) = %q, want %q", tc.user, got, tc.roles)
		}
	}
	if got := len(s.Members()); got != 5 {
		t.Errorf("len(Members()) = %d, want 5", got)
	}
	if !s.Enforced() {
		t.Errorf("Enforced() = false, want true")
	}

	// The snapshot must not see later changes to the facts it was compiled from.
	before := s.Decide(carol, Object{ID: 1, Kind: FeatureFlags, Project: 1})
	f.Members[2].Level = OwnerLevel
	f.Roles[1].Levels[FeatureFlags] = None
	f.Roles[1].Members[0] = dave
	f.Rules[0].Level = Manager
	if got := s.Decide(carol, Object{ID: 1, Kind: FeatureFlags, Project: 1}); got != before {
		t.Errorf("after changing the facts, Decide = %+v, want %+v as before", got, before)
	}
}

func TestMalformedRulesReachNobody(t *testing.T) {
	f := Facts{
		Enforced: true,
		Members:  []Member{{User: bob, Level: MemberLevel}},
		Roles:    []Role{{ID: "r", Levels: allLevels(Editor), Members: []int64{bob}}},
		Rules: []Rule{
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, Role: "r", User: bob, Level: None}, // both targets
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, Role: "unknown", Level: None},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, User: mallory, Level: None},
			{Scope: ScopeObject, Kind: NumKinds, Object: 1, Level: None},
			{Scope: ScopeKind, Kind: NumKinds + 3, Level: None},
			{Scope: Scope(9), Kind: FeatureFlags, Level: None},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, User: bob, Level: Manager + 1},
			{Scope: ScopeProject, Project: 1, User: bob, ProjectLevel: ProjectAdmin + 1},
		},
	}
	o := Object{ID: 1, Kind: FeatureFlags, Project: 1}
	want := Decision{Editor, SourceRole, "r"}
	if got := Compile(f).Decide(bob, o); got != want {
		t.Errorf("Decide(%+v) = %+v, want %+v", o, got, want)
	}
}

// TestProjectLookup closes projects whose ids lie close together (found through a direct
// table) and far apart (found by search), and asks about the projects around them: only
// the closed ones are closed, whichever way they are found.
func TestProjectLookup(t *testing.T) {
	for _, closed := range [][]int64{
		{5, 6, 9},    // close together
		{5, 1 << 40}, // far apart
		{-3, 2},      // below zero
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 200}, // more than a scan covers
	} {
		f := Facts{Enforced: true, Members: []Member{{User: 1, Level: MemberLevel}}}
		shut := map[int64]bool{}
		for _, p := range closed {
			f.Rules = append(f.Rules, Rule{Scope: ScopeProject, Project: p, ProjectLevel: ProjectNone})
			shut[p] = true
		}
		s := Compile(f)
		var asked []int64
		for _, p := range closed {
			asked = append(asked, p-1, p, p+1)
		}
		asked = append(asked, 0, -1<<62, 1<<62)
		for _, p := range asked {
			_, ok := s.ProjectAccess(1, p)
			if ok == shut[p] {
				t.Errorf("projects %v closed: project %d open = %v", closed, p, ok)
			}
			d := s.Decide(1, Object{ID: 1, Kind: FeatureFlags, Project: p})
			if (d.Level == None) != shut[p] {
				t.Errorf("projects %v closed: decision in project %d = %v", closed, p, d)
			}
		}
	}
}
