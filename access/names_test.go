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

// FuzzParse checks that every parser accepts exactly what the matching String method prints.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "feature_flags", "data management", "action", "viewer", "admin", "Editor"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, ok := KindFromPath(s); ok && k.String() != s {
			t.Errorf("KindFromPath(%q) = %v", s, k)
		}
		if k, ok := KindFromV1(s); ok && k.V1Name() != s {
			t.Errorf("KindFromV1(%q) = %v", s, k)
		}
		if k, ok := KindFromSingular(s); ok && k.Singular() != s {
			t.Errorf("KindFromSingular(%q) = %v", s, k)
		}
		if l, ok := ParseLevel(s); ok && l.String() != s {
			t.Errorf("ParseLevel(%q) = %v", s, l)
		}
		if l, ok := ParseProjectLevel(s); ok && l.String() != s {
			t.Errorf("ParseProjectLevel(%q) = %v", s, l)
		}
	})
}
