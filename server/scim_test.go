package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// scimEnv is a server whose organization has the verified domain acme.test with SCIM on,
// and its client's token.
type scimEnv struct {
	*env
	domainID string
	token    string
}

func newSCIMEnv(t testing.TB, dialect string) *scimEnv {
	t.Helper()
	return scimOn(newEnv(t, dialect, license.Enterprise), "acme.test")
}

// scimOn gives e's organization the domain with SCIM on and a token.
func scimOn(e *env, domain string) *scimEnv {
	e.t.Helper()
	id := e.owner.must("POST", e.orgPath("/domains"), map[string]any{"domain": domain}, 201).str("id")
	e.owner.must("PATCH", e.orgPath("/domains/"+id), map[string]any{"scim_enabled": true}, 200)
	tok := e.owner.must("POST", e.orgPath("/domains/"+id+"/scim/token"), nil, 201).str("scim_bearer_token")
	return &scimEnv{env: e, domainID: id, token: tok}
}

// do sends a SCIM request with the domain's token, as application/scim+json.
func (s *scimEnv) do(method, rest string, body any) *result {
	s.t.Helper()
	return scimDo(s.env, s.domainID, s.token, method, rest, body)
}

func scimDo(e *env, domainID, token, method, rest string, body any) *result {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/scim+json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return rawDo(e.t, http.DefaultClient, e.srv.URL, method, "/scim/v2/"+domainID+"/"+rest, body, h)
}

func (s *scimEnv) must(method, rest string, body any, want int) *result {
	s.t.Helper()
	r := s.do(method, rest, body)
	if r.status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, rest, r.status, r.raw, want)
	}
	if r.raw != "" && !strings.HasPrefix(r.header.Get("Content-Type"), "application/scim+json") {
		s.t.Errorf("%s %s answered %q, want application/scim+json", method, rest, r.header.Get("Content-Type"))
	}
	return r
}

// wantSCIMError checks a SCIM error body.
func (r *result) wantSCIMError(status int, scimType string) {
	r.t.Helper()
	schemas := r.list("schemas")
	if r.status != status || len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" ||
		r.str("status") != fmt.Sprint(status) || r.str("detail") == "" || r.str("scimType") != scimType {
		r.t.Fatalf("answer = %d %s, want a SCIM error %d with scimType %q", r.status, r.raw, status, scimType)
	}
}

func filterQuery(f string) string { return "filter=" + url.QueryEscape(f) }

// TestSCIMAuthentication: every SCIM route wants the token of the domain in its URL, with
// SCIM on and the domain verified; anything else is a SCIM 401, and a new token replaces
// the old one at once.
func TestSCIMAuthentication(t *testing.T) {
	s := newSCIMEnv(t, "sqlite")
	other := scimOn(s.env, "other.test") // a second domain of the same organization
	foreignOrg := s.owner.must("POST", "/api/organizations", map[string]any{"name": "Foreign"}, 201).str("id")
	s.owner.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": s.orgID}, 200)
	foreign := scimOn(&env{t: t, srv: s.srv, owner: s.owner, orgID: foreignOrg}, "foreign.test")

	user := s.must("POST", "Users", map[string]any{"userName": "ann@acme.test"}, 201).str("id")
	routes := []struct{ method, rest string }{
		{"GET", "ServiceProviderConfig"}, {"GET", "ResourceTypes"}, {"GET", "Schemas"},
		{"GET", "Users"}, {"POST", "Users"}, {"GET", "Users/" + user}, {"PUT", "Users/" + user},
		{"PATCH", "Users/" + user}, {"DELETE", "Users/" + user},
		{"GET", "Groups"}, {"POST", "Groups"}, {"GET", "Groups/x"}, {"PUT", "Groups/x"}, {"PATCH", "Groups/x"}, {"DELETE", "Groups/x"},
	}
	for _, rt := range routes {
		for name, tok := range map[string]string{
			"no token":                  "",
			"a personal API key":        s.owner.token,
			"another domain's token":    other.token,
			"another organization's":    foreign.token,
			"a token with a byte more":  s.token + "x",
			"the token's hash-like kin": strings.TrimPrefix(s.token, "gh_scim_"),
		} {
			r := scimDo(s.env, s.domainID, tok, rt.method, rt.rest, map[string]any{})
			if r.status != 401 {
				t.Fatalf("%s %s with %s = %d %s, want 401", rt.method, rt.rest, name, r.status, r.raw)
			}
			r.wantSCIMError(401, "")
		}
	}
	// The user is still there: none of the refused requests did anything.
	s.must("GET", "Users/"+user, nil, 200)

	// A new token replaces the old one at once.
	old := s.token
	s.token = s.owner.must("POST", s.orgPath("/domains/"+s.domainID+"/scim/token"), nil, 201).str("scim_bearer_token")
	scimDo(s.env, s.domainID, old, "GET", "Users", nil).wantSCIMError(401, "")
	s.must("GET", "Users", nil, 200)

	// SCIM off, or the domain unverified: refused alike.
	s.owner.must("PATCH", s.orgPath("/domains/"+s.domainID), map[string]any{"scim_enabled": false}, 200)
	s.do("GET", "Users", nil).wantSCIMError(401, "")
	s.owner.must("PATCH", s.orgPath("/domains/"+s.domainID), map[string]any{"scim_enabled": true}, 200)
	s.must("GET", "Users", nil, 200)
	admin := s.member(8)
	pending := admin.must("POST", s.orgPath("/domains"), map[string]any{"domain": "pending.test"}, 201).str("id")
	admin.must("PATCH", s.orgPath("/domains/"+pending), map[string]any{"scim_enabled": true}, 200)
	ptok := admin.must("POST", s.orgPath("/domains/"+pending+"/scim/token"), nil, 201).str("scim_bearer_token")
	scimDo(s.env, pending, ptok, "GET", "Users", nil).wantSCIMError(401, "")
	// Unknown domain ids and paths outside the routes are SCIM errors too.
	scimDo(s.env, "nope", s.token, "GET", "Users", nil).wantSCIMError(401, "")
	s.do("GET", "Nothing", nil).wantSCIMError(404, "")
}

// TestSCIMOkta replays the requests of Okta's SCIM 2.0 reference
// (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20): look a user up by
// userName, create, read, replace, deactivate with a PATCH without path, reactivate;
// push a group, add and remove members, rename it, delete it.
func TestSCIMOkta(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newSCIMEnv(t, dialect)
		list := s.must("GET", "Users?"+filterQuery(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", nil, 200)
		if list.num("totalResults") != 0 || len(list.list("Resources")) != 0 || list.str("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
			t.Fatalf("lookup before create = %s", list.raw)
		}
		created := s.must("POST", "Users", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {"givenName": "Test", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true
}`, 201)
		id := created.str("id")
		if created.str("userName") != "test.user@okta.local" || created.get("active") != true || created.str("externalId") != "00ujl29u0le5T6Aj10h7" ||
			created.str("name.givenName") != "Test" || created.str("meta.resourceType") != "User" ||
			created.str("meta.location") != s.srv.URL+"/scim/v2/"+s.domainID+"/Users/"+id || created.header.Get("Location") != created.str("meta.location") {
			t.Fatalf("created = %s", created.raw)
		}
		// The user is a plain member of the organization, with no password.
		members := s.owner.must("GET", s.orgPath("/members"), nil, 200)
		if !strings.Contains(members.raw, `"test.user@okta.local"`) {
			t.Fatalf("members = %s", members.raw)
		}
		rawDo(t, http.DefaultClient, s.srv.URL, "POST", "/api/login", map[string]any{"email": "test.user@okta.local", "password": "1mz050nq"}, nil).
			wantError(401, "authentication_error", "authentication_failed", "")
		// Okta's next sync finds the user by userName.
		if got := s.must("GET", "Users?"+filterQuery(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", nil, 200); got.num("totalResults") != 1 || got.str("Resources.0.id") != id {
			t.Fatalf("lookup after create = %s", got.raw)
		}
		s.do("POST", "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"TEST.USER@okta.local","active":true}`).wantSCIMError(409, "uniqueness")
		s.must("GET", "Users/"+id, nil, 200)
		// Okta updates a profile with PUT.
		put := s.must("PUT", "Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "`+id+`",
  "userName": "test.user@okta.local",
  "name": {"givenName": "Another", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "displayName": "Another User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "active": true,
  "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z", "lastModified": "2018-03-27T19:59:26.000Z"}
}`, 200)
		if put.str("name.givenName") != "Another" {
			t.Errorf("PUT = %s", put.raw)
		}

		// Groups: Okta pushes one, then its members.
		group := s.must("POST", "Groups", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "displayName": "Test SCIMv2",
  "members": []
}`, 201)
		gid := group.str("id")
		roles := s.owner.must("GET", s.orgPath("/roles"), nil, 200)
		if roles.num("count") != 1 || roles.str("results.0.id") != gid || roles.str("results.0.name") != "Test SCIMv2" {
			t.Fatalf("roles = %s, want the group as a role", roles.raw)
		}
		if got := s.must("GET", "Groups?"+filterQuery(`displayName eq "Test SCIMv2"`)+"&startIndex=1&count=100", nil, 200); got.num("totalResults") != 1 || got.str("Resources.0.id") != gid {
			t.Fatalf("group lookup = %s", got.raw)
		}
		added := s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "add", "path": "members", "value": [{"value": "`+id+`", "display": "test.user@okta.local"}]}]
}`, 200)
		if added.str("members.0.value") != id {
			t.Fatalf("after add = %s", added.raw)
		}
		rm := s.owner.must("GET", s.orgPath("/roles/"+gid+"/role_memberships"), nil, 200)
		if rm.num("count") != 1 || rm.str("results.0.user.email") != "test.user@okta.local" {
			t.Fatalf("role members = %s", rm.raw)
		}
		renamed := s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "replace", "value": {"id": "`+gid+`", "displayName": "Test SCIMv2 renamed"}}]
}`, 200)
		if renamed.str("displayName") != "Test SCIMv2 renamed" {
			t.Errorf("rename = %s", renamed.raw)
		}
		removed := s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "remove", "path": "members[value eq \"`+id+`\"]"}]
}`, 200)
		if len(removed.list("members")) != 0 {
			t.Errorf("after remove = %s", removed.raw)
		}

		// Deactivation: Okta's PATCH without a path. The membership goes, with the role
		// membership it had.
		s.must("PATCH", "Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`, 200)
		off := s.must("PATCH", "Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "replace", "value": {"active": false}}]
}`, 200)
		if off.get("active") != false {
			t.Fatalf("deactivated = %s", off.raw)
		}
		if got := s.must("GET", "Users/"+id, nil, 200); got.get("active") != false {
			t.Errorf("GET after deactivation = %s", got.raw)
		}
		if m := s.owner.must("GET", s.orgPath("/members"), nil, 200); strings.Contains(m.raw, "test.user@okta.local") {
			t.Errorf("still a member after deactivation: %s", m.raw)
		}
		if rm := s.owner.must("GET", s.orgPath("/roles/"+gid+"/role_memberships"), nil, 200); rm.num("count") != 0 {
			t.Errorf("still in the role after deactivation: %s", rm.raw)
		}
		if got := s.must("GET", "Users?"+filterQuery(`active eq true`), nil, 200); got.num("totalResults") != 0 {
			t.Errorf("active users = %s", got.raw)
		}
		// Reactivation: a plain membership, no roles.
		on := s.must("PATCH", "Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`, 200)
		if on.get("active") != true {
			t.Fatalf("reactivated = %s", on.raw)
		}
		m := s.owner.must("GET", s.orgPath("/members"), nil, 200)
		if !strings.Contains(m.raw, "test.user@okta.local") {
			t.Errorf("not a member after reactivation: %s", m.raw)
		}
		if rm := s.owner.must("GET", s.orgPath("/roles/"+gid+"/role_memberships"), nil, 200); rm.num("count") != 0 {
			t.Errorf("reactivation brought a role back: %s", rm.raw)
		}
		s.must("DELETE", "Groups/"+gid, nil, 204)
		s.do("GET", "Groups/"+gid, nil).wantSCIMError(404, "")
		if roles := s.owner.must("GET", s.orgPath("/roles"), nil, 200); roles.num("count") != 0 {
			t.Errorf("roles after the group's DELETE = %s", roles.raw)
		}

		// Every change is the SCIM client's in the activity log.
		log := s.owner.must("GET", s.orgPath("/activity_log"), nil, 200)
		scim := 0
		for _, row := range log.list("results") {
			row := row.(map[string]any)
			if row["actor_name"] == "SCIM (acme.test)" {
				scim++
				if row["user"] != nil {
					t.Errorf("a SCIM row names a user: %v", row)
				}
			}
		}
		if scim < 8 {
			t.Errorf("%d activity rows by SCIM (acme.test), want every SCIM change: %s", scim, log.raw)
		}
	})
}

// TestSCIMEntra replays the requests of Microsoft Entra ID's SCIM validation
// ("Develop and plan provisioning for a SCIM endpoint"): op names in any case, Replace with
// a path, filtered email paths, userName changes, active as a path, DELETE; groups with
// externalId, excludedAttributes=members, Add and Remove of members by value lists.
func TestSCIMEntra(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newSCIMEnv(t, dialect)
		created := s.must("POST", "Users", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
  "active": true,
  "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "roles": []
}`, 201)
		id := created.str("id")
		if created.str("externalId") != "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef" || created.str("name.familyName") != "familyName" {
			t.Fatalf("created = %s", created.raw)
		}
		if got := s.must("GET", "Users?"+filterQuery(`userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com"`), nil, 200); got.num("totalResults") != 1 {
			t.Errorf("by userName = %s", got.raw)
		}
		if got := s.must("GET", "Users?"+filterQuery(`userName eq "non-existent user"`), nil, 200); got.num("totalResults") != 0 || len(got.list("Resources")) != 0 {
			t.Errorf("unknown userName = %s", got.raw)
		}
		s.do("POST", "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com","active":true}`).wantSCIMError(409, "uniqueness")
		up := s.must("PATCH", "Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
  ]
}`, 200)
		if up.str("name.familyName") != "updatedFamilyName" {
			t.Errorf("after Replace = %s", up.raw)
		}
		un := s.must("PATCH", "Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]
}`, 200)
		if un.str("userName") != "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" {
			t.Errorf("after userName Replace = %s", un.raw)
		}
		// Entra ID's disable: a path, and sometimes the value as a string.
		off := s.must("PATCH", "Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 200)
		if off.get("active") != false {
			t.Fatalf("disabled = %s", off.raw)
		}
		s.must("PATCH", "Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":"True"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 200)
		s.must("PATCH", "Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":"False"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 200)
		s.must("PATCH", "Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":true}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 200)

		// Groups.
		group := s.must("POST", "Groups", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
  "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
  "displayName": "displayName",
  "meta": {"resourceType": "Group"}
}`, 201)
		gid := group.str("id")
		if group.str("externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
			t.Errorf("group = %s", group.raw)
		}
		if got := s.must("GET", "Groups/"+gid+"?excludedAttributes=members", nil, 200); got.get("members") != nil || got.str("externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
			t.Errorf("group without members = %s", got.raw)
		}
		if got := s.must("GET", "Groups?excludedAttributes=members&"+filterQuery(`displayName eq "displayName"`), nil, 200); got.num("totalResults") != 1 || got.get("Resources.0.members") != nil {
			t.Errorf("group by displayName = %s", got.raw)
		}
		s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]
}`, 200)
		added := s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "`+id+`"}]}]
}`, 200)
		if added.str("displayName") != "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" || added.str("members.0.value") != id {
			t.Fatalf("after Add = %s", added.raw)
		}
		removed := s.must("PATCH", "Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "`+id+`"}]}]
}`, 200)
		if len(removed.list("members")) != 0 {
			t.Errorf("after Remove = %s", removed.raw)
		}
		s.must("DELETE", "Groups/"+gid, nil, 204)

		// DELETE: the membership goes, then the user is not found here.
		s.must("DELETE", "Users/"+id, nil, 204)
		s.do("GET", "Users/"+id, nil).wantSCIMError(404, "")
		s.do("DELETE", "Users/"+id, nil).wantSCIMError(404, "")
		if m := s.owner.must("GET", s.orgPath("/members"), nil, 200); strings.Contains(m.raw, "testuser.com") {
			t.Errorf("a deleted user is still a member: %s", m.raw)
		}
	})
}

// TestSCIMFilters: eq on the listed attributes joined by and/or, parsed by a real filter
// parser; everything else is invalidFilter; paging by startIndex and count (at most 200).
func TestSCIMFilters(t *testing.T) {
	s := newSCIMEnv(t, "sqlite")
	for i := range 5 {
		body := map[string]any{"userName": fmt.Sprintf("u%d@acme.test", i), "externalId": fmt.Sprintf("Ext-%d", i), "active": i%2 == 0}
		s.must("POST", "Users", body, 201)
	}
	count := func(f string) float64 {
		t.Helper()
		return s.must("GET", "Users?"+filterQuery(f), nil, 200).num("totalResults")
	}
	for f, want := range map[string]float64{
		`userName eq "U1@ACME.test"`:                               1, // userName is not case-exact
		`externalId eq "Ext-1"`:                                    1,
		`externalId eq "ext-1"`:                                    0, // externalId is
		`emails.value eq "u2@acme.test"`:                           1,
		`active eq true`:                                           3,
		`active eq false`:                                          2,
		`active eq true and userName eq "u1@acme.test"`:            0,
		`userName eq "u1@acme.test" or userName eq "u2@acme.test"`: 2,
		`(userName eq "u1@acme.test" or userName eq "u2@acme.test") and active eq true`: 1,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "u3@acme.test"`:         1,
	} {
		if got := count(f); got != want {
			t.Errorf("filter %s: %v results, want %v", f, got, want)
		}
	}
	for _, f := range []string{`userName co "u"`, `userName ne "x"`, `name.givenName eq "x"`, `title eq "x"`, `not (active eq true)`,
		`userName eq`, `userName = "x"`, `emails[type eq "work"]`} {
		s.do("GET", "Users?"+filterQuery(f), nil).wantSCIMError(400, "invalidFilter")
	}
	s.do("GET", "Groups?"+filterQuery(`externalId eq "x"`), nil).wantSCIMError(400, "invalidFilter")

	page := s.must("GET", "Users?startIndex=2&count=2", nil, 200)
	if page.num("totalResults") != 5 || page.num("startIndex") != 2 || page.num("itemsPerPage") != 2 || page.str("Resources.0.userName") != "u1@acme.test" {
		t.Errorf("page = %s", page.raw)
	}
	if p := s.must("GET", "Users?startIndex=0&count=0", nil, 200); p.num("totalResults") != 5 || p.num("startIndex") != 1 || len(p.list("Resources")) != 0 {
		t.Errorf("count=0 = %s", p.raw)
	}
	if p := s.must("GET", "Users?startIndex=9", nil, 200); p.num("totalResults") != 5 || len(p.list("Resources")) != 0 {
		t.Errorf("past the end = %s", p.raw)
	}
	for i := range 200 {
		s.must("POST", "Users", map[string]any{"userName": fmt.Sprintf("bulk%d@acme.test", i)}, 201)
	}
	if p := s.must("GET", "Users?count=1000", nil, 200); p.num("itemsPerPage") != 200 || p.num("totalResults") != 205 {
		t.Errorf("count=1000: %v items of %v, want 200 of 205", p.num("itemsPerPage"), p.num("totalResults"))
	}
	s.do("GET", "Users?count=many", nil).wantSCIMError(400, "invalidValue")
	spc := s.must("GET", "ServiceProviderConfig", nil, 200)
	if spc.get("patch.supported") != true || spc.get("bulk.supported") != false || spc.num("filter.maxResults") != 200 ||
		spc.get("sort.supported") != false || spc.get("etag.supported") != false || spc.str("authenticationSchemes.0.type") != "oauthbearertoken" {
		t.Errorf("ServiceProviderConfig = %s", spc.raw)
	}
	if rt := s.must("GET", "ResourceTypes", nil, 200); rt.num("totalResults") != 2 || rt.str("Resources.0.endpoint") != "/Users" {
		t.Errorf("ResourceTypes = %s", rt.raw)
	}
	if sc := s.must("GET", "Schemas", nil, 200); sc.str("Resources.0.id") != "urn:ietf:params:scim:schemas:core:2.0:User" {
		t.Errorf("Schemas = %s", sc.raw)
	}
}

// TestSCIMErrors: bodies and operations a SCIM client may get wrong, each a SCIM error with
// its scimType, and nothing written.
func TestSCIMErrors(t *testing.T) {
	s := newSCIMEnv(t, "sqlite")
	id := s.must("POST", "Users", map[string]any{"userName": "ann@acme.test"}, 201).str("id")
	s.do("POST", "Users", map[string]any{}).wantSCIMError(400, "invalidValue")
	s.do("POST", "Users", map[string]any{"userName": "not an email"}).wantSCIMError(400, "invalidValue")
	s.do("POST", "Users", `{"userName": `).wantSCIMError(400, "invalidSyntax")
	s.do("POST", "Users", map[string]any{"userName": "bob@acme.test", "active": "maybe"}).wantSCIMError(400, "invalidValue")
	patch := func(ops string) *result {
		return s.do("PATCH", "Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+ops+`}`)
	}
	patch(`[]`).wantSCIMError(400, "invalidValue")
	patch(`[{"op":"move","path":"active","value":false}]`).wantSCIMError(400, "invalidSyntax")
	patch(`[{"op":"remove"}]`).wantSCIMError(400, "noTarget")
	patch(`[{"op":"replace","path":"emails[type eq","value":"x"}]`).wantSCIMError(400, "invalidPath")
	patch(`[{"op":"replace","value":"active"}]`).wantSCIMError(400, "invalidValue")
	patch(`[{"op":"replace","path":"active","value":"maybe"}]`).wantSCIMError(400, "invalidValue")
	patch(`[{"op":"replace","path":"active","value":false},{"op":"replace","path":"userName","value":"nope"}]`).wantSCIMError(400, "invalidValue")
	if got := s.must("GET", "Users/"+id, nil, 200); got.get("active") != true {
		t.Errorf("a refused PATCH changed the user: %s", got.raw)
	}
	// The organization's last owner is not deprovisioned.
	owner := s.must("POST", "Users", map[string]any{"userName": "owner@example.com"}, 201).str("id")
	s.do("PATCH", "Users/"+owner, `{"Operations":[{"op":"replace","value":{"active":false}}]}`).wantSCIMError(400, "invalidValue")
	s.owner.must("GET", "/api/users/@me", nil, 200)

	// A group's members must be given as {value}; a members filter selects by value only.
	gid := s.must("POST", "Groups", map[string]any{"displayName": "Eng"}, 201).str("id")
	s.do("PATCH", "Groups/"+gid, `{"Operations":[{"op":"add","path":"members","value":["x"]}]}`).wantSCIMError(400, "invalidValue")
	s.do("PATCH", "Groups/"+gid, `{"Operations":[{"op":"remove","path":"members[display eq \"x\"]"}]}`).wantSCIMError(400, "invalidPath")
	s.do("POST", "Groups", map[string]any{}).wantSCIMError(400, "invalidValue")
	s.do("GET", "Groups/nope", nil).wantSCIMError(404, "")
	s.do("GET", "Users/nope", nil).wantSCIMError(404, "")
}

// TestSCIMScope: what must not happen across organizations and domains. A user of another
// organization, or a member this domain did not provision, is not found; a group of
// another organization is not found; POST Groups links an existing role by name instead of
// making a second; POST Users links an existing account instead of making a second.
func TestSCIMScope(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newSCIMEnv(t, dialect)
		plain := s.member(1) // in the organization, not provisioned
		s.do("GET", "Users/"+plain.uuid, nil).wantSCIMError(404, "")
		s.do("PATCH", "Users/"+plain.uuid, `{"Operations":[{"op":"replace","value":{"active":false}}]}`).wantSCIMError(404, "")
		s.do("DELETE", "Users/"+plain.uuid, nil).wantSCIMError(404, "")
		s.do("GET", "Users/"+s.owner.uuid, nil).wantSCIMError(404, "")

		// Another organization of the same owner, with its own domain and users.
		foreignOrg := s.owner.must("POST", "/api/organizations", map[string]any{"name": "Foreign"}, 201).str("id")
		s.owner.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": s.orgID}, 200)
		foreign := scimOn(&env{t: t, srv: s.srv, owner: s.owner, orgID: foreignOrg}, "foreign.test")
		fu := foreign.must("POST", "Users", map[string]any{"userName": "fay@foreign.test"}, 201).str("id")
		fg := foreign.must("POST", "Groups", map[string]any{"displayName": "Foreign group"}, 201).str("id")
		s.do("GET", "Users/"+fu, nil).wantSCIMError(404, "")
		s.do("PUT", "Users/"+fu, map[string]any{"userName": "fay@foreign.test"}).wantSCIMError(404, "")
		s.do("GET", "Groups/"+fg, nil).wantSCIMError(404, "")
		s.do("PATCH", "Groups/"+fg, `{"Operations":[{"op":"replace","path":"displayName","value":"mine"}]}`).wantSCIMError(404, "")
		s.do("DELETE", "Groups/"+fg, nil).wantSCIMError(404, "")
		if got := s.must("GET", "Users", nil, 200); got.num("totalResults") != 0 {
			t.Errorf("acme's SCIM lists another domain's users: %s", got.raw)
		}
		if got := s.must("GET", "Groups", nil, 200); got.num("totalResults") != 0 {
			t.Errorf("acme's SCIM lists another organization's roles: %s", got.raw)
		}
		// A foreign member's id as a group member is no member here: left out.
		gid := s.must("POST", "Groups", map[string]any{"displayName": "Mine", "members": []any{map[string]any{"value": fu}}}, 201)
		if len(gid.list("members")) != 0 {
			t.Errorf("a foreign user joined a role: %s", gid.raw)
		}

		// Existing role and account are linked, not duplicated.
		role := s.owner.must("POST", s.orgPath("/roles"), map[string]any{"name": "Engineers"}, 201).str("id")
		if g := s.must("POST", "Groups", map[string]any{"displayName": "ENGINEERS", "externalId": "g-1"}, 201); g.str("id") != role || g.str("displayName") != "Engineers" {
			t.Errorf("POST Groups with an existing role's name = %s, want role %s", g.raw, role)
		}
		if u := s.must("POST", "Users", map[string]any{"userName": strings.ToUpper(plain.email)}, 201); u.str("id") != plain.uuid {
			t.Errorf("POST Users with a member's email = %s, want their account %s", u.raw, plain.uuid)
		}
		if roles := s.owner.must("GET", s.orgPath("/roles"), nil, 200); roles.num("count") != 2 {
			t.Errorf("roles = %s, want Mine and Engineers", roles.raw)
		}
	})
}

// TestSCIMDeprovisionOnEveryReplica: two replicas on one PostgreSQL database. A user
// deprovisioned through replica A is refused on their very next request to replica B,
// which had their key and the organization in memory: left in no organization, their key
// answers 401 everywhere; still in another organization, they are out of this one (404)
// and keep the other.
func TestSCIMDeprovisionOnEveryReplica(t *testing.T) {
	sqltest.PostgresURL(t)
	stores := replicaStores(t, "postgres")
	a := newEnvOn(t, stores[0], license.Enterprise)
	b := a.on(newWatchingServer(t, stores[1]))
	s := scimOn(a, "acme.test")
	other := a.owner.must("POST", "/api/organizations", map[string]any{"name": "Other"}, 201).str("id")
	a.owner.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": a.orgID}, 200)
	for deadline := time.Now().Add(10 * time.Second); !stores[0].CacheLive() || !stores[1].CacheLive(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replicas' listeners never came up")
		}
	}
	for i := range 6 {
		m := a.member(1)
		stays := i%2 == 1 // a member of another organization as well
		if stays {
			inv := a.owner.must("POST", "/api/organizations/"+other+"/invites", map[string]any{"target_email": m.email}, 201).str("id")
			m.must("POST", "/api/signup/"+inv, nil, 200)
		}
		if id := s.must("POST", "Users", map[string]any{"userName": m.email}, 201).str("id"); id != m.uuid {
			t.Fatalf("SCIM linked %s, want the member's account %s", id, m.uuid)
		}
		// B has the key, the project and the organization's rules in memory. (A grant
		// reaches B when its notice does: wait for the new member to be let in there.)
		for start := time.Now(); m.as(b).do("GET", b.projPath(""), nil).status != 200; time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatal("replica b never let the new member in")
			}
		}
		for range 2 {
			m.as(b).must("GET", b.projPath(""), nil, 200)
			m.as(b).must("GET", "/api/users/@me", nil, 200)
		}
		if i < 3 {
			s.must("PATCH", "Users/"+m.uuid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 200)
		} else {
			s.must("DELETE", "Users/"+m.uuid, nil, 204)
		}
		if stays {
			m.as(b).do("GET", b.projPath(""), nil).wantError(404, "invalid_request", "not_found", "")
			m.as(b).must("GET", "/api/organizations/"+other, nil, 200)
			continue
		}
		m.as(b).do("GET", b.projPath(""), nil).wantError(401, "authentication_error", "authentication_failed", "")
		m.as(b).do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "authentication_failed", "")
		m.do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "authentication_failed", "")
	}
}

// TestSCIMLimits: every SCIM route that reads a body refuses one over 1 MiB with a SCIM
// 413; malformed bodies and ids that name nothing are SCIM 4xx errors, never a 5xx; and
// none of it writes anything.
func TestSCIMLimits(t *testing.T) {
	s := newSCIMEnv(t, "sqlite")
	user := s.must("POST", "Users", map[string]any{"userName": "ann@acme.test"}, 201).str("id")
	group := s.must("POST", "Groups", map[string]any{"displayName": "Eng", "members": []any{map[string]any{"value": user}}}, 201).str("id")
	snapshot := func() string {
		return s.must("GET", "Users", nil, 200).raw + s.must("GET", "Groups", nil, 200).raw
	}
	before := snapshot()
	big := `{"userName":"` + strings.Repeat("x", 1<<20) + `@acme.test"}`
	writes := []struct{ method, rest string }{
		{"POST", "Users"}, {"PUT", "Users/" + user}, {"PATCH", "Users/" + user},
		{"POST", "Groups"}, {"PUT", "Groups/" + group}, {"PATCH", "Groups/" + group},
	}
	for _, w := range writes {
		s.do(w.method, w.rest, big).wantSCIMError(413, "")
		for _, body := range fuzzBodies {
			// None of them has the userName, displayName or Operations each route needs.
			if r := s.do(w.method, w.rest, body); r.status < 400 || r.status >= 500 {
				t.Errorf("%s %s with %.40q = %d %s, want a 4xx", w.method, w.rest, body, r.status, r.raw)
			} else if r.str("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("%s %s with %.40q = %d %s, want a SCIM error body", w.method, w.rest, body, r.status, r.raw)
			}
		}
	}
	for _, bad := range badIDs {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
			for _, kind := range []string{"Users/", "Groups/"} {
				r := s.do(m, kind+bad, `{"userName":"x@acme.test","displayName":"x","Operations":[{"op":"replace","path":"displayName","value":"x"}]}`)
				if r.status != 404 {
					t.Errorf("%s %s%s = %d %s, want 404", m, kind, bad, r.status, r.raw)
				} else {
					r.wantSCIMError(404, "")
				}
			}
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("refused requests changed what SCIM lists:\n%s\n%s", before, after)
	}
}

// TestSCIMDisabledUserCannotSignIn: a user deprovisioned out of their last organization
// cannot sign in with their password (refused as a wrong password is), and can again once
// the provider restores them.
func TestSCIMDisabledUserCannotSignIn(t *testing.T) {
	s := newSCIMEnv(t, "sqlite")
	m := s.member(1)
	s.must("POST", "Users", map[string]any{"userName": m.email}, 201)
	login := func() *result {
		return rawDo(t, jarClient(), s.srv.URL, "POST", "/api/login", map[string]any{"email": m.email, "password": "correct horse"}, nil)
	}
	if r := login(); r.status != 200 {
		t.Fatalf("login before = %d %s", r.status, r.raw)
	}
	s.must("PATCH", "Users/"+m.uuid, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 200)
	login().wantError(401, "authentication_error", "authentication_failed", "")
	s.must("PATCH", "Users/"+m.uuid, `{"Operations":[{"op":"replace","path":"active","value":true}]}`, 200)
	if r := login(); r.status != 200 {
		t.Errorf("login after restoring = %d %s", r.status, r.raw)
	}
	// The keys a deprovisioning deleted stay deleted.
	m.do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "authentication_failed", "")
}
