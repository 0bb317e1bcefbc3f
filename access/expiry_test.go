package access

import "testing"

// Instants of this file's tests, Unix nanoseconds.
const (
	t0   int64 = 1_000_000_000_000
	hour int64 = 3600_000_000_000
)

func TestCompileLeavesOutExpiredRules(t *testing.T) {
	base := Facts{
		Enforced: true,
		Members:  []Member{{User: alice, Level: OwnerLevel}, {User: bob, Level: MemberLevel}, {User: dave, Level: MemberLevel}},
		Roles:    []Role{{ID: "r-product", Name: "product", Levels: allLevels(Viewer), Members: []int64{bob}}},
	}
	flag := Object{ID: 7, Kind: FeatureFlags, Project: 1}
	for _, tc := range []struct {
		name  string
		rules []Rule
		now   int64
		user  int64
		o     Object
		want  Decision
		kind  bool // decide KindLevel(user, o.Project, o.Kind) instead
		until int64
		valid int64 // an instant ValidAt must accept
		stale int64 // an instant ValidAt must refuse; 0: none
	}{
		{
			name:  "member rule before its expiry",
			rules: []Rule{{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Manager, ExpiresAt: t0 + hour}},
			now:   t0, user: dave, o: flag,
			want:  Decision{Manager, SourceExplicitMember, ""},
			until: t0 + hour, valid: t0 + hour - 1, stale: t0 + hour,
		},
		{
			name:  "member rule at its expiry grants nothing",
			rules: []Rule{{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Manager, ExpiresAt: t0 + hour}},
			now:   t0 + hour, user: dave, o: flag,
			want:  Decision{Editor, SourceDefault, ""},
			valid: t0 + 100*hour,
		},
		{
			name:  "expired private flag is public again",
			rules: []Rule{{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Level: None, ExpiresAt: t0}},
			now:   t0 + 1, user: bob, o: flag,
			want: Decision{Viewer, SourceRole, "r-product"},
		},
		{
			name: "earliest of several expiries bounds the snapshot",
			rules: []Rule{
				{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Level: None, ExpiresAt: t0 + 2*hour},
				{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Editor, ExpiresAt: t0 + hour},
				{Scope: ScopeKind, Kind: Cohorts, Level: Viewer},
			},
			now: t0, user: dave, o: flag,
			want:  Decision{Editor, SourceExplicitMember, ""},
			until: t0 + hour, valid: t0, stale: t0 + hour,
		},
		{
			name: "an expired rule does not bound the snapshot",
			rules: []Rule{
				{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Level: None, ExpiresAt: t0 + 2*hour},
				{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Editor, ExpiresAt: t0 + hour},
			},
			now: t0 + hour, user: dave, o: flag,
			want:  Decision{None, SourceObjectDefault, ""},
			until: t0 + 2*hour, valid: t0 + hour, stale: t0 + 2*hour,
		},
		{
			name:  "kind rule expires",
			rules: []Rule{{Scope: ScopeKind, Kind: FeatureFlags, Project: 1, User: dave, Level: Viewer, ExpiresAt: t0 + hour}},
			now:   t0 + 2*hour, user: dave, o: flag, kind: true,
			want: Decision{Editor, SourceDefault, ""},
		},
		{
			name:  "organization-wide kind rule before expiry",
			rules: []Rule{{Scope: ScopeKind, Kind: FeatureFlags, Level: Viewer, ExpiresAt: t0 + hour}},
			now:   t0, user: dave, o: flag, kind: true,
			want:  Decision{Viewer, SourceOrganizationDefault, ""},
			until: t0 + hour, valid: t0, stale: t0 + hour,
		},
		{
			name:  "project rule expires",
			rules: []Rule{{Scope: ScopeProject, Project: 1, ProjectLevel: ProjectNone, ExpiresAt: t0 + hour}},
			now:   t0 + hour, user: dave, o: flag,
			want: Decision{Editor, SourceDefault, ""},
		},
		{
			name:  "project rule before expiry",
			rules: []Rule{{Scope: ScopeProject, Project: 1, ProjectLevel: ProjectNone, ExpiresAt: t0 + hour}},
			now:   t0, user: dave, o: flag,
			want:  Decision{None, SourceProject, ""},
			until: t0 + hour, valid: t0, stale: t0 + hour,
		},
		{
			name:  "permanent rules never go stale",
			rules: []Rule{{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Viewer}},
			now:   t0, user: dave, o: flag,
			want:  Decision{Viewer, SourceExplicitMember, ""},
			valid: 1 << 62,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			f.Rules, f.Now = tc.rules, tc.now
			s := Compile(f)
			var got Decision
			if tc.kind {
				got = s.KindLevel(tc.user, tc.o.Project, tc.o.Kind)
			} else {
				got = s.Decide(tc.user, tc.o)
			}
			if got != tc.want {
				t.Errorf("Decide(%d, %+v) at %d = %+v, want %+v", tc.user, tc.o, tc.now, got, tc.want)
			}
			if got := s.ValidUntil(); got != tc.until {
				t.Errorf("ValidUntil() = %d, want %d", got, tc.until)
			}
			if !s.ValidAt(tc.valid) {
				t.Errorf("ValidAt(%d) = false, want true (ValidUntil %d)", tc.valid, s.ValidUntil())
			}
			if tc.stale != 0 && s.ValidAt(tc.stale) {
				t.Errorf("ValidAt(%d) = true, want false (ValidUntil %d)", tc.stale, s.ValidUntil())
			}
		})
	}
}

// A snapshot compiled before an expiry and one compiled after it differ on what the
// expired rule decided, so a write authorized before the instant is authorized again
// rather than completed on the rule that no longer grants anything.
func TestHoldsAcrossAnExpiry(t *testing.T) {
	f := Facts{
		Enforced: true,
		Members:  []Member{{User: alice, Level: OwnerLevel}, {User: dave, Level: MemberLevel}, {User: bob, Level: MemberLevel}},
		Rules: []Rule{
			{Scope: ScopeKind, Kind: FeatureFlags, Level: Viewer},
			{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Editor, ExpiresAt: t0 + hour},
		},
	}
	f.Now = t0
	before := Compile(f)
	f.Now = t0 + hour
	after := Compile(f)
	flag := Object{ID: 7, Kind: FeatureFlags, Project: 1}
	if before.Holds(after, Standing{User: dave, Project: 1, Object: flag}) {
		t.Errorf("Holds(after the expiry) for the rule's member = true, want false")
	}
	if !before.Holds(after, Standing{User: bob, Project: 1, Object: flag}) {
		t.Errorf("Holds(after the expiry) for a member the rule did not reach = false, want true")
	}
}
