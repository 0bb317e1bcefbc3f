package access

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
)

// The user, colleague, projects and object every fixture in this file is built around.
const (
	userU     int64 = 100
	colleague int64 = 200
	projectP  int64 = 10
	projectQ  int64 = 20
	objectID  int64 = 1000
)

// decisionCase is one case of testdata/decision-cases.json: the decision of
// docs/access-model.md, case by case, with the level and source each must give.
type decisionCase struct {
	Name                string   `json:"name"`
	Plan                string   `json:"plan"`
	Membership          string   `json:"membership"`
	Creator             bool     `json:"creator"`
	OrgDefault          string   `json:"org_default"`
	RoleLevels          []string `json:"role_levels"`
	ObjectRoleRules     []string `json:"object_role_rules"`
	ObjectEveryoneRule  string   `json:"object_everyone_rule"`
	ObjectMemberRule    string   `json:"object_member_rule"`
	KindMemberRule      string   `json:"kind_member_rule"`
	ProjectEveryoneRule string   `json:"project_everyone_rule"`
	ProjectMemberRule   string   `json:"project_member_rule"`
	WantLevel           string   `json:"want_level"`
	WantSource          string   `json:"want_source"`
}

func loadDecisionCases(tb testing.TB) []decisionCase {
	tb.Helper()
	data, err := os.ReadFile("testdata/decision-cases.json")
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Cases []decisionCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		tb.Fatal(err)
	}
	if len(file.Cases) == 0 {
		tb.Fatal("testdata/decision-cases.json has no cases")
	}
	return file.Cases
}

func mustLevel(tb testing.TB, s string) Level {
	tb.Helper()
	l, ok := ParseLevel(s)
	if !ok {
		tb.Fatalf("ParseLevel(%q) failed", s)
	}
	return l
}

func mustProjectLevel(tb testing.TB, s string) ProjectLevel {
	tb.Helper()
	l, ok := ParseProjectLevel(s)
	if !ok {
		tb.Fatalf("ParseProjectLevel(%q) failed", s)
	}
	return l
}

func allLevels(l Level) (ls [NumKinds]Level) {
	for k := range ls {
		ls[k] = l
	}
	return ls
}

// facts builds the organization a case describes for an object of kind k, plus rules that must
// not matter: on other kinds, other objects, another project and for a colleague.
func (c decisionCase) facts(tb testing.TB, k Kind) Facts {
	tb.Helper()
	other := (k + 1) % NumKinds
	f := Facts{
		Enforced: c.Plan != "free",
		Members:  []Member{{User: colleague, Level: MemberLevel}},
		Roles: []Role{{
			ID: "colleagues", Name: "colleagues", Levels: allLevels(Manager), Members: []int64{colleague},
		}},
		Rules: []Rule{
			{Scope: ScopeKind, Kind: other, Level: Manager},
			{Scope: ScopeKind, Kind: k, Level: None, Project: projectQ},
			{Scope: ScopeObject, Kind: other, Object: objectID, User: userU, Level: Manager},
			{Scope: ScopeObject, Kind: k, Object: objectID + 1, Level: Manager},
			{Scope: ScopeObject, Kind: k, Object: objectID, User: colleague, Level: Manager},
			{Scope: ScopeProject, Project: projectQ, ProjectLevel: ProjectNone},
			{Scope: ScopeProject, Project: projectP, User: colleague, ProjectLevel: ProjectAdmin},
		},
	}
	switch c.Membership {
	case "", "member":
		f.Members = append(f.Members, Member{User: userU, Level: MemberLevel})
	case "admin":
		f.Members = append(f.Members, Member{User: userU, Level: AdminLevel})
	case "owner":
		f.Members = append(f.Members, Member{User: userU, Level: OwnerLevel})
	case "none":
	default:
		tb.Fatalf("unknown membership %q", c.Membership)
	}
	// A role starts with the organization default of every kind (37 when there is none), as
	// PostHog sets it on creation.
	roleDefault := Editor
	if c.OrgDefault != "" {
		roleDefault = mustLevel(tb, c.OrgDefault)
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: k, Level: roleDefault})
	}
	var roles []string
	for i, s := range c.RoleLevels {
		levels := allLevels(Manager) // other kinds must not leak into k
		levels[k] = mustLevel(tb, s)
		id := "role-" + strconv.Itoa(i)
		f.Roles = append(f.Roles, Role{ID: id, Name: id, Levels: levels, Members: []int64{userU}})
		roles = append(roles, id)
	}
	for i, s := range c.ObjectRoleRules {
		var id string
		if len(roles) > 0 {
			id = roles[i%len(roles)]
		} else {
			// Cases with object role rules but no role levels need a role of U; it gets the
			// levels a fresh role gets, so it cannot change the type level.
			id = "object-role-" + strconv.Itoa(i)
			f.Roles = append(f.Roles, Role{ID: id, Name: id, Levels: allLevels(roleDefault), Members: []int64{userU}})
		}
		f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: k, Object: objectID, Role: id, Level: mustLevel(tb, s)})
	}
	if c.ObjectEveryoneRule != "" {
		f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: k, Object: objectID, Level: mustLevel(tb, c.ObjectEveryoneRule)})
	}
	if c.ObjectMemberRule != "" {
		f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: k, Object: objectID, User: userU, Level: mustLevel(tb, c.ObjectMemberRule)})
	}
	if c.KindMemberRule != "" {
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: k, User: userU, Level: mustLevel(tb, c.KindMemberRule)})
	}
	if c.ProjectEveryoneRule != "" {
		f.Rules = append(f.Rules, Rule{Scope: ScopeProject, Project: projectP, ProjectLevel: mustProjectLevel(tb, c.ProjectEveryoneRule)})
	}
	if c.ProjectMemberRule != "" {
		f.Rules = append(f.Rules, Rule{Scope: ScopeProject, Project: projectP, User: userU, ProjectLevel: mustProjectLevel(tb, c.ProjectMemberRule)})
	}
	return f
}

func (c decisionCase) object(k Kind) Object {
	o := Object{ID: objectID, Kind: k, Project: projectP, Creator: colleague}
	if c.Creator {
		o.Creator = userU
	}
	return o
}

func TestDecideCases(t *testing.T) {
	for _, c := range loadDecisionCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, k := range Kinds {
				s := Compile(c.facts(t, k))
				o := c.object(k)
				got := s.Decide(userU, o)
				if c.WantLevel == "no_access" {
					if !got.NoAccess() || got.Level != None {
						t.Errorf("%v: Decide(%v) = %+v, want no access", k, o, got)
					}
				} else if want := mustLevel(t, c.WantLevel); got.Level != want || got.NoAccess() {
					t.Errorf("%v: Decide(%v).Level = %v, want %v", k, o, got.Level, want)
				}
				if got.Source.String() != c.WantSource {
					t.Errorf("%v: Decide(%v).Source = %v, want %v", k, o, got.Source, c.WantSource)
				}
				roleSource := got.Source == SourceRole || got.Source == SourceExplicitRole
				if roleSource != (got.Role != "") || (roleSource && !slices.Contains(s.RolesOf(userU), got.Role)) {
					t.Errorf("%v: Decide(%v).Role = %q, want one of U's roles %q exactly when the source is a role", k, o, got.Role, s.RolesOf(userU))
				}
				_, entered := s.ProjectAccess(userU, o.Project)
				if entered == got.NoAccess() {
					t.Errorf("%v: ProjectAccess ok = %v, but Decide(%v) = %+v", k, entered, o, got)
				}
			}
		})
	}
}

// TestConsequences pins down the table "Consequences that tests must pin down" of
// docs/access-model.md: PostHog's 2023 behaviour for flags, here for every kind, in v1 terms.
func TestConsequences(t *testing.T) {
	const (
		noGrant      = "-"
		otherRole    = "no"  // a grant on O exists, but to a role U is not in
		grantToURole = "yes" // a v1 role access on O for a role of U, which always means editor
	)
	for _, row := range []struct {
		orgDefault int   // 0 = no row
		roleLevels []int // v1 levels of U's roles
		grant      string
		canEdit    bool
	}{
		{0, nil, noGrant, true},
		{37, nil, noGrant, true}, // "any" roles: the next three rows spell out "any"
		{37, []int{21}, noGrant, true},
		{37, []int{37}, noGrant, true},
		{37, []int{21, 37}, noGrant, true},
		{21, nil, noGrant, false},
		{21, nil, otherRole, false},
		{21, []int{21}, otherRole, false},
		{21, []int{21}, grantToURole, true},
		{21, []int{37}, noGrant, true},
		{21, []int{21, 37}, noGrant, true},
		{0, []int{21}, otherRole, false},
		{0, []int{21}, grantToURole, true},
	} {
		name := "default " + strconv.Itoa(row.orgDefault) + " roles " + intsString(row.roleLevels) + " grant " + row.grant
		t.Run(name, func(t *testing.T) {
			for _, k := range Kinds {
				f := Facts{
					Enforced: true,
					Members:  []Member{{User: userU, Level: MemberLevel}, {User: colleague, Level: MemberLevel}},
					Roles:    []Role{{ID: "others", Name: "others", Levels: allLevels(Editor), Members: []int64{colleague}}},
				}
				if row.orgDefault != 0 {
					l, ok := LevelFromV1(row.orgDefault)
					if !ok {
						t.Fatalf("LevelFromV1(%d) failed", row.orgDefault)
					}
					f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: k, Level: l})
				}
				for i, v1 := range row.roleLevels {
					l, _ := LevelFromV1(v1)
					id := "role-" + strconv.Itoa(i)
					f.Roles = append(f.Roles, Role{ID: id, Name: id, Levels: allLevels(l), Members: []int64{userU}})
				}
				switch row.grant {
				case otherRole:
					f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: k, Object: objectID, Role: "others", Level: Editor})
				case grantToURole:
					f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: k, Object: objectID, Role: "role-0", Level: Editor})
				}
				o := Object{ID: objectID, Kind: k, Project: projectP, Creator: colleague}
				got := Compile(f).Decide(userU, o)
				if got.CanEdit() != row.canEdit {
					t.Errorf("%v: Decide(%v) = %+v, CanEdit() = %v, want %v", k, o, got, got.CanEdit(), row.canEdit)
				}
				if !got.CanView() {
					t.Errorf("%v: Decide(%v) = %+v, want at least viewer: v1 rules never refuse viewing", k, o, got)
				}

				// "Creator → always yes. Admin/owner → always yes. Plan without the feature → always yes."
				mine := o
				mine.Creator = userU
				if got := Compile(f).Decide(userU, mine); !got.CanEdit() {
					t.Errorf("%v: creator: Decide(%v) = %+v, want can edit", k, mine, got)
				}
				for _, level := range []int{AdminLevel, OwnerLevel} {
					g := f
					g.Members = []Member{{User: userU, Level: level}}
					if got := Compile(g).Decide(userU, o); !got.CanEdit() {
						t.Errorf("%v: membership %d: Decide(%v) = %+v, want can edit", k, level, o, got)
					}
				}
				free := f
				free.Enforced = false
				if got := Compile(free).Decide(userU, o); !got.CanEdit() {
					t.Errorf("%v: free plan: Decide(%v) = %+v, want can edit", k, o, got)
				}
			}
		})
	}
}

func intsString(ns []int) string {
	s := "{"
	for i, n := range ns {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(n)
	}
	return s + "}"
}

func TestDecideDoesNotAllocate(t *testing.T) {
	f := benchFacts(200, 20, 5000, 2000)
	s := Compile(f.facts)
	var sink Level
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range f.pairs[:100] {
			sink += s.Decide(p.user, p.object).Level
			sink += s.KindLevel(p.user, p.object.Project, p.object.Kind).Level
		}
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times per 100 calls, want 0", allocs)
	}
	_ = sink
}
