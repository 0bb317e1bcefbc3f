package server_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server/oidctest"
)

// TestSSOBrowser signs in through the provider's own login page in headless
// Chromium: a newcomer of a domain with JIT provisioning lands in that
// domain's organization, and one without an account is told to ask for an
// invite.
func TestSSOBrowser(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)
	e := newSSOEnv(t, "sqlite")
	e.owner.must("POST", "/api/organizations", map[string]any{"name": "Elsewhere Inc"}, 201) // the owner's other organization
	e.domain("acme.test", true, func(d *gatehouse.Domain) { d.JITProvisioningEnabled = true })
	e.idp.AddUser(oidctest.User{Email: "nia@acme.test", EmailVerified: true, Name: "Nia"})
	e.idp.AddUser(oidctest.User{Email: "stranger@nowhere.test", EmailVerified: true})

	b := newTab(t, browser, e.srv.URL, shots, "sso")
	b.open("/projects")
	b.wantPage("login")
	b.wantText("#sso-login", "Sign in with Test IdP")
	b.shot("login with single sign-on")
	b.follow("#sso-login")
	if !strings.HasPrefix(b.location(), e.idp.URL+"/login") {
		t.Fatalf("the button led to %s, want the provider's login page", b.location())
	}
	b.fill("#email", "nia@acme.test")
	b.follow("#signin")
	if got := b.path(); got != "/projects" {
		t.Fatalf("after signing in through the provider: at %s, want /projects (the page asked for)", got)
	}
	b.wantPage("projects")
	b.wantText("header .who", "nia@acme.test")
	b.wantText("main", "Acme")
	if strings.Contains(b.text("main"), "Elsewhere Inc") {
		t.Errorf("the newcomer sees the owner's other organization:\n%s", b.text("main"))
	}
	b.shot("signed in through the provider")
	b.follow("header form button")
	b.wantPage("login")

	b.follow("#sso-login")
	b.fill("#email", "stranger@nowhere.test")
	b.follow("#signin")
	b.wantPage("login")
	b.wantText("main .error", "Ask an admin of your organization for an invite")
	b.shot("no account")
}
