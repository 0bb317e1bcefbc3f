package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

func testOrganizations(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")

	org := &gatehouse.Organization{Name: "Acme"}
	first := &gatehouse.Project{Name: "Default project"}
	if err := s.CreateOrganization(ctx, org, alice.ID, first); err != nil {
		t.Fatalf("CreateOrganization() = %v", err)
	}
	if org.ID == "" || org.CreatedAt.IsZero() || org.RulesRevision != 0 {
		t.Errorf("CreateOrganization set %+v, want ID and CreatedAt, revision 0", org)
	}
	if first.ID == 0 || first.UUID == "" || first.OrganizationID != org.ID || first.CreatedAt.IsZero() ||
		!strings.HasPrefix(first.APIToken, "phc_") || len(first.APIToken) < 20 {
		t.Errorf("CreateOrganization set first project %+v, want ID, UUID, OrganizationID, a phc_ token and CreatedAt", first)
	}
	got, err := s.Organization(ctx, org.ID)
	if err != nil {
		t.Fatalf("Organization() = %v", err)
	}
	if diff := cmp.Diff(org, got); diff != "" {
		t.Errorf("Organization() mismatch (-want +got):\n%s", diff)
	}
	if m, err := s.Membership(ctx, org.ID, alice.ID); err != nil || m.Level != access.OwnerLevel || m.User.Email != alice.Email {
		t.Errorf("Membership(owner) = %+v, %v, want alice at level %d", m, err, access.OwnerLevel)
	}
	err = s.CreateOrganization(ctx, &gatehouse.Organization{Name: "Ghost"}, bob.ID+1000, &gatehouse.Project{Name: "p"})
	wantNotFound(t, "CreateOrganization(unknown owner)", err)

	other, _ := e.org("Beta", bob)
	e.join(other.ID, alice, access.MemberLevel)
	other.RulesRevision = e.revision(other.ID) // joining is a permission change
	orgs, err := s.OrganizationsOf(ctx, alice.ID)
	if err != nil {
		t.Fatalf("OrganizationsOf(alice) = %v", err)
	}
	want := []gatehouse.UserOrganization{{Organization: *org, Level: access.OwnerLevel}, {Organization: *other, Level: access.MemberLevel}}
	if diff := cmp.Diff(want, orgs); diff != "" {
		t.Errorf("OrganizationsOf(alice) mismatch (-want +got):\n%s", diff)
	}

	org.Name = "Acme Inc"
	if err := s.UpdateOrganization(ctx, org); err != nil {
		t.Fatalf("UpdateOrganization() = %v", err)
	}
	if got, _ := s.Organization(ctx, org.ID); got == nil || got.Name != "Acme Inc" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("Organization after rename = %+v, want name Acme Inc", got)
	}
	wantNotFound(t, "UpdateOrganization(unknown)", s.UpdateOrganization(ctx, &gatehouse.Organization{ID: "nope", Name: "x"}))

	// Deleting an organization removes everything in it and clears "current" pointers to it.
	alice.CurrentOrganizationID, alice.CurrentProjectID = other.ID, 0
	projects, _ := s.Projects(ctx, other.ID)
	alice.CurrentProjectID = projects[0].ID
	if err := s.UpdateUser(ctx, alice); err != nil {
		t.Fatalf("UpdateUser() = %v", err)
	}
	role := e.role(other.ID, "Product", bob.ID)
	flag := e.resource(projects[0].ID, access.FeatureFlags, "f", alice.ID)
	inv := &gatehouse.Invite{OrganizationID: other.ID, TargetEmail: "c@example.com", Level: 1}
	if err := s.CreateInvite(ctx, inv); err != nil {
		t.Fatalf("CreateInvite() = %v", err)
	}
	if err := s.DeleteOrganization(ctx, other.ID); err != nil {
		t.Fatalf("DeleteOrganization() = %v", err)
	}
	_, err = s.Organization(ctx, other.ID)
	wantNotFound(t, "Organization(deleted)", err)
	_, err = s.Project(ctx, projects[0].ID)
	wantNotFound(t, "Project(of deleted org)", err)
	_, err = s.Role(ctx, other.ID, role.ID)
	wantNotFound(t, "Role(of deleted org)", err)
	_, err = s.Resource(ctx, flag.ProjectID, flag.Kind, flag.ID)
	wantNotFound(t, "Resource(of deleted org)", err)
	_, err = s.Invite(ctx, inv.ID)
	wantNotFound(t, "Invite(of deleted org)", err)
	_, err = s.Membership(ctx, other.ID, alice.ID)
	wantNotFound(t, "Membership(of deleted org)", err)
	if u, _ := s.User(ctx, alice.ID); u == nil || u.CurrentOrganizationID != "" || u.CurrentProjectID != 0 {
		t.Errorf("User after DeleteOrganization = %+v, want no current organization or project", u)
	}
	if orgs, _ := s.OrganizationsOf(ctx, alice.ID); len(orgs) != 1 || orgs[0].ID != org.ID {
		t.Errorf("OrganizationsOf(alice) after delete = %+v, want only %s", orgs, org.Name)
	}
	wantNotFound(t, "DeleteOrganization(deleted)", s.DeleteOrganization(ctx, other.ID))
}

func testProjects(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	org, first := e.org("Acme", alice)

	second := &gatehouse.Project{OrganizationID: org.ID, Name: "Second"}
	if err := s.CreateProject(ctx, second); err != nil {
		t.Fatalf("CreateProject() = %v", err)
	}
	if second.ID == 0 || second.UUID == "" || second.APIToken == "" || second.APIToken == first.APIToken || second.CreatedAt.IsZero() {
		t.Errorf("CreateProject set %+v, want ID, UUID, a new APIToken, CreatedAt", second)
	}
	given := &gatehouse.Project{OrganizationID: org.ID, Name: "Given", APIToken: "phc_given"}
	if err := s.CreateProject(ctx, given); err != nil || given.APIToken != "phc_given" {
		t.Fatalf("CreateProject(given token) = %v, token %q", err, given.APIToken)
	}
	err := s.CreateProject(ctx, &gatehouse.Project{OrganizationID: org.ID, Name: "Copy", APIToken: "phc_given"})
	wantError(t, "CreateProject(taken token)", err, gatehouse.EUnique, "api_token")
	err = s.CreateProject(ctx, &gatehouse.Project{OrganizationID: "nope", Name: "Lost"})
	wantNotFound(t, "CreateProject(unknown organization)", err)

	got, err := s.Projects(ctx, org.ID)
	if err != nil {
		t.Fatalf("Projects() = %v", err)
	}
	if diff := cmp.Diff([]gatehouse.Project{*first, *second, *given}, got); diff != "" {
		t.Errorf("Projects() mismatch (-want +got):\n%s", diff)
	}
	second.Name = "Renamed"
	if err := s.UpdateProject(ctx, second); err != nil {
		t.Fatalf("UpdateProject() = %v", err)
	}
	if p, err := s.Project(ctx, second.ID); err != nil || p.Name != "Renamed" || p.APIToken != second.APIToken {
		t.Errorf("Project after UpdateProject = %+v, %v, want renamed, same token", p, err)
	}
	wantNotFound(t, "UpdateProject(unknown)", s.UpdateProject(ctx, &gatehouse.Project{ID: given.ID + 1000, Name: "x"}))
	_, err = s.Project(ctx, given.ID+1000)
	wantNotFound(t, "Project(unknown)", err)

	// Deleting a project removes its resources and their rules, and the project's rules.
	flag := e.resource(second.ID, access.FeatureFlags, "f", alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: flag.ID, Level: access.Viewer}, alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Project: second.ID, Kind: access.Cohorts, Level: access.Viewer}, alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeProject, Project: second.ID, ProjectLevel: access.ProjectNone}, alice.ID)
	kept := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Viewer}, alice.ID)
	rev := e.revision(org.ID)
	if err := s.DeleteProject(ctx, second.ID); err != nil {
		t.Fatalf("DeleteProject() = %v", err)
	}
	_, err = s.Project(ctx, second.ID)
	wantNotFound(t, "Project(deleted)", err)
	_, err = s.Resource(ctx, second.ID, access.FeatureFlags, flag.ID)
	wantNotFound(t, "Resource(in deleted project)", err)
	rules, err := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
	if err != nil || len(rules) != 1 || rules[0].ID != kept.ID {
		t.Errorf("Rules after DeleteProject = %+v, %v, want only the organization-wide rule", rules, err)
	}
	if got := e.revision(org.ID); got <= rev {
		t.Errorf("RulesRevision after DeleteProject = %d, want > %d: rules went with it", got, rev)
	}
	wantNotFound(t, "DeleteProject(deleted)", s.DeleteProject(ctx, second.ID))
}

func testMembers(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, _ := e.org("Acme", alice)
	mb := e.join(org.ID, bob, access.MemberLevel)
	mc := e.join(org.ID, carol, access.AdminLevel)

	members, err := s.Members(ctx, org.ID)
	if err != nil {
		t.Fatalf("Members() = %v", err)
	}
	var got []string
	for _, m := range members {
		if m.OrganizationID != org.ID || m.ID == "" || m.JoinedAt.IsZero() {
			t.Errorf("Members() has %+v, want ID, organization and JoinedAt set", m)
		}
		got = append(got, m.User.Email)
	}
	if diff := cmp.Diff([]string{alice.Email, bob.Email, carol.Email}, got); diff != "" {
		t.Errorf("Members() order mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(*bob, members[1].User); diff != "" {
		t.Errorf("Members() user mismatch (-want +got):\n%s", diff)
	}
	m, err := s.Membership(ctx, org.ID, carol.ID)
	if err != nil {
		t.Fatalf("Membership(carol) = %v", err)
	}
	if diff := cmp.Diff(mc, m); diff != "" {
		t.Errorf("Membership(carol) mismatch (-want +got):\n%s", diff)
	}

	if err := s.SetMemberLevel(ctx, org.ID, bob.ID, access.AdminLevel, alice.ID); err != nil {
		t.Fatalf("SetMemberLevel(bob) = %v", err)
	}
	if m, _ := s.Membership(ctx, org.ID, bob.ID); m == nil || m.Level != access.AdminLevel || m.ID != mb.ID {
		t.Errorf("Membership(bob) after SetMemberLevel = %+v, want level %d", m, access.AdminLevel)
	}
	outsider := e.user("dave@example.com")
	wantNotFound(t, "SetMemberLevel(non-member)", s.SetMemberLevel(ctx, org.ID, outsider.ID, 8, alice.ID))
	wantNotFound(t, "SetMemberLevel(unknown org)", s.SetMemberLevel(ctx, "nope", bob.ID, 8, alice.ID))
	_, err = s.Membership(ctx, org.ID, outsider.ID)
	wantNotFound(t, "Membership(non-member)", err)

	if err := s.RemoveMember(ctx, org.ID, bob.ID, alice.ID); err != nil {
		t.Fatalf("RemoveMember(bob) = %v", err)
	}
	_, err = s.Membership(ctx, org.ID, bob.ID)
	wantNotFound(t, "Membership(removed)", err)
	wantNotFound(t, "RemoveMember(removed)", s.RemoveMember(ctx, org.ID, bob.ID, alice.ID))
	if members, _ := s.Members(ctx, org.ID); len(members) != 2 {
		t.Errorf("Members() after RemoveMember = %d members, want 2", len(members))
	}
	if _, err := s.User(ctx, bob.ID); err != nil {
		t.Errorf("User(removed member) = %v, want the user kept", err)
	}
}

func testInvites(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, _ := e.org("Acme", alice)
	other, _ := e.org("Other", bob)

	var invites []gatehouse.Invite
	for _, email := range []string{"bob@example.com", "carol@example.com"} {
		inv := &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: email, Level: access.AdminLevel, CreatedBy: alice.ID}
		if err := s.CreateInvite(ctx, inv); err != nil {
			t.Fatalf("CreateInvite(%q) = %v", email, err)
		}
		if inv.ID == "" || inv.CreatedAt.IsZero() {
			t.Errorf("CreateInvite set %+v, want ID and CreatedAt", inv)
		}
		invites = append(invites, *inv)
	}
	wantNotFound(t, "CreateInvite(unknown org)", s.CreateInvite(ctx, &gatehouse.Invite{OrganizationID: "nope", TargetEmail: "x", Level: 1}))
	got, err := s.Invites(ctx, org.ID)
	if err != nil {
		t.Fatalf("Invites() = %v", err)
	}
	if diff := cmp.Diff(invites, got); diff != "" {
		t.Errorf("Invites() mismatch (-want +got):\n%s", diff)
	}
	inv, err := s.Invite(ctx, invites[0].ID)
	if err != nil {
		t.Fatalf("Invite() = %v", err)
	}
	if diff := cmp.Diff(&invites[0], inv); diff != "" {
		t.Errorf("Invite() mismatch (-want +got):\n%s", diff)
	}
	_, err = s.Invite(ctx, "nope")
	wantNotFound(t, "Invite(unknown)", err)
	wantNotFound(t, "DeleteInvite(other org)", s.DeleteInvite(ctx, other.ID, invites[1].ID))
	if err := s.DeleteInvite(ctx, org.ID, invites[1].ID); err != nil {
		t.Fatalf("DeleteInvite() = %v", err)
	}
	_, err = s.Invite(ctx, invites[1].ID)
	wantNotFound(t, "Invite(deleted)", err)

	m, err := s.AcceptInvite(ctx, invites[0].ID, bob.ID)
	if err != nil {
		t.Fatalf("AcceptInvite(bob) = %v", err)
	}
	if m.ID == "" || m.OrganizationID != org.ID || m.Level != access.AdminLevel || m.User.ID != bob.ID || m.User.Email != bob.Email || m.JoinedAt.IsZero() {
		t.Errorf("AcceptInvite(bob) = %+v, want bob's membership at level %d", m, access.AdminLevel)
	}
	_, err = s.Invite(ctx, invites[0].ID)
	wantNotFound(t, "Invite(accepted)", err)
	_, err = s.AcceptInvite(ctx, invites[0].ID, bob.ID)
	wantNotFound(t, "AcceptInvite(accepted again)", err)

	// An invite accepted by a member fails and stays.
	again := &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: bob.Email, Level: access.MemberLevel, CreatedBy: alice.ID}
	if err := s.CreateInvite(ctx, again); err != nil {
		t.Fatalf("CreateInvite(again) = %v", err)
	}
	rev, log := e.revision(org.ID), len(e.activity(org.ID))
	_, err = s.AcceptInvite(ctx, again.ID, bob.ID)
	wantError(t, "AcceptInvite(member)", err, gatehouse.EUnique, "user")
	if _, err := s.Invite(ctx, again.ID); err != nil {
		t.Errorf("Invite(after failed accept) = %v, want it kept", err)
	}
	if m, _ := s.Membership(ctx, org.ID, bob.ID); m == nil || m.Level != access.AdminLevel {
		t.Errorf("Membership(bob) after failed accept = %+v, want level %d kept", m, access.AdminLevel)
	}
	if got := e.revision(org.ID); got != rev {
		t.Errorf("RulesRevision after failed accept = %d, want %d", got, rev)
	}
	if got := len(e.activity(org.ID)); got != log {
		t.Errorf("activity rows after failed accept = %d, want %d", got, log)
	}
}
