package access

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPreview(t *testing.T) {
	base := exampleFacts()
	flag7 := Object{ID: 7, Kind: FeatureFlags, Project: 1}
	flag8 := Object{ID: 8, Kind: FeatureFlags, Project: 1}
	flagsIn1 := Object{Kind: FeatureFlags, Project: 1}
	withRule := func(r Rule) Facts {
		f := base
		f.Rules = append(append([]Rule(nil), base.Rules...), r)
		return f
	}
	for _, tc := range []struct {
		name     string
		after    Facts
		asker    int64
		subjects []Object
		want     []PreviewChange
	}{
		{
			name:     "making a flag private: everyone but the admins and the role granted on it loses it",
			after:    withRule(Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Level: None}),
			asker:    alice,
			subjects: []Object{flag7},
			want: []PreviewChange{
				{User: dave, Subject: flag7, Before: Decision{Viewer, SourceOrganizationDefault, ""}, After: Decision{None, SourceObjectDefault, ""}},
			},
		},
		{
			name:     "a member rule on the kind",
			after:    withRule(Rule{Scope: ScopeKind, Kind: FeatureFlags, Project: 1, User: dave, Level: Manager}),
			asker:    erin,
			subjects: []Object{flagsIn1, flag7, flag8},
			want: []PreviewChange{
				{User: dave, Subject: flagsIn1, Before: Decision{Viewer, SourceOrganizationDefault, ""}, After: Decision{Manager, SourceExplicitMember, ""}},
				{User: dave, Subject: flag7, Before: Decision{Viewer, SourceOrganizationDefault, ""}, After: Decision{Manager, SourceExplicitMember, ""}},
				// flag 8 is private: its object rule decides, the kind rule changes nothing there.
			},
		},
		{
			name:     "a member who may not manage sees only their own line",
			after:    withRule(Rule{Scope: ScopeKind, Kind: FeatureFlags, Project: 1, Level: Editor}),
			asker:    dave,
			subjects: []Object{flagsIn1},
			want: []PreviewChange{
				{User: dave, Subject: flagsIn1, Before: Decision{Viewer, SourceOrganizationDefault, ""}, After: Decision{Editor, SourceOrganizationDefault, ""}},
			},
		},
		{
			name:     "a subject hidden from the asker shows nothing",
			after:    withRule(Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: 8, User: bob, Level: Editor}),
			asker:    dave,
			subjects: []Object{flag8},
		},
		{
			name:     "an expired rule in the proposal changes nothing",
			after:    withRule(Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Level: None, ExpiresAt: 1}),
			asker:    alice,
			subjects: []Object{flag7},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base
			before.Now, tc.after.Now = 10, 10
			got := Preview(Compile(before), Compile(tc.after), tc.asker, tc.subjects)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Preview() mismatch (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if c.Gains() == c.Loses() {
					t.Errorf("change %+v gains %v and loses %v", c, c.Gains(), c.Loses())
				}
			}
		})
	}
}
