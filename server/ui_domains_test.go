package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// TestUIDomains: the domains tab adds, verifies, configures and removes domains through
// the API, shows a SCIM token on the answer that made it and never again, and shows
// members who may not manage domains why.
func TestUIDomains(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	admin := e.member(8)
	e.member(1)
	tab := "/organizations/" + e.orgID + "/domains"
	c := newBrowserClient(t, e.srv.URL)
	c.login("owner@example.com")
	if p := c.get(tab); p.status != 200 || !strings.Contains(p.body, "No domains yet") || !strings.Contains(p.body, `aria-current="page">Domains`) {
		t.Fatalf("GET %s = %d %s", tab, p.status, p.body)
	}
	if p := c.post(tab, url.Values{"domain": {"not a domain"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="e-domain-name"`) {
		t.Errorf("bad domain = %d, want 400 with the field error: %s", p.status, p.body)
	}
	if p := c.post(tab, url.Values{"domain": {"acme.test"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add = %d %s", p.status, p.body)
	}
	id := e.owner.must("GET", e.orgPath("/domains"), nil, 200).str("results.0.id")
	if p := c.post(tab+"/"+id, url.Values{"scim_enabled": {"on"}, "jit_provisioning_enabled": {"on"}, "sso_enforcement": {""}}); p.status != http.StatusSeeOther {
		t.Fatalf("settings = %d %s", p.status, p.body)
	}
	if d := e.owner.must("GET", e.orgPath("/domains/"+id), nil, 200); d.get("scim_enabled") != true || d.get("jit_provisioning_enabled") != true {
		t.Errorf("after the settings form: %s", d.raw)
	}
	p := c.post(tab+"/"+id+"/token", nil)
	token := regexp.MustCompile(`gh_scim_[A-Za-z0-9_-]+`).FindString(p.body)
	if p.status != 200 || token == "" || !strings.Contains(p.body, "not shown again") {
		t.Fatalf("new token = %d, want the token shown once: %s", p.status, p.body)
	}
	if r := scimDo(e, id, token, "GET", "Users", nil); r.status != 200 {
		t.Errorf("the token the page showed does not work: %d %s", r.status, r.raw)
	}
	if p := c.get(tab); strings.Contains(p.body, token) || !strings.Contains(p.body, "/scim/v2/"+id) {
		t.Errorf("the tab shows the token again, or not the SCIM base URL")
	}

	// An admin's domain waits for an owner, and the admin gets no verify button.
	ac := newBrowserClient(t, e.srv.URL)
	ac.login(admin.email)
	if p := ac.post(tab, url.Values{"domain": {"pending.test"}}); p.status != http.StatusSeeOther {
		t.Fatalf("admin add = %d", p.status)
	}
	if p := ac.get(tab); !strings.Contains(p.body, "Waiting for an owner") || strings.Contains(p.body, "/verify") {
		t.Errorf("admin's tab: want the pending domain without a verify button")
	}
	pending := e.owner.must("GET", e.orgPath("/domains"), nil, 200).str("results.1.id")
	if p := ac.post(tab+"/"+pending+"/verify", nil); p.status != http.StatusForbidden {
		t.Errorf("admin verify = %d, want 403", p.status)
	}
	if p := c.post(tab+"/"+pending+"/verify", nil); p.status != http.StatusSeeOther {
		t.Errorf("owner verify = %d", p.status)
	}
	if p := c.post(tab+"/"+pending+"/delete", nil); p.status != http.StatusSeeOther {
		t.Errorf("delete = %d", p.status)
	}
	if n := e.owner.must("GET", e.orgPath("/domains"), nil, 200).num("count"); n != 1 {
		t.Errorf("%v domains after removing one, want 1", n)
	}

	mc := newBrowserClient(t, e.srv.URL)
	mc.login("user2@example.com")
	if p := mc.get(tab); p.status != 200 || !strings.Contains(p.body, "Only admins can see") || strings.Contains(p.body, "acme.test") {
		t.Errorf("a plain member's tab = %d: %s", p.status, p.body)
	}
}
