package server_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// TestDomains: admins add domains (an owner's verified at once, an admin's waiting for an
// owner), a name is unique across the instance and must be a DNS name, settings change by
// PATCH, a SCIM token is shown once and a new one replaces it; another organization's
// domain is not found; every change is in the activity log.
func TestDomains(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		admin := e.member(8)
		plain := e.member(1)

		d := e.owner.must("POST", e.orgPath("/domains"), map[string]any{"domain": " Acme.TEST "}, 201)
		if d.str("domain") != "acme.test" || d.get("is_verified") != true || d.get("verified_at") == nil ||
			d.get("jit_provisioning_enabled") != false || d.str("sso_enforcement") != "" || d.get("scim_enabled") != false ||
			d.get("scim_base_url") != nil || d.get("has_oidc") != false {
			t.Fatalf("owner's domain = %s", d.raw)
		}
		id := d.str("id")
		pending := admin.must("POST", e.orgPath("/domains"), map[string]any{"domain": "acme-corp.test"}, 201)
		if pending.get("is_verified") != false || pending.get("verified_at") != nil {
			t.Errorf("admin's domain = %s, want it waiting for an owner", pending.raw)
		}
		admin.do("POST", e.orgPath("/domains/"+pending.str("id")+"/verify"), nil).wantError(403, "authentication_error", "permission_denied", "")
		if v := e.owner.must("POST", e.orgPath("/domains/"+pending.str("id")+"/verify"), nil, 200); v.get("is_verified") != true {
			t.Errorf("verified = %s", v.raw)
		}
		plain.do("GET", e.orgPath("/domains"), nil).wantError(403, "authentication_error", "permission_denied", "")

		// Unique across the instance, whatever the case; and a DNS name.
		admin.do("POST", e.orgPath("/domains"), map[string]any{"domain": "ACME.test"}).wantError(400, "validation_error", "unique", "domain")
		other := e.owner.must("POST", "/api/organizations", map[string]any{"name": "Other"}, 201).str("id")
		e.owner.do("POST", "/api/organizations/"+other+"/domains", map[string]any{"domain": "acme.test"}).wantError(400, "validation_error", "unique", "domain")
		for _, bad := range []string{"acme", "-acme.test", "acme..test", "ac me.test", "acme.test/x", "user@acme.test", "10.0.0.1", strings.Repeat("a", 64) + ".test"} {
			admin.do("POST", e.orgPath("/domains"), map[string]any{"domain": bad}).wantError(400, "validation_error", "invalid", "domain")
		}
		admin.do("POST", e.orgPath("/domains"), map[string]any{}).wantError(400, "validation_error", "required", "domain")

		// Another organization's domain is not found through this one's URL.
		foreign := e.owner.must("POST", "/api/organizations/"+other+"/domains", map[string]any{"domain": "other.test"}, 201).str("id")
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			e.owner.do(m, e.orgPath("/domains/"+foreign), map[string]any{}).wantError(404, "invalid_request", "not_found", "")
		}
		e.owner.do("POST", e.orgPath("/domains/"+foreign+"/scim/token"), nil).wantError(404, "invalid_request", "not_found", "")

		up := admin.must("PATCH", e.orgPath("/domains/"+id), map[string]any{"jit_provisioning_enabled": true, "scim_enabled": true}, 200)
		want := e.srv.URL + "/scim/v2/" + id
		if up.get("jit_provisioning_enabled") != true || up.get("scim_enabled") != true || up.str("scim_base_url") != want {
			t.Errorf("PATCH = %s, want scim_base_url %s", up.raw, want)
		}
		// No OIDC on this instance: enforcing it would lock the domain out.
		admin.do("PATCH", e.orgPath("/domains/"+id), map[string]any{"sso_enforcement": "oidc"}).wantError(400, "validation_error", "invalid", "sso_enforcement")
		admin.do("PATCH", e.orgPath("/domains/"+id), map[string]any{"sso_enforcement": "saml"}).wantError(400, "validation_error", "invalid", "sso_enforcement")

		tok := admin.must("POST", e.orgPath("/domains/"+id+"/scim/token"), nil, 201).str("scim_bearer_token")
		if !strings.HasPrefix(tok, "gh_scim_") || len(tok) < 40 {
			t.Errorf("scim token = %q", tok)
		}
		if g := e.owner.must("GET", e.orgPath("/domains/"+id), nil, 200); strings.Contains(g.raw, tok) || strings.Contains(g.raw, "token") {
			t.Errorf("the domain shows its token again: %s", g.raw)
		}
		if l := e.owner.must("GET", e.orgPath("/domains"), nil, 200); l.num("count") != 2 || strings.Contains(l.raw, tok) {
			t.Errorf("list = %s", l.raw)
		}

		log := e.owner.must("GET", e.orgPath("/activity_log?item_id="+id), nil, 200)
		if log.num("count") != 3 || log.str("results.0.scope") != "OrganizationDomain" || log.str("results.0.detail.changes.0.field") != "scim_bearer_token" {
			t.Errorf("activity = %s, want created, updated, token", log.raw)
		}
		admin.must("DELETE", e.orgPath("/domains/"+id), nil, 204)
		admin.do("GET", e.orgPath("/domains/"+id), nil).wantError(404, "invalid_request", "not_found", "")
	})
}

// TestDomainsNeedLicence: on the free plan domains can be read but not written (402), and
// enabling SCIM needs the scim feature.
func TestDomainsNeedLicence(t *testing.T) {
	e := newEnv(t, "sqlite", license.Free)
	e.owner.must("GET", e.orgPath("/domains"), nil, 200)
	e.owner.do("POST", e.orgPath("/domains"), map[string]any{"domain": "acme.test"}).wantError(402, "invalid_request", "payment_required", "")
}
