package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// testReadsAfterWrites: the reads every request makes (a key's user, a
// project and its organization, object heads) may be served from memory, so
// each is read once before the write that changes it and must come back
// changed right after. Writes the store cannot see are not in its contract.
func testReadsAfterWrites(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	now := time.Now()
	u := e.user("fresh@example.com")
	org, p := e.org("Fresh", u)
	key := &gatehouse.APIKey{UserID: u.ID, Label: "k", ValueHash: "fresh-hash", MaskValue: "phx_…h"}
	if err := s.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	keyGone := false
	warm := func() {
		t.Helper()
		for range 2 {
			if _, err := s.APIKeyUser(ctx, "fresh-hash", now); err != nil && !keyGone {
				t.Fatalf("APIKeyUser() = %v", err)
			}
			if _, _, err := s.ProjectOrganization(ctx, p.ID); err != nil {
				t.Fatalf("ProjectOrganization() = %v", err)
			}
			if _, err := s.Organization(ctx, org.ID); err != nil {
				t.Fatalf("Organization() = %v", err)
			}
		}
	}

	warm()
	u.FirstName = "Renamed"
	u.CurrentProjectID = p.ID
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.APIKeyUser(ctx, "fresh-hash", now); err != nil || got.FirstName != "Renamed" || got.CurrentProjectID != p.ID {
		t.Errorf("APIKeyUser() after UpdateUser = %+v, %v, want the new name and project", got, err)
	}

	warm()
	org.Name = "Fresh renamed"
	if err := s.UpdateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.ProjectOrganization(ctx, p.ID); err != nil || got.Name != "Fresh renamed" {
		t.Errorf("ProjectOrganization() after UpdateOrganization = %+v, %v, want the new name", got, err)
	}
	if got, err := s.Organization(ctx, org.ID); err != nil || got.Name != "Fresh renamed" {
		t.Errorf("Organization() after UpdateOrganization = %+v, %v, want the new name", got, err)
	}

	warm()
	p.Name = "Project renamed"
	if err := s.UpdateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ProjectOrganization(ctx, p.ID); err != nil || got.Name != "Project renamed" {
		t.Errorf("ProjectOrganization() after UpdateProject = %+v, %v, want the new name", got, err)
	}

	warm()
	before := e.revision(org.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}, u.ID)
	if _, got, err := s.ProjectOrganization(ctx, p.ID); err != nil || got.RulesRevision <= before {
		t.Errorf("ProjectOrganization() after a rule change: revision %d, %v, want past %d", got.RulesRevision, err, before)
	}
	if got, err := s.Organization(ctx, org.ID); err != nil || got.RulesRevision <= before {
		t.Errorf("Organization() after a rule change: revision %d, %v, want past %d", got.RulesRevision, err, before)
	}

	r1 := e.resource(p.ID, access.FeatureFlags, "a", u.ID)
	r2 := e.resource(p.ID, access.FeatureFlags, "b", 0)
	for range 2 {
		heads, err := s.HeadsByID(ctx, nil, []int64{r1.ID, r2.ID, 1 << 40})
		if err != nil || len(heads) != 2 {
			t.Fatalf("HeadsByID() = %+v, %v, want two heads", heads, err)
		}
		for _, h := range heads {
			want := access.Object{ID: h.ID, Project: p.ID, Kind: access.FeatureFlags}
			if h.ID == r1.ID {
				want.Creator = u.ID
			}
			if h != want {
				t.Errorf("HeadsByID() head %+v, want %+v", h, want)
			}
		}
	}
	// Whole rows, by id and by list: an update, then a delete, shows at once.
	rows := func(want string) {
		t.Helper()
		for range 2 {
			got, err := s.Resource(ctx, p.ID, access.FeatureFlags, r1.ID)
			if err != nil || got.Key != want {
				t.Fatalf("Resource() = %+v, %v, want key %q", got, err, want)
			}
			rs, err := s.ResourcesByID(ctx, []int64{r2.ID, r1.ID})
			if err != nil || len(rs) != 2 || rs[1].Key != want {
				t.Fatalf("ResourcesByID() = %+v, %v, want %q second", rs, err, want)
			}
		}
		if _, err := s.Resource(ctx, p.ID, access.Insights, r1.ID); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			t.Errorf("Resource() as another kind = %v, want not found", err)
		}
		if _, err := s.Resource(ctx, p.ID+1_000_000, access.FeatureFlags, r1.ID); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			t.Errorf("Resource() through another project = %v, want not found", err)
		}
	}
	rows("a")
	if _, err := s.UpdateResourceFunc(ctx, p.ID, access.FeatureFlags, r1.ID, func(r *gatehouse.Resource) error {
		r.Key = "a2"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rows("a2")
	if err := s.DeleteResource(ctx, p.ID, access.FeatureFlags, r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resource(ctx, p.ID, access.FeatureFlags, r1.ID); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		t.Errorf("Resource() after DeleteResource = %v, want not found", err)
	}
	if rs, err := s.ResourcesByID(ctx, []int64{r1.ID, r2.ID}); err != nil || len(rs) != 1 {
		t.Errorf("ResourcesByID() after DeleteResource = %+v, %v, want only %d", rs, err, r2.ID)
	}
	if heads, err := s.HeadsByID(ctx, nil, []int64{r1.ID, r2.ID}); err != nil || len(heads) != 1 || heads[0].ID != r2.ID {
		t.Errorf("HeadsByID() after DeleteResource = %+v, %v, want only %d", heads, err, r2.ID)
	}

	// A kind's whole list: every change of which objects are live shows.
	listed := func() []int64 {
		t.Helper()
		var ids []int64
		for range 2 {
			heads, err := s.ResourceHeads(ctx, p.ID, access.FeatureFlags)
			if err != nil {
				t.Fatal(err)
			}
			ids = ids[:0]
			for _, h := range heads {
				ids = append(ids, h.ID)
			}
		}
		return ids
	}
	if got := listed(); len(got) != 1 || got[0] != r2.ID {
		t.Fatalf("ResourceHeads() = %v, want [%d]", got, r2.ID)
	}
	r3 := e.resource(p.ID, access.FeatureFlags, "c", u.ID)
	if got := listed(); len(got) != 2 || got[0] != r3.ID {
		t.Errorf("ResourceHeads() after CreateResource = %v, want %d first", got, r3.ID)
	}
	r3.Deleted = true
	if err := s.UpdateResource(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 1 {
		t.Errorf("ResourceHeads() after a soft delete = %v, want only %d", got, r2.ID)
	}
	r3.Deleted = false
	if err := s.UpdateResource(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 2 {
		t.Errorf("ResourceHeads() after undeleting = %v, want two", got)
	}
	if err := s.DeleteResource(ctx, p.ID, access.FeatureFlags, r3.ID); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 1 {
		t.Errorf("ResourceHeads() after DeleteResource = %v, want only %d", got, r2.ID)
	}
	for range 2 {
		if us, err := s.UsersByID(ctx, []int64{u.ID}); err != nil || len(us) != 1 {
			t.Fatalf("UsersByID() = %+v, %v", us, err)
		}
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.FirstName != u.FirstName {
		t.Fatalf("User() = %+v, %v", got, err)
	}
	u.FirstName = "Renamed again"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if us, err := s.UsersByID(ctx, []int64{u.ID}); err != nil || len(us) != 1 || us[0].FirstName != "Renamed again" {
		t.Errorf("UsersByID() after UpdateUser = %+v, %v, want the new name", us, err)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.FirstName != "Renamed again" {
		t.Errorf("User() after UpdateUser = %+v, %v, want the new name", got, err)
	}

	if err := s.DeleteAPIKey(ctx, u.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.APIKeyUser(ctx, "fresh-hash", now)
	wantNotFound(t, "APIKeyUser() after DeleteAPIKey", err)
	keyGone = true

	other := e.project(org.ID, "Other")
	warm()
	if _, _, err := s.ProjectOrganization(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProject(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.ProjectOrganization(ctx, other.ID)
	wantNotFound(t, "ProjectOrganization() after DeleteProject", err)
	if heads, err := s.HeadsByID(ctx, nil, []int64{r2.ID}); err != nil || len(heads) != 1 {
		t.Errorf("HeadsByID() of another project's object after DeleteProject = %+v, %v, want it", heads, err)
	}

	if err := s.DeleteOrganization(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.ProjectOrganization(ctx, p.ID)
	wantNotFound(t, "ProjectOrganization() after DeleteOrganization", err)
	_, err = s.Organization(ctx, org.ID)
	wantNotFound(t, "Organization() after DeleteOrganization", err)
}
