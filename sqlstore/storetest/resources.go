package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

func testResources(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	org, p := e.org("Acme", alice)
	p2 := e.project(org.ID, "Second")

	// Data comes back byte for byte, whitespace and key order included.
	const data = `{"name": "Top secret",  "filters":{"groups":[{"properties":[],"rollout_percentage":null}]}, "active":true}`
	flag := &gatehouse.Resource{ProjectID: p.ID, Kind: access.FeatureFlags, Key: "top-secret", CreatedBy: alice.ID, Data: json.RawMessage(data)}
	if err := s.CreateResource(ctx, flag); err != nil {
		t.Fatalf("CreateResource(flag) = %v", err)
	}
	if flag.ID == 0 || flag.CreatedAt.IsZero() || !flag.UpdatedAt.Equal(flag.CreatedAt) {
		t.Errorf("CreateResource set %+v, want ID, CreatedAt = UpdatedAt", flag)
	}
	got, err := s.Resource(ctx, p.ID, access.FeatureFlags, flag.ID)
	if err != nil {
		t.Fatalf("Resource(flag) = %v", err)
	}
	if diff := cmp.Diff(flag, got); diff != "" {
		t.Errorf("Resource(flag) mismatch (-want +got):\n%s", diff)
	}
	if string(got.Data) != data {
		t.Errorf("Resource(flag).Data = %s, want %s", got.Data, data)
	}
	anonymous := &gatehouse.Resource{ProjectID: p.ID, Kind: access.Cohorts}
	if err := s.CreateResource(ctx, anonymous); err != nil {
		t.Fatalf("CreateResource(no key, no data, no creator) = %v", err)
	}
	if got, err := s.Resource(ctx, p.ID, access.Cohorts, anonymous.ID); err != nil || string(got.Data) != "{}" || got.CreatedBy != 0 || got.Key != "" {
		t.Errorf("Resource(anonymous) = %+v, %v, want data {}, no creator, no key", got, err)
	}
	for _, c := range []struct {
		name    string
		project int64
		kind    access.Kind
	}{
		{"other kind", p.ID, access.Experiments},
		{"other project", p2.ID, access.FeatureFlags},
	} {
		_, err := s.Resource(ctx, c.project, c.kind, flag.ID)
		wantNotFound(t, "Resource("+c.name+")", err)
	}
	err = s.CreateResource(ctx, &gatehouse.Resource{ProjectID: p2.ID + 1000, Kind: access.Cohorts})
	wantNotFound(t, "CreateResource(unknown project)", err)

	// Keys are unique per project and kind among live resources.
	keyTests := []struct {
		project int64
		kind    access.Kind
		key     string
		detail  string // "" = allowed
	}{
		{p.ID, access.FeatureFlags, "top-secret", "There is already a feature flag with this key."},
		{p.ID, access.Insights, "top-secret", ""},
		{p2.ID, access.FeatureFlags, "top-secret", ""},
		{p.ID, access.FeatureFlags, "Top-Secret", ""}, // keys are case-sensitive, as PostHog's
		{p.ID, access.Insights, "top-secret", "There is already an insight with this key."},
		{p.ID, access.Cohorts, "", ""},
		{p.ID, access.Cohorts, "", ""},
	}
	for _, tt := range keyTests {
		r := &gatehouse.Resource{ProjectID: tt.project, Kind: tt.kind, Key: tt.key}
		err := s.CreateResource(ctx, r)
		call := "CreateResource(" + tt.kind.String() + ", " + tt.key + ")"
		if tt.detail == "" {
			if err != nil {
				t.Errorf("%s = %v, want success", call, err)
			}
			continue
		}
		wantDetail(t, call, err, gatehouse.EUnique, "key", tt.detail)
	}

	byKey, err := s.ResourceByKey(ctx, p.ID, access.FeatureFlags, "top-secret")
	if err != nil || byKey.ID != flag.ID {
		t.Errorf("ResourceByKey(top-secret) = %+v, %v, want the flag", byKey, err)
	}
	for _, key := range []string{"", "nope"} {
		_, err := s.ResourceByKey(ctx, p.ID, access.FeatureFlags, key)
		wantNotFound(t, "ResourceByKey("+key+")", err)
	}

	// UpdateResource saves Key, Deleted and Data.
	flag.Data = json.RawMessage(`{"name":"Renamed"}`)
	if err := s.UpdateResource(ctx, flag); err != nil {
		t.Fatalf("UpdateResource(data) = %v", err)
	}
	if got, _ := s.Resource(ctx, p.ID, access.FeatureFlags, flag.ID); got == nil || string(got.Data) != `{"name":"Renamed"}` ||
		!got.CreatedAt.Equal(flag.CreatedAt) || got.UpdatedAt.Before(got.CreatedAt) || got.CreatedBy != alice.ID {
		t.Errorf("Resource after UpdateResource = %+v, want new data, same creation", got)
	}
	taken := e.resource(p.ID, access.FeatureFlags, "taken", alice.ID)
	taken.Key = "top-secret"
	wantError(t, "UpdateResource(to a taken key)", s.UpdateResource(ctx, taken), gatehouse.EUnique, "key")
	wantNotFound(t, "UpdateResource(unknown)", s.UpdateResource(ctx, &gatehouse.Resource{ID: flag.ID + 1000, ProjectID: p.ID, Kind: access.FeatureFlags}))
	wantNotFound(t, "UpdateResource(wrong kind)", s.UpdateResource(ctx, &gatehouse.Resource{ID: flag.ID, ProjectID: p.ID, Kind: access.Dashboards}))

	// A soft-deleted resource frees its key; restoring it then conflicts.
	flag.Deleted = true
	if err := s.UpdateResource(ctx, flag); err != nil {
		t.Fatalf("UpdateResource(deleted) = %v", err)
	}
	_, err = s.ResourceByKey(ctx, p.ID, access.FeatureFlags, "top-secret")
	wantNotFound(t, "ResourceByKey(soft-deleted)", err)
	if got, err := s.Resource(ctx, p.ID, access.FeatureFlags, flag.ID); err != nil || !got.Deleted {
		t.Errorf("Resource(soft-deleted) = %+v, %v, want it, deleted", got, err)
	}
	reuse := e.resource(p.ID, access.FeatureFlags, "top-secret", alice.ID)
	if got, err := s.ResourceByKey(ctx, p.ID, access.FeatureFlags, "top-secret"); err != nil || got.ID != reuse.ID {
		t.Errorf("ResourceByKey(reused key) = %+v, %v, want the new flag %d", got, err, reuse.ID)
	}
	flag.Deleted = false
	wantDetail(t, "UpdateResource(restore onto a reused key)", s.UpdateResource(ctx, flag),
		gatehouse.EUnique, "key", "There is already a feature flag with this key.")
	flag.Deleted = true
	second := e.resource(p.ID, access.FeatureFlags, "second", alice.ID)
	second.Deleted = true
	if err := s.UpdateResource(ctx, second); err != nil {
		t.Fatalf("UpdateResource(second deleted) = %v", err)
	}
	second.Key = "top-secret" // two deleted resources may share a key
	if err := s.UpdateResource(ctx, second); err != nil {
		t.Errorf("UpdateResource(deleted, to a key a deleted one has) = %v, want success", err)
	}

	// DeleteResource removes it for good, with its rules.
	rule := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: reuse.ID, Level: access.Viewer}, alice.ID)
	other := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: taken.ID, Level: access.Viewer}, alice.ID)
	rev := e.revision(org.ID)
	if err := s.DeleteResource(ctx, p.ID, access.FeatureFlags, reuse.ID); err != nil {
		t.Fatalf("DeleteResource() = %v", err)
	}
	_, err = s.Resource(ctx, p.ID, access.FeatureFlags, reuse.ID)
	wantNotFound(t, "Resource(deleted)", err)
	_, err = s.Rule(ctx, org.ID, rule.ID)
	wantNotFound(t, "Rule(on a deleted resource)", err)
	if _, err := s.Rule(ctx, org.ID, other.ID); err != nil {
		t.Errorf("Rule(on another resource) = %v, want it kept", err)
	}
	if got := e.revision(org.ID); got <= rev {
		t.Errorf("RulesRevision after DeleteResource with rules = %d, want > %d", got, rev)
	}
	wantNotFound(t, "DeleteResource(deleted)", s.DeleteResource(ctx, p.ID, access.FeatureFlags, reuse.ID))
}

func testResourceHeads(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	org, p := e.org("Acme", alice)
	p2 := e.project(org.ID, "Second")

	var want []access.Object
	for i := range 5 {
		creator := alice.ID
		if i == 2 {
			creator = 0
		}
		r := e.resource(p.ID, access.Dashboards, "", creator)
		want = append(want, r.Object())
		e.resource(p.ID, access.Insights, "", alice.ID)    // other kind
		e.resource(p2.ID, access.Dashboards, "", alice.ID) // other project
	}
	gone := e.resource(p.ID, access.Dashboards, "", alice.ID)
	gone.Deleted = true
	if err := s.UpdateResource(ctx, gone); err != nil {
		t.Fatalf("UpdateResource(deleted) = %v", err)
	}
	slices.Reverse(want) // newest first
	got, err := s.ResourceHeads(ctx, p.ID, access.Dashboards)
	if err != nil {
		t.Fatalf("ResourceHeads() = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResourceHeads() mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.ResourceHeads(ctx, p.ID, access.Actions); err != nil || len(got) != 0 {
		t.Errorf("ResourceHeads(no actions) = %v, %v, want none", got, err)
	}
}

func testResourcesByID(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	_, p := e.org("Acme", alice)
	const n = 520 // more than one query's worth of ids
	var all []gatehouse.Resource
	for range n {
		all = append(all, *e.resource(p.ID, access.Actions, "", alice.ID))
	}
	ids := func(rs []gatehouse.Resource) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		ids  []int64
		want []gatehouse.Resource
	}{
		{"none", nil, nil},
		{"given order", []int64{all[2].ID, all[0].ID, all[1].ID}, []gatehouse.Resource{all[2], all[0], all[1]}},
		{"unknown left out", []int64{all[1].ID, all[n-1].ID + 1000, all[0].ID}, []gatehouse.Resource{all[1], all[0]}},
		{"many, reversed", ids(reversed(all)), reversed(all)},
	}
	for _, tt := range tests {
		got, err := s.ResourcesByID(ctx, tt.ids)
		if err != nil {
			t.Errorf("ResourcesByID(%s) = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(ids(tt.want), ids(got)); diff != "" {
			t.Errorf("ResourcesByID(%s) ids mismatch (-want +got):\n%s", tt.name, diff)
		} else if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ResourcesByID(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
		// Appending first, while the heads may not be in memory yet: what dst
		// holds stays, the heads come after it, on either path.
		kept := access.Object{ID: -1, Project: -2, Creator: -3}
		appended, err := s.HeadsByID(ctx, []access.Object{kept}, tt.ids)
		if err != nil || len(appended) == 0 || appended[0] != kept {
			t.Errorf("HeadsByID(%s) onto a head = %+v, %v; want the head first", tt.name, appended, err)
			continue
		}
		heads, err := s.HeadsByID(ctx, nil, tt.ids)
		if err != nil {
			t.Errorf("HeadsByID(%s) = %v", tt.name, err)
			continue
		}
		if len(appended) != len(heads)+1 {
			t.Errorf("HeadsByID(%s) onto a head gave %d heads after it, alone %d", tt.name, len(appended)-1, len(heads))
		}
		var wantHeads []access.Object
		for i := range tt.want {
			wantHeads = append(wantHeads, tt.want[i].Object())
		}
		byID := func(a, b access.Object) int {
			switch {
			case a.ID < b.ID:
				return -1
			case a.ID > b.ID:
				return 1
			}
			return 0
		}
		slices.SortFunc(heads, byID)
		slices.SortFunc(wantHeads, byID)
		if diff := cmp.Diff(wantHeads, heads, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("HeadsByID(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// testResourceHeadsLive: a kind's list holds its live objects in the project,
// newest first, and nothing else: not deleted ones, not other kinds, not
// other projects' (whatever rules they carry).
func testResourceHeadsLive(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	_, op := e.org("Other", bob)
	e.join(org.ID, bob, access.MemberLevel)

	var flags []*gatehouse.Resource // oldest first
	for i := range 6 {
		creator := alice.ID
		if i%2 == 1 {
			creator = bob.ID
		}
		flags = append(flags, e.resource(p.ID, access.FeatureFlags, "", creator))
	}
	cohort := e.resource(p.ID, access.Cohorts, "", bob.ID)
	gone := e.resource(p.ID, access.FeatureFlags, "", bob.ID)
	gone.Deleted = true
	if err := s.UpdateResource(ctx, gone); err != nil {
		t.Fatalf("UpdateResource(deleted) = %v", err)
	}
	e.resource(op.ID, access.FeatureFlags, "", bob.ID)
	for _, f := range []*gatehouse.Resource{flags[0], flags[3], gone} {
		e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: f.ID, Level: access.Viewer}, alice.ID)
	}

	heads := func(rs ...*gatehouse.Resource) []access.Object {
		out := []access.Object{}
		for _, r := range slices.Backward(rs) { // newest first
			out = append(out, r.Object())
		}
		return out
	}
	tests := []struct {
		project int64
		kind    access.Kind
		want    []access.Object
	}{
		{p.ID, access.FeatureFlags, heads(flags...)},
		{p.ID, access.Cohorts, heads(cohort)},
		{p.ID, access.Insights, heads()},
		{op.ID + 1000, access.FeatureFlags, heads()},
	}
	for _, tt := range tests {
		got, err := s.ResourceHeads(ctx, tt.project, tt.kind)
		if err != nil {
			t.Errorf("ResourceHeads(%d, %v) = %v", tt.project, tt.kind, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ResourceHeads(%d, %v) mismatch (-want +got):\n%s", tt.project, tt.kind, diff)
		}
	}
	if got, err := s.ResourceHeads(ctx, op.ID, access.FeatureFlags); err != nil || len(got) != 1 {
		t.Errorf("ResourceHeads(other project) = %v, %v, want its one flag", got, err)
	}
}
