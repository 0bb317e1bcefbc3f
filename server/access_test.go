package server_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// kinds are the seven resource kinds with a minimal valid body each.
var kinds = []struct {
	path, v1 string
	body     func(n int) map[string]any
}{
	{"feature_flags", "feature flags", func(n int) map[string]any { return map[string]any{"key": fmt.Sprintf("flag-%d", n)} }},
	{"experiments", "experiments", func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("exp %d", n)} }},
	{"cohorts", "cohorts", func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("cohort %d", n)} }},
	{"session_recordings", "session recordings", func(n int) map[string]any { return map[string]any{"id": fmt.Sprintf("rec-%d", n)} }},
	{"insights", "insights", func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("insight %d", n)} }},
	{"dashboards", "dashboards", func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("dash %d", n)} }},
	{"actions", "data management", func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("action %d", n)} }},
}

// create makes an object of kind kindIdx as c and returns its path.
func (c *client) create(kindIdx int) string {
	c.env.t.Helper()
	k := kinds[kindIdx]
	n := int(c.env.seq.Add(1))
	r := c.must("POST", c.env.projPath("/"+k.path), k.body(n), 201)
	return c.env.projPath(fmt.Sprintf("/%s/%v", k.path, idText(r.get("id"))))
}

func idText(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprint(v)
}

// role creates a role whose level for kind kindIdx is level (21/37) and puts members in it.
func (e *env) role(name string, kindIdx, level int, members ...*client) string {
	e.t.Helper()
	r := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": name}, 201)
	id := r.str("id")
	e.owner.must("PATCH", e.orgPath("/roles/"+id), map[string]any{"resource_access_levels": map[string]any{kinds[kindIdx].v1: level}}, 200)
	for _, m := range members {
		e.owner.must("POST", e.orgPath("/roles/"+id+"/role_memberships"), map[string]any{"user_uuid": m.uuid}, 201)
	}
	return id
}

// TestAccessTable pins every row of docs/access-model.md's consequences table,
// over HTTP, on every kind: can a plain member (not the creator) edit O?
func TestAccessTable(t *testing.T) {
	rows := []struct {
		name       string
		orgDefault int   // 0 = no row
		roleLevels []int // the member's roles' levels for the kind
		grant      bool  // an object grant on O to the member's first role
		canEdit    bool
	}{
		{"no default, no roles", 0, nil, false, true},
		{"default edit, any roles", 37, []int{21}, false, true},
		{"default view, no roles", 21, nil, false, false},
		{"default view, view role, no grant", 21, []int{21}, false, false},
		{"default view, view role, grant", 21, []int{21}, true, true},
		{"default view, edit role", 21, []int{37}, false, true},
		{"default view, view and edit roles", 21, []int{21, 37}, false, true},
		{"no default, view role, no grant", 0, []int{21}, false, false},
		{"no default, view role, grant", 0, []int{21}, true, true},
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		for ki, k := range kinds {
			if dialect == "postgres" && ki > 1 {
				break // every kind on SQLite; two kinds are enough to prove PostgreSQL agrees
			}
			t.Run(k.path, func(t *testing.T) {
				for _, row := range rows {
					t.Run(row.name, func(t *testing.T) {
						e := newEnv(t, dialect, license.Enterprise)
						m := e.member(1)
						if row.orgDefault != 0 {
							e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": k.v1, "access_level": row.orgDefault}, 201)
						}
						var roles []string
						for i, l := range row.roleLevels {
							roles = append(roles, e.role(fmt.Sprintf("role %d", i), ki, l, m))
						}
						obj := e.owner.create(ki)
						other := e.owner.create(ki)
						if row.grant {
							e.owner.must("POST", obj+"/role_access", map[string]any{"role_id": roles[0]}, 201)
						}
						want := 403
						if row.canEdit {
							want = 200
						}
						got := m.must("GET", obj, nil, 200)
						if got.get("can_edit") != row.canEdit {
							t.Errorf("can_edit = %v, want %v", got.get("can_edit"), row.canEdit)
						}
						r := m.do("PATCH", obj, map[string]any{"deleted": false})
						if r.status != want {
							t.Fatalf("member PATCH = %d %s, want %d", r.status, r.raw, want)
						}
						if want == 403 {
							r.wantError(403, "authentication_error", "permission_denied", "")
						}
						// Creator and admin always edit, whatever the rules.
						e.owner.must("PATCH", obj, map[string]any{"deleted": false}, 200)
						admin := e.member(8)
						admin.must("PATCH", other, map[string]any{"deleted": false}, 200)
						// Creating needs the kind level: a grant on one object does not give it.
						mine := m.do("POST", e.projPath("/"+k.path), k.body(int(e.seq.Add(1))))
						wantCreate := 403
						if row.canEdit && !row.grant {
							wantCreate = 201
						}
						if mine.status != wantCreate {
							t.Fatalf("member create = %d %s, want %d", mine.status, mine.raw, wantCreate)
						}
						if mine.status == 201 {
							path := e.projPath(fmt.Sprintf("/%s/%s", k.path, idText(mine.get("id"))))
							m.must("PATCH", path, map[string]any{"deleted": false}, 200)
						}
					})
				}
			})
		}
	})
}

// TestSeedExample is docs/access-model.md's seed: flags view only, role
// "product" view-only, top-secret editable by product.
func TestSeedExample(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		prod, outsider, admin := e.member(1), e.member(1), e.member(8)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "product"}, 201)
		if got := role.num("feature_flags_access_level"); got != 21 {
			t.Fatalf("new role's flag level = %v, want 21 (the organization default)", got)
		}
		e.owner.must("POST", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), map[string]any{"user_uuid": prod.uuid}, 201)
		secret := e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "top-secret"}, 201)
		plain := e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "plain"}, 201)
		secretPath := e.projPath(fmt.Sprintf("/feature_flags/%d", int(secret.num("id"))))
		plainPath := e.projPath(fmt.Sprintf("/feature_flags/%d", int(plain.num("id"))))
		e.owner.must("POST", secretPath+"/role_access", map[string]any{"role_id": role.str("id")}, 201)

		prod.must("PATCH", secretPath, map[string]any{"name": "edited by product"}, 200)
		r := prod.do("PATCH", plainPath, map[string]any{"name": "nope"})
		r.wantError(403, "authentication_error", "permission_denied", "")
		if r.str("detail") != "You don't have edit permissions for this feature flag." {
			t.Errorf("detail = %q", r.str("detail"))
		}
		outsider.do("PATCH", secretPath, map[string]any{"name": "nope"}).wantError(403, "authentication_error", "permission_denied", "")
		e.owner.must("PATCH", plainPath, map[string]any{"name": "owner edits"}, 200)
		admin.must("PATCH", secretPath, map[string]any{"name": "admin edits"}, 200)

		list := prod.must("GET", e.projPath("/feature_flags"), nil, 200)
		if list.num("count") != 2 {
			t.Fatalf("product member sees %v flags, want 2", list.num("count"))
		}
		for _, item := range list.list("results") {
			it := item.(map[string]any)
			want := it["key"] == "top-secret"
			if it["can_edit"] != want {
				t.Errorf("list: %v can_edit = %v, want %v", it["key"], it["can_edit"], want)
			}
		}
		role2 := e.owner.must("GET", e.orgPath("/roles/"+role.str("id")), nil, 200)
		if flags := role2.list("associated_flags"); len(flags) != 1 || flags[0].(map[string]any)["key"] != "top-secret" {
			t.Errorf("associated_flags = %v, want [top-secret]", flags)
		}
		// A role access write by someone who cannot manage the flag.
		refused := prod.do("POST", secretPath+"/role_access", map[string]any{"role_id": role.str("id")})
		refused.wantError(403, "authentication_error", "permission_denied", "")
		if refused.str("detail") != "You can't edit roles for this feature flag." {
			t.Errorf("detail = %q", refused.str("detail"))
		}
		// Other kinds name themselves in the refusal.
		dash := e.owner.create(5)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "dashboards", "access_level": 21}, 201)
		if d := outsider.do("PATCH", dash, map[string]any{"name": "x"}).str("detail"); d != "You don't have edit permissions for this dashboard." {
			t.Errorf("dashboard refusal detail = %q", d)
		}
	})
}

// TestFreePlan: configuration reads work, writes answer 402 and nothing is enforced.
func TestFreePlan(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Free)
		m := e.member(1)
		org := e.owner.must("GET", e.orgPath(""), nil, 200)
		if org.str("plan") != "free" || len(org.list("available_features")) != 0 {
			t.Fatalf("org = %s, want plan free without features", org.raw)
		}
		e.owner.must("GET", e.orgPath("/roles"), nil, 200)
		e.owner.must("GET", e.orgPath("/resource_access"), nil, 200)
		e.owner.do("POST", e.orgPath("/roles"), map[string]any{"name": "product"}).wantError(402, "invalid_request", "payment_required", "")
		e.owner.do("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}).wantError(402, "invalid_request", "payment_required", "")
		obj := e.owner.create(0)
		e.owner.do("POST", obj+"/role_access", map[string]any{"role_id": "x"}).wantError(402, "invalid_request", "payment_required", "")
		got := m.must("GET", obj, nil, 200)
		if got.get("can_edit") != true || got.str("user_access_level") != "editor" {
			t.Fatalf("member on free plan: %s, want can_edit editor", got.raw)
		}
		m.must("PATCH", obj, map[string]any{"name": "anyone edits"}, 200)
		if l := e.owner.must("GET", e.orgPath("/roles"), nil, 200).num("count"); l != 0 {
			t.Fatalf("roles after refused write = %v, want 0", l)
		}
	})
}

// TestCrossOrganization: another organization's things are 404, never 403.
func TestCrossOrganization(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		obj := e.owner.create(0)
		stranger := e.member(1)
		// The stranger leaves for an organization of their own.
		other := stranger.must("POST", "/api/organizations", map[string]any{"name": "Other"}, 201)
		stranger.must("DELETE", e.orgPath("/members/"+stranger.uuid), nil, 204)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "r"}, 201)
		for _, p := range []string{obj, e.orgPath(""), e.orgPath("/roles"), e.orgPath("/roles/" + role.str("id")), e.projPath(""), e.projPath("/feature_flags"), obj + "/role_access"} {
			stranger.do("GET", p, nil).wantError(404, "invalid_request", "not_found", "")
		}
		stranger.do("PATCH", obj, map[string]any{"name": "x"}).wantError(404, "invalid_request", "not_found", "")
		// And a role of another organization cannot be granted.
		theirRole := stranger.must("POST", "/api/organizations/"+other.str("id")+"/roles", map[string]any{"name": "theirs"}, 201)
		e.owner.do("POST", obj+"/role_access", map[string]any{"role_id": theirRole.str("id")}).wantError(400, "validation_error", "does_not_exist", "role_id")
		// Nor a user of another organization added to a role.
		e.owner.do("POST", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), map[string]any{"user_uuid": stranger.uuid}).wantError(400, "validation_error", "does_not_exist", "user_uuid")
		if n := e.owner.must("GET", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), nil, 200).num("count"); n != 0 {
			t.Fatalf("role members after refused add = %v, want 0", n)
		}
	})
}
