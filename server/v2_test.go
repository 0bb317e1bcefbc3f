package server_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// membershipID returns the membership id of c in e's organization.
func (e *env) membershipID(c *client) string {
	e.t.Helper()
	ms := e.owner.must("GET", e.orgPath("/members"), nil, 200)
	for _, m := range ms.list("results") {
		mm := m.(map[string]any)
		if mm["user"].(map[string]any)["uuid"] == c.uuid {
			return mm["id"].(string)
		}
	}
	e.t.Fatalf("no membership for %s", c.email)
	return ""
}

func TestAccessControlsV2(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m, other := e.member(1), e.member(1)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "product"}, 201).str("id")
		e.owner.must("POST", e.orgPath("/roles/"+role+"/role_memberships"), map[string]any{"user_uuid": m.uuid}, 201)
		var objs []string
		for range 5 {
			objs = append(objs, e.owner.create(0))
		}
		// Make objects 1 and 3 private: hidden objects sit between pages.
		for _, i := range []int{1, 3} {
			e.owner.must("PUT", objs[i]+"/access_controls", map[string]any{"access_level": "none"}, 200)
		}
		list := other.must("GET", e.projPath("/feature_flags?limit=2"), nil, 200)
		if list.num("count") != 3 || len(list.list("results")) != 2 {
			t.Fatalf("restricted list = %s, want count 3", list.raw)
		}
		page2 := other.must("GET", e.projPath("/feature_flags?limit=2&offset=2"), nil, 200)
		if len(page2.list("results")) != 1 {
			t.Fatalf("page 2 = %s, want 1 item", page2.raw)
		}
		seen := map[string]bool{}
		for _, r := range append(list.list("results"), page2.list("results")...) {
			seen[idText(r.(map[string]any)["id"])] = true
		}
		if len(seen) != 3 {
			t.Fatalf("pages overlap or miss objects: %v", seen)
		}
		// Admins are not bound by rules: their list shows the private objects too.
		if n := e.owner.must("GET", e.projPath("/feature_flags"), nil, 200).num("count"); n != 5 {
			t.Fatalf("owner's list count = %v, want all 5", n)
		}
		other.do("GET", objs[1], nil).wantError(404, "invalid_request", "not_found", "")
		e.owner.must("GET", objs[1], nil, 200) // the creator still sees it
		// Open object 1 to the role as editor, and to one member as viewer.
		e.owner.must("PUT", objs[1]+"/access_controls", map[string]any{"access_level": "editor", "role": role}, 200)
		e.owner.must("PUT", objs[1]+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(other)}, 200)
		m.must("PATCH", objs[1], map[string]any{"name": "through the role"}, 200)
		if got := other.must("GET", objs[1], nil, 200).str("user_access_level"); got != "viewer" {
			t.Fatalf("member rule level = %q, want viewer", got)
		}
		ac := m.must("GET", objs[1]+"/access_controls", nil, 200)
		if len(ac.list("access_controls")) != 3 || ac.get("user_can_edit_access_levels") != false {
			t.Fatalf("access_controls = %s", ac.raw)
		}
		// Only managers change rules.
		m.do("PUT", objs[1]+"/access_controls", map[string]any{"access_level": "manager", "role": role}).wantError(403, "authentication_error", "permission_denied", "")
		e.owner.do("PUT", objs[1]+"/access_controls", map[string]any{"access_level": "boss"}).wantError(400, "validation_error", "invalid_choice", "access_level")
		e.owner.do("PUT", objs[1]+"/access_controls", map[string]any{"access_level": "viewer", "role": role, "organization_member": e.membershipID(m)}).wantError(400, "validation_error", "invalid_input", "")
		// A manager rule lets a member manage.
		e.owner.must("PUT", objs[2]+"/access_controls", map[string]any{"access_level": "manager", "organization_member": e.membershipID(m)}, 200)
		m.must("PUT", objs[2]+"/access_controls", map[string]any{"access_level": "viewer"}, 200)
		e.owner.must("PUT", objs[2]+"/access_controls", map[string]any{"access_level": nil}, 204)

		uwa := e.owner.must("GET", objs[1]+"/users_with_access", nil, 200)
		sources := map[string]string{}
		for _, u := range uwa.list("users") {
			uu := u.(map[string]any)
			sources[uu["user_id"].(string)] = uu["access_source"].(string) + "/" + uu["access_level"].(string)
		}
		want := map[string]string{e.owner.uuid: "organization_admin/manager", m.uuid: "explicit_role/editor", other.uuid: "explicit_member/viewer"}
		for u, w := range want {
			if sources[u] != w {
				t.Errorf("users_with_access[%s] = %q, want %q (all: %v)", u, sources[u], w, sources)
			}
		}

		// Batch checks with reasons.
		id1 := objs[1][len(e.projPath("/feature_flags/")):]
		chk := e.owner.must("POST", e.projPath("/access/check"), map[string]any{"checks": []any{
			map[string]any{"user_uuid": m.uuid, "kind": "feature_flags", "id": id1, "action": "edit"},
			map[string]any{"user_uuid": other.uuid, "kind": "feature_flag", "id": id1, "action": "edit"},
			map[string]any{"kind": "feature_flags", "id": "999999", "action": "view"},
		}}, 200)
		if chk.get("results.0.allowed") != true || chk.str("results.0.access_source") != "explicit_role" || chk.str("results.0.reason") == "" {
			t.Errorf("check 0 = %v", chk.get("results.0"))
		}
		if chk.get("results.1.allowed") != false || chk.str("results.1.access_level") != "viewer" {
			t.Errorf("check 1 = %v", chk.get("results.1"))
		}
		if chk.get("results.2.allowed") != false {
			t.Errorf("check 2 = %v", chk.get("results.2"))
		}
		m.do("POST", e.projPath("/access/check"), map[string]any{"checks": []any{map[string]any{"user_uuid": other.uuid, "kind": "feature_flags", "id": id1, "action": "view"}}}).
			wantError(403, "authentication_error", "permission_denied", "")
		// An unknown uuid is refused alike: a member does not learn which uuids are members.
		m.do("POST", e.projPath("/access/check"), map[string]any{"checks": []any{map[string]any{"user_uuid": "00000000-0000-0000-0000-000000000000", "kind": "feature_flags", "id": id1, "action": "view"}}}).
			wantError(403, "authentication_error", "permission_denied", "")
		checks := make([]any, 1001)
		for i := range checks {
			checks[i] = map[string]any{"kind": "feature_flags", "id": id1, "action": "view"}
		}
		e.owner.do("POST", e.projPath("/access/check"), map[string]any{"checks": checks}).wantError(400, "validation_error", "max_length", "checks")

		// v1 shows up in v2: the role's v1 level for flags is a role kind rule.
		kac := m.must("GET", e.projPath("/resource_access_controls"), nil, 200)
		foundRoleLevel := false
		for _, item := range kac.list("access_controls") {
			it := item.(map[string]any)
			if it["role"] == role && it["resource"] == "feature_flag" && it["access_level"] == "editor" {
				foundRoleLevel = true
			}
		}
		if !foundRoleLevel {
			t.Errorf("resource_access_controls lacks the role's v1 flag level: %s", kac.raw)
		}
		// Kind rules per project: a member rule raises one member.
		e.owner.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "viewer"}, 200)
		e.owner.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "editor", "organization_member": e.membershipID(other)}, 200)
		other.must("PATCH", objs[4], map[string]any{"name": "kind rule for me"}, 200)
		// The role's own flag level (editor) still counts at the kind level: max wins.
		m.must("PATCH", objs[4], map[string]any{"name": "role level"}, 200)
		third := e.member(1)
		third.do("PATCH", objs[4], map[string]any{"name": "no"}).wantError(403, "authentication_error", "permission_denied", "")
		m.do("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "editor"}).wantError(403, "authentication_error", "permission_denied", "")

		// Project access: closed to everyone but one role.
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "none"}, 200)
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "member", "role": role}, 200)
		other.do("GET", e.projPath("/feature_flags"), nil).wantError(404, "invalid_request", "not_found", "")
		other.do("GET", objs[4], nil).wantError(404, "invalid_request", "not_found", "")
		m.must("GET", e.projPath("/feature_flags"), nil, 200)
		e.owner.must("GET", e.projPath("/feature_flags"), nil, 200)

		// Every rule change is in the activity log, newest first, filterable.
		log := e.owner.must("GET", e.projPath("/activity_log"), nil, 200)
		if log.num("count") < 8 || log.str("results.0.scope") != "AccessControl" {
			t.Fatalf("activity log = %s", log.raw)
		}
		byItem := e.owner.must("GET", e.projPath("/activity_log?item_id="+log.str("results.0.item_id")), nil, 200)
		if byItem.num("count") < 1 {
			t.Fatalf("filter by item: %s", byItem.raw)
		}
		orgLog := e.owner.must("GET", e.orgPath(fmt.Sprintf("/activity_log?user=%s", e.owner.uuid)), nil, 200)
		if orgLog.num("count") < log.num("count") {
			t.Fatalf("org log %v < project log %v", orgLog.num("count"), log.num("count"))
		}
		if n := e.owner.must("GET", e.orgPath("/activity_log?user="+m.uuid), nil, 200).num("count"); n < 1 {
			t.Fatalf("member's changes = %v, want ≥ 1 (the viewer rule on objs[2])", n)
		}
	})
}

// TestRulesCannotLockOutCreatorsOrAdmins: a rule naming the creator or an
// admin, or everyone, changes nothing for them.
func TestRulesCannotLockOutCreatorsOrAdmins(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	creator, admin := e.member(1), e.member(8)
	obj := creator.create(0)
	for _, c := range []*client{creator, admin} {
		e.owner.must("PUT", obj+"/access_controls", map[string]any{"access_level": "none", "organization_member": e.membershipID(c)}, 200)
	}
	e.owner.must("PUT", obj+"/access_controls", map[string]any{"access_level": "none"}, 200)
	e.owner.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "none"}, 200)
	for _, c := range []*client{creator, admin} {
		if got := c.must("GET", obj, nil, 200).str("user_access_level"); got != "manager" {
			t.Errorf("%s: level = %q after rules against them, want manager", c.email, got)
		}
		c.must("PATCH", obj, map[string]any{"name": "still mine"}, 200)
	}
	// The creator, as manager, may open the object again.
	creator.must("PUT", obj+"/access_controls", map[string]any{"access_level": "viewer"}, 200)
	other := e.member(1)
	if got := other.must("GET", obj, nil, 200).str("user_access_level"); got != "viewer" {
		t.Errorf("other member = %q, want viewer", got)
	}
}
