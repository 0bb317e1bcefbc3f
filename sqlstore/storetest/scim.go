package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// testSCIMUsers: provisioning links or creates accounts and memberships; deprovisioning
// takes the membership with its roles and rules, and disables a user left in no
// organization, sessions and keys included; restoring gives back a plain membership.
func testSCIMUsers(t *testing.T, e *env) {
	s := e.s
	ctx := gatehouse.WithActorName(e.ctx, "SCIM (acme.test)")
	alice, bob := e.user("alice@example.com"), e.user("bob@acme.test")
	org, proj := e.org("Acme", alice)
	other, _ := e.org("Other", alice)
	d := &gatehouse.Domain{OrganizationID: org.ID, Domain: "acme.test"}
	if err := s.CreateDomain(ctx, d, alice.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()

	// A new account, created without a password.
	carol := &gatehouse.SCIMUser{DomainID: d.ID, UserName: "Carol@acme.test", ExternalID: "ext-carol", GivenName: "Carol", FamilyName: "C", Active: true}
	if err := s.ProvisionSCIMUser(ctx, org.ID, carol); err != nil {
		t.Fatalf("ProvisionSCIMUser(new) = %v", err)
	}
	if carol.User.ID == 0 || carol.User.PasswordHash != "" || carol.User.FirstName != "Carol" || carol.User.Email != "Carol@acme.test" || !carol.Active || carol.ExternalID != "ext-carol" {
		t.Errorf("ProvisionSCIMUser(new) stored %+v", carol)
	}
	if m, err := s.Membership(ctx, org.ID, carol.User.ID); err != nil || m.Level != access.MemberLevel {
		t.Errorf("provisioned user's membership = %+v, %v, want member", m, err)
	}
	// An existing account with the email joins; no second account.
	bobLink := &gatehouse.SCIMUser{DomainID: d.ID, UserName: "BOB@acme.test", Active: true}
	if err := s.ProvisionSCIMUser(ctx, org.ID, bobLink); err != nil || bobLink.User.ID != bob.ID {
		t.Fatalf("ProvisionSCIMUser(existing) = %+v, %v, want bob linked", bobLink.User, err)
	}
	if n, _ := s.CountUsers(ctx); n != 3 {
		t.Errorf("%d users, want 3 (no second account for bob)", n)
	}
	wantError(t, "ProvisionSCIMUser(same userName)", s.ProvisionSCIMUser(ctx, org.ID,
		&gatehouse.SCIMUser{DomainID: d.ID, UserName: "carol@ACME.test", Active: true}), gatehouse.EUnique, "userName")

	list, err := s.SCIMUsers(ctx, d.ID)
	if err != nil || len(list) != 2 || list[0].User.ID != carol.User.ID || list[1].User.ID != bob.ID {
		t.Fatalf("SCIMUsers() = %+v, %v", list, err)
	}
	_, err = s.SCIMUser(ctx, d.ID, alice.ID)
	wantNotFound(t, "SCIMUser(not provisioned)", err)

	// Bob is in a role, has a rule, a session and a key; he is in no other organization.
	role := e.role(org.ID, "Engineers", alice.ID)
	e.roleMember(org.ID, role.ID, bob, alice.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Project: proj.ID, Kind: access.FeatureFlags, User: bob.ID, Level: access.Editor}, alice.ID)
	if err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "bob-session", UserID: bob.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(ctx, &gatehouse.APIKey{UserID: bob.ID, Label: "k", ValueHash: "bob-key", MaskValue: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyUser(ctx, "bob-key", now); err != nil {
		t.Fatal(err) // and now it is cached
	}
	rev := e.revision(org.ID)
	got, err := s.UpdateSCIMUser(ctx, org.ID, d.ID, bob.ID, func(su *gatehouse.SCIMUser) error { su.Active = false; return nil })
	if err != nil || got.Active {
		t.Fatalf("UpdateSCIMUser(inactive) = %+v, %v", got, err)
	}
	if e.revision(org.ID) <= rev {
		t.Error("deprovisioning did not move the rules revision")
	}
	_, err = s.Membership(ctx, org.ID, bob.ID)
	wantNotFound(t, "Membership(deprovisioned)", err)
	if rm, _ := s.RoleMembers(ctx, role.ID); len(rm) != 0 {
		t.Errorf("role members after deprovisioning = %+v, want none", rm)
	}
	if rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID}); len(rules) != 0 {
		t.Errorf("rules after deprovisioning = %+v, want none", rules)
	}
	_, err = s.SessionUser(ctx, "bob-session", now)
	wantNotFound(t, "SessionUser(disabled)", err)
	_, err = s.APIKeyUser(ctx, "bob-key", now)
	wantNotFound(t, "APIKeyUser(disabled)", err)
	if u, _ := s.User(ctx, bob.ID); u.DisabledAt == nil {
		t.Error("a user left in no organization is not disabled")
	}
	// A session made for a disabled user (a sign-in that raced) lets no one in.
	if err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "late", UserID: bob.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionUser(ctx, "late", now)
	wantNotFound(t, "SessionUser(disabled, new session)", err)

	// Restored: a plain membership, no roles, and the disabling lifted.
	if got, err := s.UpdateSCIMUser(ctx, org.ID, d.ID, bob.ID, func(su *gatehouse.SCIMUser) error { su.Active = true; return nil }); err != nil || !got.Active || got.User.DisabledAt != nil {
		t.Fatalf("UpdateSCIMUser(active) = %+v, %v", got, err)
	}
	if m, err := s.Membership(ctx, org.ID, bob.ID); err != nil || m.Level != access.MemberLevel {
		t.Errorf("restored membership = %+v, %v", m, err)
	}
	if _, err := s.SessionUser(ctx, "late", now); err != nil {
		t.Errorf("SessionUser after restoring = %v", err)
	}

	// Someone still in another organization is deprovisioned from this one only.
	e.join(other.ID, &carol.User, access.MemberLevel)
	if err := s.CreateAPIKey(ctx, &gatehouse.APIKey{UserID: carol.User.ID, Label: "k", ValueHash: "carol-key", MaskValue: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSCIMUser(ctx, org.ID, d.ID, carol.User.ID); err != nil {
		t.Fatalf("DeleteSCIMUser() = %v", err)
	}
	_, err = s.SCIMUser(ctx, d.ID, carol.User.ID)
	wantNotFound(t, "SCIMUser(deleted)", err)
	_, err = s.Membership(ctx, org.ID, carol.User.ID)
	wantNotFound(t, "Membership(deleted)", err)
	if _, err := s.APIKeyUser(ctx, "carol-key", now); err != nil {
		t.Errorf("APIKeyUser of a user still in another organization = %v, want it working", err)
	}
	wantNotFound(t, "DeleteSCIMUser(again)", s.DeleteSCIMUser(ctx, org.ID, d.ID, carol.User.ID))

	// The last owner cannot be deprovisioned.
	aliceLink := &gatehouse.SCIMUser{DomainID: d.ID, UserName: "alice@example.com", Active: true}
	if err := s.ProvisionSCIMUser(ctx, org.ID, aliceLink); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateSCIMUser(ctx, org.ID, d.ID, alice.ID, func(su *gatehouse.SCIMUser) error { su.Active = false; return nil })
	if !errors.Is(err, access.ErrLastOwnerLeave) {
		t.Errorf("deprovisioning the last owner = %v, want %v", err, access.ErrLastOwnerLeave)
	}
	// An error from modify writes nothing.
	boom := errors.New("boom")
	if _, err := s.UpdateSCIMUser(ctx, org.ID, d.ID, bob.ID, func(su *gatehouse.SCIMUser) error { su.Active = false; return boom }); err != boom {
		t.Errorf("UpdateSCIMUser(modify fails) = %v", err)
	}
	if _, err := s.Membership(ctx, org.ID, bob.ID); err != nil {
		t.Errorf("a failed modify deprovisioned bob: %v", err)
	}

	// Every change is the SCIM client's, by name.
	acts, _, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	scim := 0
	for _, a := range acts {
		if a.Scope == "Membership" && a.UserID == 0 {
			if a.ActorName != "SCIM (acme.test)" {
				t.Errorf("activity %+v, want actor SCIM (acme.test)", a)
			}
			scim++
		}
	}
	if scim != 5 { // carol, bob joined; bob left, came back; carol left; alice, an owner already, joined nothing
		t.Errorf("%d SCIM membership rows, want 5", scim)
	}
}

// testSCIMGroupLinks: a domain's group links by role, replaced in place, gone with the role.
func testSCIMGroupLinks(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	org, _ := e.org("Acme", alice)
	d := &gatehouse.Domain{OrganizationID: org.ID, Domain: "acme.test"}
	if err := s.CreateDomain(ctx, d, alice.ID); err != nil {
		t.Fatal(err)
	}
	role := e.role(org.ID, "Engineers", alice.ID)
	for _, ext := range []string{"g-1", "g-2"} {
		if err := s.LinkSCIMGroup(ctx, d.ID, role.ID, ext); err != nil {
			t.Fatal(err)
		}
	}
	wantNotFound(t, "LinkSCIMGroup(unknown role)", s.LinkSCIMGroup(ctx, d.ID, "nope", "x"))
	if links, err := s.SCIMGroupLinks(ctx, d.ID); err != nil || len(links) != 1 || links[role.ID] != "g-2" {
		t.Errorf("SCIMGroupLinks() = %v, %v", links, err)
	}
	if err := s.DeleteRole(ctx, org.ID, role.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if links, _ := s.SCIMGroupLinks(ctx, d.ID); len(links) != 0 {
		t.Errorf("links after the role went = %v", links)
	}
}
