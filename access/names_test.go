package access

import "testing"

func TestKindNames(t *testing.T) {
	want := []struct {
		kind                     Kind
		path, v1, singular, noun string
	}{
		{FeatureFlags, "feature_flags", "feature flags", "feature_flag", "feature flag"},
		{Experiments, "experiments", "experiments", "experiment", "experiment"},
		{Cohorts, "cohorts", "cohorts", "cohort", "cohort"},
		{SessionRecordings, "session_recordings", "session recordings", "session_recording", "session recording"},
		{Insights, "insights", "insights", "insight", "insight"},
		{Dashboards, "dashboards", "dashboards", "dashboard", "dashboard"},
		{Actions, "actions", "data management", "action", "action"},
	}
	if len(want) != int(NumKinds) {
		t.Fatalf("table has %d kinds, want %d", len(want), NumKinds)
	}
	for i, w := range want {
		if Kinds[i] != w.kind {
			t.Errorf("Kinds[%d] = %v, want %v", i, Kinds[i], w.kind)
		}
		if got := w.kind.String(); got != w.path {
			t.Errorf("Kind(%d).String() = %q, want %q", w.kind, got, w.path)
		}
		if got := w.kind.V1Name(); got != w.v1 {
			t.Errorf("Kind(%d).V1Name() = %q, want %q", w.kind, got, w.v1)
		}
		if got := w.kind.Singular(); got != w.singular {
			t.Errorf("Kind(%d).Singular() = %q, want %q", w.kind, got, w.singular)
		}
		if got := w.kind.Noun(); got != w.noun {
			t.Errorf("Kind(%d).Noun() = %q, want %q", w.kind, got, w.noun)
		}
		for _, parse := range []struct {
			name string
			fn   func(string) (Kind, bool)
			in   string
		}{
			{"KindFromPath", KindFromPath, w.path},
			{"KindFromV1", KindFromV1, w.v1},
			{"KindFromSingular", KindFromSingular, w.singular},
		} {
			if got, ok := parse.fn(parse.in); !ok || got != w.kind {
				t.Errorf("%s(%q) = %v, %v, want %v, true", parse.name, parse.in, got, ok, w.kind)
			}
		}
	}
	for _, bad := range []string{"", "Feature_Flags", "feature flag", "data_management", "actions "} {
		if k, ok := KindFromPath(bad); ok {
			t.Errorf("KindFromPath(%q) = %v, true, want false", bad, k)
		}
	}
	if _, ok := KindFromV1("actions"); ok {
		t.Errorf("KindFromV1(%q) ok, want false: v1 calls actions \"data management\"", "actions")
	}
	if got := NumKinds.String(); got != "Kind(7)" {
		t.Errorf("NumKinds.String() = %q, want %q", got, "Kind(7)")
	}
}

func TestLevelNames(t *testing.T) {
	for _, tc := range []struct {
		level Level
		name  string
		v1    int
	}{
		{None, "none", 0},
		{Viewer, "viewer", 21},
		{Editor, "editor", 37},
		{Manager, "manager", 37},
	} {
		if got := tc.level.String(); got != tc.name {
			t.Errorf("Level(%d).String() = %q, want %q", tc.level, got, tc.name)
		}
		if got, ok := ParseLevel(tc.name); !ok || got != tc.level {
			t.Errorf("ParseLevel(%q) = %v, %v, want %v, true", tc.name, got, ok, tc.level)
		}
		if got := tc.level.V1(); got != tc.v1 {
			t.Errorf("Level(%v).V1() = %d, want %d", tc.level, got, tc.v1)
		}
	}
	for _, tc := range []struct {
		n    int
		want Level
		ok   bool
	}{{21, Viewer, true}, {37, Editor, true}, {0, None, false}, {22, None, false}, {-21, None, false}} {
		if got, ok := LevelFromV1(tc.n); got != tc.want || ok != tc.ok {
			t.Errorf("LevelFromV1(%d) = %v, %v, want %v, %v", tc.n, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := ParseLevel("Editor"); ok {
		t.Errorf("ParseLevel(%q) ok, want false", "Editor")
	}
}

func TestProjectLevelNames(t *testing.T) {
	for l, name := range []string{"none", "member", "admin"} {
		if got := ProjectLevel(l).String(); got != name {
			t.Errorf("ProjectLevel(%d).String() = %q, want %q", l, got, name)
		}
		if got, ok := ParseProjectLevel(name); !ok || got != ProjectLevel(l) {
			t.Errorf("ParseProjectLevel(%q) = %v, %v, want %v, true", name, got, ok, ProjectLevel(l))
		}
	}
	if _, ok := ParseProjectLevel("owner"); ok {
		t.Errorf("ParseProjectLevel(%q) ok, want false", "owner")
	}
}

func TestSourceNames(t *testing.T) {
	want := []string{"organization", "project", "creator", "organization_admin", "project_admin",
		"explicit_member", "explicit_role", "object_default", "organization_default", "role", "default"}
	for s, name := range want {
		if got := Source(s).String(); got != name {
			t.Errorf("Source(%d).String() = %q, want %q", s, got, name)
		}
	}
	if got := SourceDefault; got != Source(len(want)-1) {
		t.Errorf("SourceDefault = %d, want %d", got, len(want)-1)
	}
}

func TestDecisionPredicates(t *testing.T) {
	for _, tc := range []struct {
		d                            Decision
		noAccess, view, edit, manage bool
	}{
		{Decision{None, SourceOrganization, ""}, true, false, false, false},
		{Decision{None, SourceProject, ""}, true, false, false, false},
		{Decision{None, SourceObjectDefault, ""}, false, false, false, false},
		{Decision{Viewer, SourceOrganizationDefault, ""}, false, true, false, false},
		{Decision{Editor, SourceRole, "r"}, false, true, true, false},
		{Decision{Manager, SourceCreator, ""}, false, true, true, true},
	} {
		if got := tc.d.NoAccess(); got != tc.noAccess {
			t.Errorf("%+v.NoAccess() = %v, want %v", tc.d, got, tc.noAccess)
		}
		if got := tc.d.CanView(); got != tc.view {
			t.Errorf("%+v.CanView() = %v, want %v", tc.d, got, tc.view)
		}
		if got := tc.d.CanEdit(); got != tc.edit {
			t.Errorf("%+v.CanEdit() = %v, want %v", tc.d, got, tc.edit)
		}
		if got := tc.d.CanManage(); got != tc.manage {
			t.Errorf("%+v.CanManage() = %v, want %v", tc.d, got, tc.manage)
		}
	}
}

// parsers are the string parsers of names.go with their printers: values 0..n-1 print, and
// each parser must accept exactly those printed forms, one spelling per value.
var parsers = []struct {
	name  string
	n     int
	print func(v int) string
	parse func(s string) (v int, ok bool)
}{
	{"KindFromPath", int(NumKinds), func(v int) string { return Kind(v).String() },
		func(s string) (int, bool) { k, ok := KindFromPath(s); return int(k), ok }},
	{"KindFromV1", int(NumKinds), func(v int) string { return Kind(v).V1Name() },
		func(s string) (int, bool) { k, ok := KindFromV1(s); return int(k), ok }},
	{"KindFromSingular", int(NumKinds), func(v int) string { return Kind(v).Singular() },
		func(s string) (int, bool) { k, ok := KindFromSingular(s); return int(k), ok }},
	{"ParseLevel", int(Manager) + 1, func(v int) string { return Level(v).String() },
		func(s string) (int, bool) { l, ok := ParseLevel(s); return int(l), ok }},
	{"ParseProjectLevel", int(ProjectAdmin) + 1, func(v int) string { return ProjectLevel(v).String() },
		func(s string) (int, bool) { l, ok := ParseProjectLevel(s); return int(l), ok }},
}

// TestParsePrinted: every value's printed form parses back to it; the form an out-of-range
// value prints ("Kind(7)") does not parse.
func TestParsePrinted(t *testing.T) {
	for _, p := range parsers {
		for v := range p.n {
			if got, ok := p.parse(p.print(v)); !ok || got != v {
				t.Errorf("%s(%q) = %d, %v, want %d, true", p.name, p.print(v), got, ok, v)
			}
		}
		for _, v := range []int{p.n, 255} {
			if got, ok := p.parse(p.print(v)); ok {
				t.Errorf("%s(%q) = %d, true, want false: %d is not a value", p.name, p.print(v), got, v)
			}
		}
	}
}

// TestLevelV1Aliases pins the one place where names are not one-to-one: v1 integers. V1
// prints 37 for both Editor and Manager (v1 has no manager; a manager can always edit) and
// 0 for None (v1 cannot hide anything), and LevelFromV1 accepts 21 and 37 only.
func TestLevelV1Aliases(t *testing.T) {
	for _, tc := range []struct {
		level  Level
		v1     int
		parsed Level
		ok     bool
	}{
		{None, 0, None, false},
		{Viewer, 21, Viewer, true},
		{Editor, 37, Editor, true},
		{Manager, 37, Editor, true},
	} {
		if got := tc.level.V1(); got != tc.v1 {
			t.Errorf("Level(%v).V1() = %d, want %d", tc.level, got, tc.v1)
		}
		if got, ok := LevelFromV1(tc.level.V1()); got != tc.parsed || ok != tc.ok {
			t.Errorf("LevelFromV1(%d) = %v, %v, want %v, %v", tc.level.V1(), got, ok, tc.parsed, tc.ok)
		}
	}
}

// FuzzParse checks the other direction: every string a parser accepts is a value's printed
// form, exactly (no case variants, spaces or other aliases), and every integer LevelFromV1
// accepts is what V1 prints for the level it returns.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "feature_flags", "data management", "action", "viewer", "admin", "Editor",
		"Kind(7)", "Level(4)", " none", "NONE", "feature-flags", "37"} {
		f.Add(s, 0)
	}
	for _, n := range []int{21, 37, 22, -21, 0, 21 + 1<<32} {
		f.Add("", n)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		for _, p := range parsers {
			if v, ok := p.parse(s); ok && (v >= p.n || p.print(v) != s) {
				t.Errorf("%s(%q) = %d, true: prints as %q", p.name, s, v, p.print(v))
			}
		}
		if l, ok := LevelFromV1(n); ok && l.V1() != n {
			t.Errorf("LevelFromV1(%d) = %v, true: V1 prints %d", n, l, l.V1())
		}
	})
}
