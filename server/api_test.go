package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

func TestAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		anon := &client{env: e}
		// Signup closes once a user exists.
		anon.do("POST", "/api/signup", map[string]any{"email": "x@example.com", "password": "correct horse", "first_name": "X"}).
			wantError(403, "authentication_error", "permission_denied", "")
		anon.do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "not_authenticated", "")
		if d := anon.do("GET", "/api/users/@me", nil).str("detail"); d != "Authentication credentials were not provided." {
			t.Errorf("detail = %q", d)
		}
		(&client{env: e, token: "phx_forged"}).do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "authentication_failed", "")
		anon.do("POST", "/api/login", map[string]any{"email": "owner@example.com", "password": "wrong password"}).wantError(401, "authentication_error", "authentication_failed", "")
		anon.do("POST", "/api/login", map[string]any{"email": "nobody@example.com", "password": "wrong password"}).wantError(401, "authentication_error", "authentication_failed", "")

		hc := jarClient()
		login := rawDo(t, hc, e.srv.URL, "POST", "/api/login", map[string]any{"email": "OWNER@example.com", "password": "correct horse"}, nil)
		if login.status != 200 || login.str("email") != "owner@example.com" {
			t.Fatalf("login = %d %s", login.status, login.raw)
		}
		me := rawDo(t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
		if me.str("organization.id") != e.orgID || me.num("team.id") != float64(e.proj) || len(me.list("organizations")) != 1 {
			t.Fatalf("@me = %s", me.raw)
		}
		// Cookie writes from another site are refused; scripts without browser headers pass.
		cross := rawDo(t, hc, e.srv.URL, "PATCH", "/api/users/@me", map[string]any{"first_name": "Eve"}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
		cross.wantError(403, "authentication_error", "permission_denied", "")
		ok := rawDo(t, hc, e.srv.URL, "PATCH", "/api/users/@me", map[string]any{"first_name": "Olivia"}, nil)
		if ok.status != 200 || ok.str("first_name") != "Olivia" {
			t.Fatalf("PATCH @me = %d %s", ok.status, ok.raw)
		}
		if rawDo(t, hc, e.srv.URL, "POST", "/api/logout", nil, nil).status != 204 {
			t.Fatal("logout failed")
		}
		rawDo(t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil).wantError(401, "authentication_error", "not_authenticated", "")

		// Personal API keys: the value once, then only a mask; deleted keys stop working.
		k := e.owner.must("POST", "/api/personal_api_keys", map[string]any{"label": "ci"}, 201)
		if !strings.HasPrefix(k.str("value"), "phx_") {
			t.Fatalf("key value = %q, want phx_…", k.str("value"))
		}
		keys := e.owner.must("GET", "/api/personal_api_keys", nil, 200)
		if keys.num("count") != 2 {
			t.Fatalf("keys = %s, want 2 (the harness's and this one)", keys.raw)
		}
		for _, item := range keys.list("results") {
			if _, shown := item.(map[string]any)["value"]; shown {
				t.Fatalf("key list shows a value: %s", keys.raw)
			}
		}
		kc := &client{env: e, token: k.str("value")}
		kc.must("GET", "/api/users/@me", nil, 200)
		e.owner.must("DELETE", "/api/personal_api_keys/"+k.str("id"), nil, 204)
		kc.do("GET", "/api/users/@me", nil).wantError(401, "authentication_error", "authentication_failed", "")
	})
}

func TestOrganizationsMembersInvites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		org := e.owner.must("GET", e.orgPath(""), nil, 200)
		if org.str("plan") != "enterprise" || org.list("available_features")[0] != "role_based_access" || org.num("membership_level") != 15 {
			t.Fatalf("org = %s", org.raw)
		}
		e.owner.must("GET", "/api/organizations/@current", nil, 200)
		member, admin := e.member(1), e.member(8)
		member.do("PATCH", e.orgPath(""), map[string]any{"name": "x"}).wantError(403, "authentication_error", "permission_denied", "")
		admin.must("PATCH", e.orgPath(""), map[string]any{"name": "Acme Inc"}, 200)
		if n := e.owner.must("GET", e.orgPath("/members"), nil, 200).num("count"); n != 3 {
			t.Fatalf("members = %v, want 3", n)
		}
		// Levels: nobody above their own level, only owners make owners, not your own.
		admin.do("PATCH", e.orgPath("/members/"+member.uuid), map[string]any{"level": 15}).wantError(403, "authentication_error", "permission_denied", "")
		admin.do("PATCH", e.orgPath("/members/"+e.owner.uuid), map[string]any{"level": 1}).wantError(403, "authentication_error", "permission_denied", "")
		admin.do("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 1}).wantError(403, "authentication_error", "permission_denied", "")
		member.do("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 1}).wantError(403, "authentication_error", "permission_denied", "")
		admin.do("PATCH", e.orgPath("/members/"+member.uuid), map[string]any{"level": 3}).wantError(400, "validation_error", "invalid_choice", "level")
		if got := admin.must("PATCH", e.orgPath("/members/"+member.uuid), map[string]any{"level": 8}, 200).num("level"); got != 8 {
			t.Fatalf("level = %v, want 8", got)
		}
		admin.must("PATCH", e.orgPath("/members/"+member.uuid), map[string]any{"level": 1}, 200)
		// The last owner can neither be demoted nor leave.
		e.owner.do("DELETE", e.orgPath("/members/"+e.owner.uuid), nil).wantError(400, "validation_error", "invalid_input", "")
		e.owner.must("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 15}, 200)
		admin.must("PATCH", e.orgPath("/members/"+e.owner.uuid), map[string]any{"level": 8}, 200)
		admin.do("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 8}).wantError(403, "authentication_error", "permission_denied", "")

		// Invites: not above the inviter; members can't invite; revoke.
		member.do("POST", e.orgPath("/invites"), map[string]any{"target_email": "a@example.com"}).wantError(403, "authentication_error", "permission_denied", "")
		e.owner.do("POST", e.orgPath("/invites"), map[string]any{"target_email": "a@example.com", "level": 15}).wantError(400, "validation_error", "invalid", "level")
		e.owner.do("POST", e.orgPath("/invites"), map[string]any{"target_email": "not an email"}).wantError(400, "validation_error", "invalid", "target_email")
		inv := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "a@example.com"}, 201)
		if inv.num("level") != 1 {
			t.Fatalf("invite level = %v, want default 1", inv.num("level"))
		}
		if n := e.owner.must("GET", e.orgPath("/invites"), nil, 200).num("count"); n != 1 {
			t.Fatalf("invites = %v, want 1", n)
		}
		e.owner.must("DELETE", e.orgPath("/invites/"+inv.str("id")), nil, 204)
		(&client{env: e}).do("POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "A", "password": "correct horse"}).wantError(404, "invalid_request", "not_found", "")

		// An existing user accepts an invite to a second organization with an empty body.
		second := e.owner.must("POST", "/api/organizations", map[string]any{"name": "Second"}, 201)
		inv2 := e.owner.must("POST", "/api/organizations/"+second.str("id")+"/invites", map[string]any{"target_email": member.email}, 201)
		member.must("POST", "/api/signup/"+inv2.str("id"), nil, 200)
		switched := member.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": second.str("id")}, 200)
		if switched.str("organization.id") != second.str("id") || switched.get("team") == nil {
			t.Fatalf("after switching organization: %s", switched.raw)
		}
		member.do("PATCH", "/api/users/@me", map[string]any{"set_current_organization": "00000000-0000-0000-0000-000000000000"}).
			wantError(400, "validation_error", "does_not_exist", "set_current_organization")
		orgs := member.must("GET", "/api/organizations", nil, 200)
		if orgs.num("count") != 2 {
			t.Fatalf("member's organizations = %s, want 2", orgs.raw)
		}
		// Members leave by themselves; admins remove others. Leaving the current
		// organization makes @current the oldest one left.
		member.must("DELETE", "/api/organizations/"+second.str("id")+"/members/"+member.uuid, nil, 204)
		if got := member.must("GET", "/api/organizations/@current", nil, 200).str("id"); got != e.orgID {
			t.Fatalf("@current after leaving = %q, want %q", got, e.orgID)
		}
		member.must("GET", "/api/projects", nil, 200)
		admin.must("DELETE", e.orgPath("/members/"+member.uuid), nil, 204)
		member.do("GET", e.orgPath(""), nil).wantError(404, "invalid_request", "not_found", "")
		// Owners delete organizations; admins can't.
		admin.must("PATCH", e.orgPath("/members/"+e.owner.uuid), map[string]any{"level": 15}, 200)
		e.owner.must("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 8}, 200)
		admin.do("DELETE", e.orgPath(""), nil).wantError(403, "authentication_error", "permission_denied", "")
		e.owner.must("DELETE", "/api/organizations/"+second.str("id"), nil, 204)
		e.owner.do("GET", "/api/organizations/"+second.str("id"), nil).wantError(404, "invalid_request", "not_found", "")
	})
}

func TestProjects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		m.do("POST", "/api/projects", map[string]any{"name": "P"}).wantError(403, "authentication_error", "permission_denied", "")
		p := e.owner.must("POST", "/api/projects", map[string]any{"name": "Second"}, 201)
		if !strings.HasPrefix(p.str("api_token"), "phc_") || p.str("organization") != e.orgID {
			t.Fatalf("project = %s", p.raw)
		}
		if n := m.must("GET", "/api/projects", nil, 200).num("count"); n != 2 {
			t.Fatalf("projects = %v, want 2", n)
		}
		// The same through the organization, whatever is current; a project
		// closed to the member is left out of theirs.
		byOrg := e.orgPath("/projects")
		if n := m.must("GET", byOrg, nil, 200).num("count"); n != 2 {
			t.Fatalf("organization's projects = %v, want 2", n)
		}
		e.owner.must("PUT", fmt.Sprintf("/api/projects/%d/access_controls", int(p.num("id"))), map[string]any{"access_level": "none"}, 200)
		if got := m.must("GET", byOrg, nil, 200); got.num("count") != 1 || got.num("results.0.id") == p.num("id") {
			t.Fatalf("organization's projects after closing one = %s, want only the open one", got.raw)
		}
		if n := e.owner.must("GET", byOrg, nil, 200).num("count"); n != 2 {
			t.Fatalf("owner's projects = %v, want 2 (admins enter every project)", n)
		}
		e.owner.must("PUT", fmt.Sprintf("/api/projects/%d/access_controls", int(p.num("id"))), map[string]any{"access_level": "member"}, 200)
		path := fmt.Sprintf("/api/projects/%d", int(p.num("id")))
		m.must("GET", path, nil, 200)
		m.must("GET", "/api/projects/@current", nil, 200)
		m.do("PATCH", path, map[string]any{"name": "x"}).wantError(403, "authentication_error", "permission_denied", "")
		if got := e.owner.must("PATCH", path, map[string]any{"name": "Renamed"}, 200).str("name"); got != "Renamed" {
			t.Fatalf("name = %q", got)
		}
		m.must("PATCH", "/api/users/@me", map[string]any{"set_current_team": p.num("id")}, 200)
		e.owner.must("DELETE", path, nil, 204)
		m.do("GET", path, nil).wantError(404, "invalid_request", "not_found", "")
	})
}

func TestResources(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		for ki, k := range kinds {
			t.Run(k.path, func(t *testing.T) {
				base := e.projPath("/" + k.path)
				var paths []string
				for range 5 {
					paths = append(paths, e.owner.create(ki))
				}
				list := e.owner.must("GET", base+"?limit=2", nil, 200)
				if list.num("count") != 5 || len(list.list("results")) != 2 || list.get("previous") != nil {
					t.Fatalf("page 1 = %s", list.raw)
				}
				next, _ := list.get("next").(string)
				if !strings.HasPrefix(next, "http://") || !strings.Contains(next, "offset=2") {
					t.Fatalf("next = %q, want an absolute URL at offset 2", next)
				}
				last := e.owner.must("GET", base+"?limit=2&offset=4", nil, 200)
				if len(last.list("results")) != 1 || last.get("next") != nil || last.get("previous") == nil {
					t.Fatalf("last page = %s", last.raw)
				}
				// Newest first.
				if got, want := idText(list.get("results.0.id")), paths[4][strings.LastIndex(paths[4], "/")+1:]; got != want {
					t.Fatalf("first id = %v, want newest %v", got, want)
				}
				obj := e.owner.must("GET", paths[0], nil, 200)
				for _, f := range []string{"created_by", "created_at", "updated_at", "deleted", "can_edit", "user_access_level"} {
					if _, ok := obj.body.(map[string]any)[f]; !ok {
						t.Errorf("object lacks %q: %s", f, obj.raw)
					}
				}
				if obj.str("created_by.email") != "owner@example.com" || obj.str("user_access_level") != "manager" || obj.get("can_edit") != true {
					t.Errorf("object = %s", obj.raw)
				}
				// Soft delete leaves the list.
				e.owner.must("PATCH", paths[0], map[string]any{"deleted": true}, 200)
				if n := e.owner.must("GET", base, nil, 200).num("count"); n != 4 {
					t.Fatalf("count after soft delete = %v, want 4", n)
				}
				if k.path == "feature_flags" {
					e.owner.do("DELETE", paths[1], nil).wantError(405, "invalid_request", "method_not_allowed", "")
				} else {
					e.owner.must("DELETE", paths[1], nil, 204)
					e.owner.do("GET", paths[1], nil).wantError(404, "invalid_request", "not_found", "")
				}
				e.owner.do("GET", base+"/999999", nil).wantError(404, "invalid_request", "not_found", "")
				e.owner.do("PATCH", paths[2], map[string]any{"deleted": "yes"}).wantError(400, "validation_error", "invalid", "deleted")
			})
		}
		flags := e.projPath("/feature_flags")
		e.owner.do("POST", flags, map[string]any{"name": "no key"}).wantError(400, "validation_error", "required", "key")
		e.owner.do("POST", flags, map[string]any{"key": "bad key!"}).wantError(400, "validation_error", "invalid", "key")
		e.owner.do("POST", flags, map[string]any{"key": 5}).wantError(400, "validation_error", "invalid", "key")
		e.owner.do("POST", flags, map[string]any{"key": "k", "active": "yes"}).wantError(400, "validation_error", "invalid", "active")
		e.owner.do("POST", flags, map[string]any{"key": strings.Repeat("k", 401)}).wantError(400, "validation_error", "max_length", "key")
		f := e.owner.must("POST", flags, map[string]any{"key": "dup", "filters": map[string]any{"groups": []any{map[string]any{"properties": []any{}, "rollout_percentage": 30}}}}, 201)
		if f.num("rollout_percentage") != 30 || f.get("active") != true {
			t.Fatalf("flag = %s", f.raw)
		}
		e.owner.do("POST", flags, map[string]any{"key": "dup"}).wantError(400, "validation_error", "unique", "key")
		e.owner.must("PATCH", e.projPath(fmt.Sprintf("/feature_flags/%d", int(f.num("id")))), map[string]any{"deleted": true}, 200)
		e.owner.must("POST", flags, map[string]any{"key": "dup"}, 201)
		e.owner.do("POST", e.projPath("/experiments"), map[string]any{"name": ""}).wantError(400, "validation_error", "blank", "name")
		e.owner.do("POST", e.projPath("/dashboards"), map[string]any{}).wantError(400, "validation_error", "required", "name")
		e.owner.do("POST", e.projPath("/unicorns"), map[string]any{}).wantError(404, "invalid_request", "not_found", "")
		e.owner.do("GET", flags+"?limit=0", nil).wantError(400, "validation_error", "invalid", "limit")
		e.owner.do("GET", flags+"?limit=100000", nil).wantError(400, "validation_error", "invalid", "limit")
	})
}

func TestErrors(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	flags := e.projPath("/feature_flags")
	e.owner.do("POST", flags, "{not json").wantError(400, "validation_error", "parse_error", "")
	e.owner.do("POST", flags, "[1,2]").wantError(400, "validation_error", "invalid_input", "")
	e.owner.do("POST", flags, `{"key": "`+strings.Repeat("x", 2<<20)+`"}`).wantError(413, "invalid_request", "request_too_large", "")
	e.owner.do("PUT", "/api/organizations", nil).wantError(405, "invalid_request", "method_not_allowed", "")
	e.owner.do("GET", "/api/nothing/here", nil).wantError(404, "invalid_request", "not_found", "")
	e.owner.do("GET", "/api/organizations/not-a-uuid", nil).wantError(404, "invalid_request", "not_found", "")
	e.owner.do("GET", "/api/projects/abc/feature_flags", nil).wantError(404, "invalid_request", "not_found", "")
	// Trailing slashes are optional.
	e.owner.must("GET", flags+"/", nil, 200)
	if n := e.owner.must("GET", flags, nil, 200).num("count"); n != 0 {
		t.Fatalf("flags after refused writes = %v, want 0", n)
	}
}

func TestRolesV1(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		m.do("POST", e.orgPath("/roles"), map[string]any{"name": "x"}).wantError(403, "authentication_error", "permission_denied", "")
		if d := m.do("POST", e.orgPath("/roles"), map[string]any{"name": "x"}).str("detail"); d != "You need to have admin level or higher." {
			t.Errorf("detail = %q", d)
		}
		e.owner.do("POST", e.orgPath("/roles"), map[string]any{}).wantError(400, "validation_error", "required", "name")
		e.owner.do("POST", e.orgPath("/roles"), map[string]any{"name": strings.Repeat("r", 201)}).wantError(400, "validation_error", "max_length", "name")
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "experiments", "access_level": 21}, 201)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Product", "feature_flags_access_level": 21}, 201)
		// Levels come from the organization defaults, not the request.
		if role.num("feature_flags_access_level") != 37 || role.num("resource_access_levels.experiments") != 21 || role.num("resource_access_levels.insights") != 37 {
			t.Fatalf("role = %s", role.raw)
		}
		if len(role.get("resource_access_levels").(map[string]any)) != 7 {
			t.Fatalf("resource_access_levels = %v, want all 7 kinds", role.get("resource_access_levels"))
		}
		r := e.owner.do("POST", e.orgPath("/roles"), map[string]any{"name": "PRODUCT"})
		r.wantError(400, "validation_error", "unique", "name")
		if r.str("detail") != "There is already a role with this name." {
			t.Errorf("detail = %q", r.str("detail"))
		}
		path := e.orgPath("/roles/" + role.str("id"))
		e.owner.must("PATCH", path, map[string]any{"name": "product"}, 200)
		e.owner.do("PATCH", path, map[string]any{"feature_flags_access_level": 30}).wantError(400, "validation_error", "invalid_choice", "feature_flags_access_level")
		e.owner.do("PATCH", path, map[string]any{"resource_access_levels": map[string]any{"unicorns": 21}}).wantError(400, "validation_error", "invalid_choice", "resource_access_levels")
		up := e.owner.must("PATCH", path, map[string]any{"feature_flags_access_level": 21, "resource_access_levels": map[string]any{"cohorts": 21}}, 200)
		if up.num("feature_flags_access_level") != 21 || up.num("resource_access_levels.cohorts") != 21 {
			t.Fatalf("updated role = %s", up.raw)
		}
		e.owner.do("PUT", path, map[string]any{}).wantError(400, "validation_error", "required", "name")
		members := path + "/role_memberships"
		e.owner.do("POST", members, map[string]any{"user_uuid": "00000000-0000-0000-0000-000000000000"}).wantError(400, "validation_error", "does_not_exist", "user_uuid")
		rm := e.owner.must("POST", members, map[string]any{"user_uuid": m.uuid}, 201)
		if rm.str("user.uuid") != m.uuid || rm.str("role_id") != role.str("id") {
			t.Fatalf("role membership = %s", rm.raw)
		}
		dup := e.owner.do("POST", members, map[string]any{"user_uuid": m.uuid})
		dup.wantError(400, "validation_error", "unique", "user_uuid")
		if dup.str("detail") != "User is already part of the role." {
			t.Errorf("detail = %q", dup.str("detail"))
		}
		m.must("GET", members, nil, 200)
		m.must("GET", members+"/"+rm.str("id"), nil, 200)
		m.do("DELETE", members+"/"+rm.str("id"), nil).wantError(403, "authentication_error", "permission_denied", "")
		if got := m.must("GET", path, nil, 200).list("members"); len(got) != 1 {
			t.Fatalf("role members = %v", got)
		}
		e.owner.must("DELETE", members+"/"+rm.str("id"), nil, 204)
		// Organization defaults.
		ra := e.orgPath("/resource_access")
		dupRA := e.owner.do("POST", ra, map[string]any{"resource": "experiments"})
		dupRA.wantError(400, "validation_error", "unique", "resource")
		if dupRA.str("detail") != "This resource access already exists." {
			t.Errorf("detail = %q", dupRA.str("detail"))
		}
		e.owner.do("POST", ra, map[string]any{"resource": "unicorns"}).wantError(400, "validation_error", "invalid_choice", "resource")
		e.owner.do("POST", ra, map[string]any{"resource": "cohorts", "access_level": 5}).wantError(400, "validation_error", "invalid_choice", "access_level")
		def := e.owner.must("POST", ra, map[string]any{"resource": "feature flags"}, 201)
		if def.num("access_level") != 37 || def.str("organization") != e.orgID {
			t.Fatalf("resource access = %s", def.raw)
		}
		m.do("PATCH", ra+"/"+def.str("id"), map[string]any{"access_level": 21}).wantError(403, "authentication_error", "permission_denied", "")
		if got := e.owner.must("PATCH", ra+"/"+def.str("id"), map[string]any{"access_level": 21}, 200).num("access_level"); got != 21 {
			t.Fatalf("access_level = %v", got)
		}
		if n := m.must("GET", ra, nil, 200).num("count"); n != 2 {
			t.Fatalf("resource_access count = %v, want 2", n)
		}
		e.owner.must("DELETE", ra+"/"+def.str("id"), nil, 204)
		// Deleting a role removes its grants.
		obj := e.owner.create(0)
		g := e.owner.must("POST", obj+"/role_access", map[string]any{"role_id": role.str("id")}, 201)
		if g.str("feature_flag.key") == "" || g.str("role.name") != "product" {
			t.Fatalf("role access = %s", g.raw)
		}
		e.owner.do("POST", obj+"/role_access", map[string]any{"role_id": role.str("id")}).wantError(400, "validation_error", "unique", "resource")
		e.owner.do("POST", obj+"/role_access", map[string]any{}).wantError(400, "validation_error", "required", "role_id")
		e.owner.must("GET", obj+"/role_access/"+g.str("id"), nil, 200)
		e.owner.must("DELETE", path, nil, 204)
		if n := e.owner.must("GET", obj+"/role_access", nil, 200).num("count"); n != 0 {
			t.Fatalf("grants after role delete = %v, want 0", n)
		}
		e.owner.do("GET", path, nil).wantError(404, "invalid_request", "not_found", "")
	})
}
