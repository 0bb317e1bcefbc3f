package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

func testDomains(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, _ := e.org("Acme", alice)
	other, _ := e.org("Other", bob)
	revBefore := e.revision(org.ID)

	d := &gatehouse.Domain{OrganizationID: org.ID, Domain: "Acme.TEST"}
	if err := s.CreateDomain(ctx, d, alice.ID); err != nil {
		t.Fatalf("CreateDomain() = %v", err)
	}
	if d.ID == "" || d.Domain != "acme.test" || d.Verified() || d.SSOEnforcement != "" || d.JITProvisioningEnabled || d.SCIMEnabled {
		t.Errorf("CreateDomain stored %+v, want an id, the name lower-cased and everything off", d)
	}
	checkUTC(t, "CreatedAt", d.CreatedAt)
	// Unique across the instance, in any case, whichever organization asks.
	for _, taken := range []*gatehouse.Domain{{OrganizationID: org.ID, Domain: "acme.test"}, {OrganizationID: other.ID, Domain: "ACME.test"}} {
		wantError(t, "CreateDomain(taken)", s.CreateDomain(ctx, taken, alice.ID), gatehouse.EUnique, "domain")
	}
	wantNotFound(t, "CreateDomain(unknown org)", s.CreateDomain(ctx, &gatehouse.Domain{OrganizationID: "nope", Domain: "x.test"}, alice.ID))
	d2 := &gatehouse.Domain{OrganizationID: org.ID, Domain: "acme-corp.test"}
	if err := s.CreateDomain(ctx, d2, alice.ID); err != nil {
		t.Fatalf("CreateDomain(second) = %v", err)
	}

	list, err := s.Domains(ctx, org.ID)
	if err != nil {
		t.Fatalf("Domains() = %v", err)
	}
	if diff := cmp.Diff([]gatehouse.Domain{*d, *d2}, list); diff != "" {
		t.Errorf("Domains() mismatch (-want +got):\n%s", diff)
	}
	if list, _ := s.Domains(ctx, other.ID); len(list) != 0 {
		t.Errorf("Domains(other) = %v, want none", list)
	}
	got, err := s.Domain(ctx, d.ID)
	if err != nil || !cmp.Equal(d, got) {
		t.Errorf("Domain() = %+v, %v, want %+v", got, err, d)
	}
	_, err = s.Domain(ctx, "nope")
	wantNotFound(t, "Domain(unknown)", err)

	// Sign-in sees only verified domains.
	if _, ok, err := s.VerifiedDomain(ctx, "acme.test"); ok || err != nil {
		t.Errorf("VerifiedDomain(unverified) = %v, %v, want false", ok, err)
	}
	_, err = s.VerifyDomain(ctx, other.ID, d.ID, bob.ID)
	wantNotFound(t, "VerifyDomain(other org)", err)
	v, err := s.VerifyDomain(ctx, org.ID, d.ID, alice.ID)
	if err != nil || !v.Verified() {
		t.Fatalf("VerifyDomain() = %+v, %v", v, err)
	}
	checkUTC(t, "VerifiedAt", *v.VerifiedAt)
	again, err := s.VerifyDomain(ctx, org.ID, d.ID, alice.ID)
	if err != nil || !again.VerifiedAt.Equal(*v.VerifiedAt) {
		t.Errorf("VerifyDomain(again) = %+v, %v, want the first verification's time kept", again, err)
	}
	found, ok, err := s.VerifiedDomain(ctx, "ACME.Test")
	if err != nil || !ok || found.ID != d.ID {
		t.Errorf("VerifiedDomain(ACME.Test) = %+v, %v, %v, want %s", found, ok, err, d.ID)
	}
	if _, ok, _ := s.VerifiedDomain(ctx, "sub.acme.test"); ok {
		t.Error("VerifiedDomain(sub.acme.test) matched acme.test: only the exact name may")
	}

	up := &gatehouse.Domain{ID: d.ID, OrganizationID: org.ID, JITProvisioningEnabled: true, SSOEnforcement: gatehouse.SSOOIDC,
		SCIMEnabled: true, Domain: "ignored.test", SCIMTokenHash: "ignored"}
	if err := s.UpdateDomain(ctx, up, alice.ID); err != nil {
		t.Fatalf("UpdateDomain() = %v", err)
	}
	if up.Domain != "acme.test" || up.SCIMTokenHash != "" || !up.JITProvisioningEnabled || up.SSOEnforcement != "oidc" || !up.SCIMEnabled || !up.Verified() {
		t.Errorf("UpdateDomain() stored %+v: the name and token hash are not its to change", up)
	}
	wantNotFound(t, "UpdateDomain(other org)", s.UpdateDomain(ctx, &gatehouse.Domain{ID: d.ID, OrganizationID: other.ID}, bob.ID))

	if err := s.SetDomainSCIMToken(ctx, org.ID, d.ID, "hash-1", alice.ID); err != nil {
		t.Fatalf("SetDomainSCIMToken() = %v", err)
	}
	wantNotFound(t, "SetDomainSCIMToken(other org)", s.SetDomainSCIMToken(ctx, other.ID, d.ID, "hash-x", bob.ID))
	if got, _ := s.Domain(ctx, d.ID); got.SCIMTokenHash != "hash-1" || !got.SCIMEnabled {
		t.Errorf("after SetDomainSCIMToken: %+v", got)
	}

	// Domains move no one's access: no rules revision spent on them.
	if rev := e.revision(org.ID); rev != revBefore {
		t.Errorf("rules revision %d → %d after domain changes, want unchanged", revBefore, rev)
	}
	acts, _, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, OptionalItemID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, a := range acts {
		if a.Scope != "OrganizationDomain" || a.UserID != alice.ID {
			t.Errorf("activity %+v, want scope OrganizationDomain by alice", a)
		}
		verbs = append(verbs, a.Activity)
	}
	// Verifying twice changes nothing the second time and logs nothing.
	if want := []string{"updated", "updated", "updated", "created"}; !cmp.Equal(verbs, want) {
		t.Errorf("activity verbs = %v, want %v", verbs, want)
	}

	wantNotFound(t, "DeleteDomain(other org)", s.DeleteDomain(ctx, other.ID, d.ID, bob.ID))
	if err := s.DeleteDomain(ctx, org.ID, d.ID, alice.ID); err != nil {
		t.Fatalf("DeleteDomain() = %v", err)
	}
	wantNotFound(t, "DeleteDomain(again)", s.DeleteDomain(ctx, org.ID, d.ID, alice.ID))
	if _, ok, _ := s.VerifiedDomain(ctx, "acme.test"); ok {
		t.Error("VerifiedDomain found a deleted domain")
	}
	// A deleted domain's name is free again, for any organization.
	if err := s.CreateDomain(ctx, &gatehouse.Domain{OrganizationID: other.ID, Domain: "acme.test"}, bob.ID); err != nil {
		t.Errorf("CreateDomain(freed name) = %v", err)
	}
	// Deleting the organization takes its domains with it.
	if err := s.DeleteOrganization(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Domain(ctx, d2.ID)
	wantNotFound(t, "Domain(of a deleted organization)", err)
}
