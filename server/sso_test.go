package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/server/oidctest"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

func TestOIDCJustInTimeProvisioning(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newSSOEnv(t, dialect)
		e.domain("acme.test", true, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
		e.domain("closed.test", true, nil)
		e.domain("unverified.test", false, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
		for _, email := range []string{"Newcomer@ACME.test", "someone@closed.test", "someone@unverified.test", "someone@elsewhere.test"} {
			e.idp.AddUser(oidctest.User{Email: email, EmailVerified: true, Name: "Nia"})
		}

		hc, landed, _ := e.signIn("newcomer@acme.test", "/")
		if strings.HasPrefix(landed.Path, "/login") {
			t.Fatalf("JIT sign-in landed on %s", landed)
		}
		me := rawDo(t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
		if me.status != 200 || me.str("email") != "Newcomer@ACME.test" || me.str("first_name") != "Nia" ||
			me.str("organization.id") != e.orgID || len(me.list("organizations")) != 1 || me.num("organizations.0.membership_level") != 1 {
			t.Fatalf("@me after JIT = %d %s, want a plain member of the domain's organization", me.status, me.raw)
		}
		if me.get("team.id") == nil {
			t.Errorf("@me after JIT has no current project: %s", me.raw)
		}
		// No password was set: a password login cannot get in.
		res := rawDo(t, jarClient(), e.srv.URL, "POST", "/api/login", map[string]any{"email": "newcomer@acme.test", "password": "anything at all"}, nil)
		res.wantError(401, "authentication_error", "authentication_failed", "")
		// The join is in the activity log, by the user, marked as made by sign-in.
		log := e.owner.must("GET", e.orgPath("/activity_log?user="+me.str("uuid")), nil, 200)
		if log.str("results.0.scope") != "Membership" || log.str("results.0.activity") != "created" || !strings.Contains(log.raw, `"oidc"`) {
			t.Errorf("activity log after JIT = %s", log.raw)
		}
		// The second sign-in finds the account: no second one.
		hc, landed, _ = e.signIn("newcomer@acme.test", "/")
		if strings.HasPrefix(landed.Path, "/login") || e.signedInAs(hc) != "Newcomer@ACME.test" {
			t.Fatalf("second sign-in landed on %s", landed)
		}
		members := e.owner.must("GET", e.orgPath("/members"), nil, 200)
		if n := len(members.list("results")); n != 2 {
			t.Errorf("members after two sign-ins = %d, want 2", n)
		}

		for _, email := range []string{"someone@closed.test", "someone@unverified.test", "someone@elsewhere.test"} {
			hc, landed, body := e.signIn(email, "/")
			wantRefused(t, landed, "no_account")
			if !strings.Contains(body, "No account exists") || !strings.Contains(body, "Ask an admin of your organization for an invite") {
				t.Errorf("%s: login page does not say to ask for an invite:\n%s", email, body)
			}
			if e.signedInAs(hc) != "" {
				t.Errorf("%s: refused sign-in left a session", email)
			}
			if _, err := e.db.UserByEmail(t.Context(), email); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				t.Errorf("%s: UserByEmail = %v, want no account created", email, err)
			}
		}
	})
}

func TestOIDCRefusesUserInNoOrganization(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	e.domain("example.com", true, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
	m := e.member(1)
	e.idp.AddUser(oidctest.User{Email: m.email, EmailVerified: true})
	m.must("DELETE", e.orgPath("/members/"+m.uuid), nil, 204) // leaves their only organization
	hc, landed, _ := e.signIn(m.email, "/")
	wantRefused(t, landed, "disabled")
	if e.signedInAs(hc) != "" {
		t.Fatal("a user in no organization got a session")
	}
}

func TestSSOEnforcement(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newSSOEnv(t, dialect, func(c *server.Config) { c.OpenSignup = true })
		m := e.member(1) // user1@example.com, before enforcement
		inv := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "invitee@example.com", "level": 1}, 201)
		otherInv := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "guest@partner.test", "level": 1}, 201)
		e.domain("example.com", true, func(d *gatehouse.Domain) { d.SSOEnforcement = gatehouse.SSOOIDC })
		e.domain("partner.test", false, func(d *gatehouse.Domain) { d.SSOEnforcement = gatehouse.SSOOIDC }) // unverified: no effect

		wantEnforced := func(res *result) {
			t.Helper()
			res.wantError(401, "authentication_error", "sso_enforced", "")
			if !strings.Contains(res.str("detail"), "Sign in with Test IdP") {
				t.Errorf("detail %q does not name the sign-in button", res.str("detail"))
			}
		}
		for _, email := range []string{"owner@example.com", "OWNER@Example.COM", m.email} {
			wantEnforced(rawDo(t, jarClient(), e.srv.URL, "POST", "/api/login", map[string]any{"email": email, "password": "correct horse"}, nil))
		}
		wantEnforced(rawDo(t, jarClient(), e.srv.URL, "POST", "/api/signup",
			map[string]any{"email": "fresh@example.com", "password": "correct horse", "first_name": "F"}, nil))
		wantEnforced(rawDo(t, jarClient(), e.srv.URL, "POST", "/api/signup/"+inv.str("id"),
			map[string]any{"first_name": "I", "password": "correct horse"}, nil))

		// Personal API keys keep working, and sign-in through the provider is the way in.
		e.owner.must("GET", "/api/users/@me", nil, 200)
		m.must("GET", "/api/users/@me", nil, 200)
		e.idp.AddUser(oidctest.User{Email: "owner@example.com", EmailVerified: true})
		if hc, _, _ := e.signIn("owner@example.com", "/"); e.signedInAs(hc) != "owner@example.com" {
			t.Fatal("sign-in through the provider refused on an enforced domain")
		}
		// Other domains, and unverified ones, keep passwords.
		res := rawDo(t, jarClient(), e.srv.URL, "POST", "/api/signup/"+otherInv.str("id"), map[string]any{"first_name": "G", "password": "correct horse"}, nil)
		if res.status != http.StatusCreated {
			t.Fatalf("invite accept on an unverified domain = %d %s, want 201", res.status, res.raw)
		}
		res = rawDo(t, jarClient(), e.srv.URL, "POST", "/api/login", map[string]any{"email": "guest@partner.test", "password": "correct horse"}, nil)
		if res.status != http.StatusOK {
			t.Fatalf("password login on an unverified domain = %d %s, want 200", res.status, res.raw)
		}
	})
}

// An enforcement the instance cannot honour (no provider configured) is not
// applied: it would lock the domain's people out.
func TestSSOEnforcementNeedsAProvider(t *testing.T) {
	db := sqltest.Open(t, "sqlite")
	e := newEnvOn(t, db, license.Enterprise) // no OIDC configured
	d := &gatehouse.Domain{OrganizationID: e.orgID, Domain: "example.com"}
	if err := db.CreateDomain(t.Context(), d, e.owner.id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.VerifyDomain(t.Context(), e.orgID, d.ID, e.owner.id); err != nil {
		t.Fatal(err)
	}
	d.SSOEnforcement = gatehouse.SSOOIDC
	if err := db.UpdateDomain(t.Context(), d, e.owner.id); err != nil {
		t.Fatal(err)
	}
	res := rawDo(t, jarClient(), e.srv.URL, "POST", "/api/login", map[string]any{"email": "owner@example.com", "password": "correct horse"}, nil)
	if res.status != http.StatusOK {
		t.Fatalf("password login with enforcement but no provider = %d %s, want 200", res.status, res.raw)
	}
}

func TestOIDCGroupsClaim(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newSSOEnv(t, dialect)
		d := e.domain("acme.test", true, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
		role := func(name string) string {
			return e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": name}, 201).str("id")
		}
		eng, design, hand := role("Engineering"), role("Design"), role("Hand-made")
		e.idp.AddUser(oidctest.User{Email: "dev@acme.test", EmailVerified: true, Groups: []string{"engineering", "DESIGN", "Unknown"}})
		rolesOf := func(uuid string) []string {
			t.Helper()
			var out []string
			for _, r := range []struct{ id, name string }{{eng, "Engineering"}, {design, "Design"}, {hand, "Hand-made"}} {
				ms := e.owner.must("GET", e.orgPath("/roles/"+r.id+"/role_memberships"), nil, 200)
				for _, m := range ms.list("results") {
					if m.(map[string]any)["user"].(map[string]any)["uuid"] == uuid {
						out = append(out, r.name)
					}
				}
			}
			return out
		}

		hc, _, _ := e.signIn("dev@acme.test", "/")
		me := rawDo(t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
		dev := me.str("uuid")
		if got := rolesOf(dev); !slices.Equal(got, []string{"Engineering", "Design"}) {
			t.Fatalf("roles after the first sign-in = %v, want [Engineering Design]", got)
		}
		e.owner.must("POST", e.orgPath("/roles/"+hand+"/role_memberships"), map[string]any{"user_uuid": dev}, 201)

		e.idp.SetGroups("dev@acme.test", "Engineering")
		e.signIn("dev@acme.test", "/")
		if got := rolesOf(dev); !slices.Equal(got, []string{"Engineering", "Hand-made"}) {
			t.Fatalf("roles after Design left the claim = %v, want [Engineering Hand-made] (the hand-made one kept)", got)
		}
		log := e.owner.must("GET", e.orgPath("/activity_log?user="+dev), nil, 200)
		if log.str("results.0.scope") != "RoleMembership" || log.str("results.0.activity") != "deleted" {
			t.Errorf("latest activity of the user = %s, want the role membership sync's deletion", log.raw)
		}

		e.idp.SetGroups("dev@acme.test")
		e.signIn("dev@acme.test", "/")
		if got := rolesOf(dev); !slices.Equal(got, []string{"Hand-made"}) {
			t.Fatalf("roles after an empty claim = %v, want [Hand-made]", got)
		}

		// With SCIM on, SCIM alone manages roles: sign-in changes none.
		d.SCIMEnabled = true
		if err := e.db.UpdateDomain(t.Context(), d, e.owner.id); err != nil {
			t.Fatal(err)
		}
		e.idp.SetGroups("dev@acme.test", "Design")
		e.signIn("dev@acme.test", "/")
		if got := rolesOf(dev); !slices.Equal(got, []string{"Hand-made"}) {
			t.Fatalf("roles after a sign-in with SCIM on = %v, want [Hand-made] unchanged", got)
		}
	})
}

// Domains take part in sign-in only under a plan with the sso feature: on the
// free plan nobody is provisioned and passwords are not refused, while known
// users still sign in through the provider.
func TestOIDCDomainsNeedTheSSOFeature(t *testing.T) {
	e := newSSOEnv(t, "sqlite", func(c *server.Config) { c.Plan = license.Free })
	e.domain("example.com", true, func(d *gatehouse.Domain) {
		d.JITProvisioningEnabled, d.SSOEnforcement = true, gatehouse.SSOOIDC
	})
	e.idp.AddUser(oidctest.User{Email: "new@example.com", EmailVerified: true})
	e.idp.AddUser(oidctest.User{Email: "owner@example.com", EmailVerified: true})
	_, landed, _ := e.signIn("new@example.com", "/")
	wantRefused(t, landed, "no_account")
	if hc, _, _ := e.signIn("owner@example.com", "/"); e.signedInAs(hc) != "owner@example.com" {
		t.Error("a known user could not sign in through the provider on the free plan")
	}
	res := rawDo(t, jarClient(), e.srv.URL, "POST", "/api/login", map[string]any{"email": "owner@example.com", "password": "correct horse"}, nil)
	if res.status != http.StatusOK {
		t.Errorf("password login on the free plan = %d %s, want 200", res.status, res.raw)
	}
}

// Microsoft Entra ID's shape: no groups scope, no email_verified but its
// xms_edov, and groups as app roles in the roles claim.
func TestOIDCEntraShapedTokens(t *testing.T) {
	e := newSSOEnv(t, "sqlite", func(c *server.Config) {
		c.OIDC.Scopes, c.OIDC.GroupsClaim = []string{"email", "profile"}, "roles"
	})
	e.domain("contoso.test", true, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
	e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Analysts"}, 201)
	e.idp.AddUser(oidctest.User{Email: "ana@contoso.test", NoEmailVerified: true,
		Claims: map[string]any{"xms_edov": true, "roles": []string{"analysts"}}})
	e.idp.AddUser(oidctest.User{Email: "eve@contoso.test", NoEmailVerified: true, Claims: map[string]any{"xms_edov": false}})

	hc, _, _ := e.signIn("ana@contoso.test", "/")
	if e.signedInAs(hc) != "ana@contoso.test" {
		t.Fatal("an Entra-shaped token with xms_edov true did not sign in")
	}
	if got := e.idp.Scopes(); len(got) == 0 || got[len(got)-1] != "openid email profile" {
		t.Errorf("scopes asked = %v, want openid email profile", got)
	}
	roles := e.owner.must("GET", e.orgPath("/roles"), nil, 200)
	if n := len(roles.list("results.0.members")); n != 1 {
		t.Errorf("Analysts has %d members after a sign-in with roles [analysts], want 1: %s", n, roles.raw)
	}
	_, landed, _ := e.signIn("eve@contoso.test", "/")
	wantRefused(t, landed, "email_unverified")
}

// Where passwords are refused, an invited newcomer accepts the invite by
// signing in through the provider from the invite's page.
func TestOIDCAcceptsInviteAtSignIn(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	e.domain("example.com", true, func(d *gatehouse.Domain) { d.SSOEnforcement = gatehouse.SSOOIDC }) // no JIT
	inv := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "Invitee@example.com", "level": 8}, 201)
	other := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "someone-else@example.com", "level": 8}, 201)
	e.idp.AddUser(oidctest.User{Email: "invitee@example.com", EmailVerified: true, Name: "Ines"})
	e.idp.AddUser(oidctest.User{Email: "intruder@example.com", EmailVerified: true})

	page := roundTrip(t, http.DefaultClient, e.srv.URL, "GET", "/invite/"+inv.str("id"), nil, nil, false)
	if !strings.Contains(page.raw, `href="/login/oidc?next=%2Finvite%2F`+inv.str("id")+`"`) {
		t.Fatalf("invite page does not offer to accept by signing in:\n%s", page.raw)
	}
	// Someone else's invite does not let an unknown user in.
	_, landed, _ := e.signIn("intruder@example.com", "/invite/"+other.str("id"))
	wantRefused(t, landed, "no_account")

	hc, landed, _ := e.signIn("invitee@example.com", "/invite/"+inv.str("id"))
	if strings.HasPrefix(landed.Path, "/login") || strings.HasPrefix(landed.Path, "/invite") {
		t.Fatalf("accepting by sign-in landed on %s", landed)
	}
	me := rawDo(t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
	if me.str("first_name") != "Ines" || me.str("organization.id") != e.orgID || me.num("organizations.0.membership_level") != 8 {
		t.Fatalf("@me after accepting by sign-in = %s, want an admin of the inviting organization", me.raw)
	}
	invites := e.owner.must("GET", e.orgPath("/invites"), nil, 200)
	if n := len(invites.list("results")); n != 1 {
		t.Errorf("invites left = %d, want 1 (the used one gone, the other kept)", n)
	}
}
