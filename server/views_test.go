package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
)

// projectPath is e.projPath for another project.
func projectPath(project int64, rest string) string {
	return fmt.Sprintf("/api/projects/%d%s", project, rest)
}

// newProject makes a project in e's organization, as its owner, and returns its id.
func (e *env) newProject(name string) int64 {
	e.t.Helper()
	return int64(e.owner.must("POST", e.orgPath("/projects"), map[string]any{"name": name}, 201).num("id"))
}

// createIn makes an object of kind kindIdx in project as c and returns its path.
func (c *client) createIn(project int64, kindIdx int) string {
	c.env.t.Helper()
	k := kinds[kindIdx]
	r := c.must("POST", projectPath(project, "/"+k.path), k.body(int(c.env.seq.Add(1))), 201)
	return projectPath(project, fmt.Sprintf("/%s/%v", k.path, idText(r.get("id"))))
}

// closeProject gives c level none in project by a v2 project rule.
func (e *env) closeProject(project int64, c *client) {
	e.t.Helper()
	e.owner.must("PUT", projectPath(project, "/access_controls"), map[string]any{"access_level": "none", "organization_member": e.membershipID(c)}, 200)
}

// foreigner makes a member of e's organization who then makes organization B (of which
// they are the owner, and which becomes their current one) and leaves e's: a user of
// another organization. It returns them, B's id and B's first project.
func (e *env) foreigner() (c *client, org string, project int64) {
	e.t.Helper()
	c = e.member(1)
	org = c.must("POST", "/api/organizations", map[string]any{"name": "B"}, 201).str("id")
	project = int64(c.must("GET", "/api/organizations/"+org+"/projects", nil, 200).num("results.0.id"))
	c.must("DELETE", e.orgPath("/members/"+c.uuid), nil, 204)
	return c, org, project
}

// flagIDs returns the ids of a role answer's associated_flags, sorted.
func flagIDs(r *result, path string) []string {
	out := []string{}
	for _, f := range r.list(path) {
		out = append(out, idText(f.(map[string]any)["id"]))
	}
	slices.Sort(out)
	return out
}

// TestAssociatedFlagsShowOnlyVisibleGrants: a role's associated_flags name only the flags
// the reader may view (not one made private, not one in a project closed to them), and
// only v1 grants (a v2 role rule below editor is no "can edit" grant), in the role's own
// answer and in the list alike.
func TestAssociatedFlagsShowOnlyVisibleGrants(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		closed := e.newProject("Closed")
		e.closeProject(closed, m)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Product"}, 201).str("id")
		open, private, elsewhere, weak := e.owner.create(0), e.owner.create(0), e.owner.createIn(closed, 0), e.owner.create(0)
		e.owner.must("PUT", private+"/access_controls", map[string]any{"access_level": "none"}, 200)
		for _, f := range []string{open, private, elsewhere} {
			e.owner.must("POST", f+"/role_access", map[string]any{"role_id": role}, 201)
		}
		e.owner.must("PUT", weak+"/access_controls", map[string]any{"access_level": "viewer", "role": role}, 200)

		sorted := func(paths ...string) []string {
			out := []string{}
			for _, p := range paths {
				out = append(out, lastSegment(p))
			}
			slices.Sort(out)
			return out
		}
		tests := []struct {
			name string
			c    *client
			want []string
		}{
			{"member", m, sorted(open)},
			{"owner", e.owner, sorted(open, private, elsewhere)},
		}
		for _, tt := range tests {
			one := tt.c.must("GET", e.orgPath("/roles/"+role), nil, 200)
			if got := flagIDs(one, "associated_flags"); !slices.Equal(got, tt.want) {
				t.Errorf("%s: GET role associated_flags = %v, want %v (%s)", tt.name, got, tt.want, one.raw)
			}
			list := tt.c.must("GET", e.orgPath("/roles"), nil, 200)
			for i, r := range list.list("results") {
				if r.(map[string]any)["id"] != role {
					continue
				}
				if got := flagIDs(list, fmt.Sprintf("results.%d.associated_flags", i)); !slices.Equal(got, tt.want) {
					t.Errorf("%s: GET roles associated_flags = %v, want %v", tt.name, got, tt.want)
				}
			}
			// Nor does a hidden flag's id or key appear anywhere in the answer.
			for _, p := range []string{private, elsewhere} {
				if tt.c == m && strings.Contains(one.raw, `"id":`+lastSegment(p)+`,`) {
					t.Errorf("%s: role answer names hidden flag %s: %s", tt.name, lastSegment(p), one.raw)
				}
			}
		}
	})
}

// activityIDs walks a log through its next links, pages of limit, and returns every row's
// item id, checking that each page states the same count and that the count is the
// number of rows walked.
func activityItems(t *testing.T, c *client, path string, limit int) (items []string, count int) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
	count = -1
	for pages := 0; next != ""; pages++ {
		if pages > 100 {
			t.Fatalf("%s: more than 100 pages", path)
		}
		r := c.must("GET", next, nil, 200)
		n := int(r.num("count"))
		if count >= 0 && n != count {
			t.Errorf("%s: count changes between pages: %d then %d", path, count, n)
		}
		count = n
		for _, a := range r.list("results") {
			items = append(items, a.(map[string]any)["item_id"].(string))
		}
		next = r.str("next")
		if i := strings.Index(next, "/api/"); i >= 0 {
			next = next[i:]
		}
	}
	if count != len(items) {
		t.Errorf("%s: count = %d, but the pages hold %d rows", path, count, len(items))
	}
	return items, count
}

// TestActivityLogHidesRulesOnHiddenObjects: a project's activity log shows a reader the
// rows about rules on objects they may view, and none about an object hidden from them
// (which would name the object, the members its rules target and their levels), nor
// about one deleted since; count and next links agree with the rows shown. Admins, who
// may view everything, see every row.
func TestActivityLogHidesRulesOnHiddenObjects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m, x := e.member(1), e.member(1)
		open, private, gone := e.owner.create(0), e.owner.create(0), e.owner.create(2)
		e.owner.must("PUT", open+"/access_controls", map[string]any{"access_level": "editor", "organization_member": e.membershipID(x)}, 200)
		// On the private flag: created, updated and deleted rows about it.
		e.owner.must("PUT", private+"/access_controls", map[string]any{"access_level": "none"}, 200)
		e.owner.must("PUT", private+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(x)}, 200)
		e.owner.must("PUT", private+"/access_controls", map[string]any{"access_level": "editor", "organization_member": e.membershipID(x)}, 200)
		e.owner.must("PUT", private+"/access_controls", map[string]any{"access_level": nil, "organization_member": e.membershipID(x)}, 204)
		// A private cohort, deleted since: its rows outlive it.
		e.owner.must("PUT", gone+"/access_controls", map[string]any{"access_level": "none"}, 200)
		e.owner.must("PUT", gone+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(x)}, 200)
		e.owner.must("DELETE", gone, nil, 204)
		// Rows about no object: every reader of the project's log sees them.
		e.owner.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "cohort", "access_level": "editor", "organization_member": e.membershipID(x)}, 200)
		e.owner.must("PUT", open+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(x)}, 200)

		// The rows about the hidden objects, by the rules' ids, from the owner's log.
		all := e.owner.must("GET", e.projPath("/activity_log"), nil, 200)
		hidden := map[string]bool{}
		for _, a := range all.list("results") {
			for _, ch := range a.(map[string]any)["detail"].(map[string]any)["changes"].([]any) {
				c := ch.(map[string]any)
				if c["field"] != "object" {
					continue
				}
				obj := idText(c["after"])
				if c["after"] == nil {
					obj = idText(c["before"])
				}
				if obj == lastSegment(private) || obj == lastSegment(gone) {
					hidden[a.(map[string]any)["item_id"].(string)] = true
				}
			}
		}
		if len(hidden) != 4 {
			t.Fatalf("rules on the hidden objects = %d, want 4 (two on each)", len(hidden))
		}
		ownerItems, _ := activityItems(t, e.owner, e.projPath("/activity_log"), 100)
		var want []string
		hiddenRows := 0
		for _, it := range ownerItems {
			if hidden[it] {
				hiddenRows++
			} else {
				want = append(want, it)
			}
		}
		if hiddenRows != 6 || len(want) != 3 {
			t.Fatalf("owner's log = %d rows about hidden objects and %d others, want 6 and 3", hiddenRows, len(want))
		}
		for _, limit := range []int{1, 2, 100} {
			got, count := activityItems(t, m, e.projPath("/activity_log"), limit)
			if !slices.Equal(got, want) || count != len(want) {
				t.Errorf("member's log (pages of %d) = %v (count %d), want %v (count %d)", limit, got, count, want, len(want))
			}
		}
		// Asking for a hidden rule by id, or for the owner's rows, finds nothing hidden.
		for it := range hidden {
			if n := m.must("GET", e.projPath("/activity_log?item_id="+it), nil, 200).num("count"); n != 0 {
				t.Errorf("member's log for hidden rule %s: count %v, want 0", it, n)
			}
		}
		got, _ := activityItems(t, m, e.projPath("/activity_log?user="+e.owner.uuid), 2)
		if !slices.Equal(got, want) {
			t.Errorf("member's log of the owner's changes = %v, want %v", got, want)
		}
		// The organization's log (admins only) shows admins everything.
		orgItems, _ := activityItems(t, e.owner, e.orgPath("/activity_log"), 3)
		for it := range hidden {
			if !slices.Contains(orgItems, it) {
				t.Errorf("organization log lacks rule %s for the owner", it)
			}
		}
	})
}

// TestActivityLogUserFilterForeignUser: ?user= with the uuid of another organization's
// user answers exactly as an unknown uuid, so the filter tells nobody which uuids have
// accounts elsewhere (or used to belong here); a member's uuid filters.
func TestActivityLogUserFilterForeignUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		stranger, _, _ := e.foreigner()
		for _, path := range []string{e.orgPath("/activity_log"), e.projPath("/activity_log")} {
			reader := e.owner
			unknown := reader.do("GET", path+"?user=00000000-0000-0000-0000-000000000000", nil)
			unknown.wantError(400, "validation_error", "does_not_exist", "user")
			foreign := reader.do("GET", path+"?user="+stranger.uuid, nil)
			if foreign.status != unknown.status || foreign.raw != unknown.raw {
				t.Errorf("GET %s?user=<foreign> = %d %s, want as unknown: %d %s", path, foreign.status, foreign.raw, unknown.status, unknown.raw)
			}
			reader.must("GET", path+"?user="+m.uuid, nil, 200)
		}
	})
}

// TestUsersWithAccessLeavesOut: users_with_access names exactly the members who may view
// the object. A member whose level on it is none, a member shut out of its project and
// another organization's user are absent, and total_count counts only those named.
func TestUsersWithAccessLeavesOut(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		viewer, shutOut, shutOutOfProject := e.member(1), e.member(1), e.member(1)
		stranger, _, projB := e.foreigner()
		theirs := stranger.createIn(projB, 0) // the stranger's own flag, elsewhere
		obj := e.owner.create(0)
		e.owner.must("PUT", obj+"/access_controls", map[string]any{"access_level": "none", "organization_member": e.membershipID(shutOut)}, 200)
		e.owner.must("PUT", obj+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(viewer)}, 200)
		e.closeProject(e.proj, shutOutOfProject)

		want := []string{e.owner.uuid, viewer.uuid}
		slices.Sort(want)
		for _, reader := range []*client{e.owner, viewer} {
			r := reader.must("GET", obj+"/users_with_access", nil, 200)
			var got []string
			for _, u := range r.list("users") {
				got = append(got, u.(map[string]any)["user_id"].(string))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("users_with_access as %s = %v, want %v", reader.email, got, want)
			}
			for _, absent := range []*client{shutOut, shutOutOfProject, stranger} {
				if strings.Contains(r.raw, absent.uuid) {
					t.Errorf("users_with_access as %s names %s, who may not view the object: %s", reader.email, absent.email, r.raw)
				}
			}
			if n := int(r.num("total_count")); n != len(got) {
				t.Errorf("users_with_access total_count = %d, want %d (the users named)", n, len(got))
			}
		}
		// The stranger's own flag elsewhere is nothing to this organization.
		e.owner.do("GET", e.projPath("/feature_flags/"+lastSegment(theirs)+"/users_with_access"), nil).wantError(404, "invalid_request", "not_found", "")
	})
}

// TestProjectAdminByRule: a plain member made project admin by a v2 project rule manages
// that project (renames it, writes its access rules, and is told so) but may not delete
// it, which would destroy every object in it (403, nothing deleted); in another project
// they have no admin power at all. An organization admin still deletes projects.
func TestProjectAdminByRule(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		pa, x := e.member(1), e.member(1)
		other := e.newProject("Other")
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "admin", "organization_member": e.membershipID(pa)}, 200)
		flag, cohort := e.owner.create(0), e.owner.create(2)

		pa.must("PATCH", e.projPath(""), map[string]any{"name": "Renamed by its admin"}, 200)
		pa.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "member", "organization_member": e.membershipID(x)}, 200)
		pa.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "editor", "organization_member": e.membershipID(x)}, 200)
		for _, p := range []string{"/access_controls", "/resource_access_controls"} {
			if got := pa.must("GET", e.projPath(p), nil, 200).get("user_can_edit_access_levels"); got != true {
				t.Errorf("GET %s user_can_edit_access_levels = %v for its project admin, want true", p, got)
			}
		}

		del := pa.do("DELETE", e.projPath(""), nil)
		del.wantError(403, "authentication_error", "permission_denied", "")
		if d := del.str("detail"); d != "Only organization admins can delete a project." {
			t.Errorf("DELETE project detail = %q", d)
		}
		if got := e.owner.must("GET", e.projPath(""), nil, 200).str("name"); got != "Renamed by its admin" {
			t.Errorf("project after refused delete: name %q", got)
		}
		e.owner.must("GET", flag, nil, 200)
		e.owner.must("GET", cohort, nil, 200)

		// No admin power in another project.
		pa.do("PATCH", projectPath(other, ""), map[string]any{"name": "Mine now"}).wantError(403, "authentication_error", "permission_denied", "")
		pa.do("PUT", projectPath(other, "/access_controls"), map[string]any{"access_level": "admin", "organization_member": e.membershipID(pa)}).wantError(403, "authentication_error", "permission_denied", "")
		pa.do("PUT", projectPath(other, "/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "none"}).wantError(403, "authentication_error", "permission_denied", "")
		pa.do("DELETE", projectPath(other, ""), nil).wantError(403, "authentication_error", "permission_denied", "")
		for _, p := range []string{"/access_controls", "/resource_access_controls"} {
			if got := pa.must("GET", projectPath(other, p), nil, 200).get("user_can_edit_access_levels"); got != false {
				t.Errorf("GET other project's %s user_can_edit_access_levels = %v, want false", p, got)
			}
		}
		if got := e.owner.must("GET", projectPath(other, ""), nil, 200).str("name"); got != "Other" {
			t.Errorf("other project renamed to %q", got)
		}
		// Nor in the organization.
		pa.do("POST", e.orgPath("/roles"), map[string]any{"name": "x"}).wantError(403, "authentication_error", "permission_denied", "")
		// The organization's admins delete projects.
		e.owner.must("DELETE", projectPath(other, ""), nil, 204)
	})
}

// TestRoleRoutesUseTheURLsOrganization: every role, role membership and organization
// default route acts on the organization its URL names, whatever the caller's current
// organization: A's owner, whose current organization is B, works on A and leaves B as
// it was; B's owner, a plain member of A, is refused every write on A, which stays as
// it was.
func TestRoleRoutesUseTheURLsOrganization(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		orgB := e.owner.must("POST", "/api/organizations", map[string]any{"name": "B"}, 201).str("id")
		if cur := e.owner.must("GET", "/api/users/@me", nil, 200).str("organization.id"); cur != orgB {
			t.Fatalf("current organization = %s, want B", cur)
		}
		a, b := e.orgPath(""), "/api/organizations/"+orgB
		state := func(c *client, org string) string {
			var s []string
			for _, p := range []string{"/roles", "/resource_access", "/activity_log"} {
				s = append(s, c.must("GET", org+p, nil, 200).raw)
			}
			return strings.Join(s, "\n")
		}
		bBefore := state(e.owner, b)

		role := e.owner.must("POST", a+"/roles", map[string]any{"name": "Product"}, 201).str("id")
		e.owner.must("GET", a+"/roles/"+role, nil, 200)
		e.owner.do("GET", b+"/roles/"+role, nil).wantError(404, "invalid_request", "not_found", "")
		e.owner.must("PUT", a+"/roles/"+role, map[string]any{"name": "Product team"}, 200)
		e.owner.must("PATCH", a+"/roles/"+role, map[string]any{"feature_flags_access_level": 21}, 200)
		// m is a member of A only: resolving B would refuse them.
		rm := e.owner.must("POST", a+"/roles/"+role+"/role_memberships", map[string]any{"user_uuid": m.uuid}, 201).str("id")
		e.owner.must("GET", a+"/roles/"+role+"/role_memberships", nil, 200)
		e.owner.must("GET", a+"/roles/"+role+"/role_memberships/"+rm, nil, 200)
		e.owner.must("DELETE", a+"/roles/"+role+"/role_memberships/"+rm, nil, 204)
		def := e.owner.must("POST", a+"/resource_access", map[string]any{"resource": "cohorts", "access_level": 21}, 201)
		if def.str("organization") != e.orgID {
			t.Errorf("resource_access made in %s, want A", def.str("organization"))
		}
		e.owner.must("GET", a+"/resource_access/"+def.str("id"), nil, 200)
		e.owner.must("PUT", a+"/resource_access/"+def.str("id"), map[string]any{"resource": "cohorts", "access_level": 37}, 200)
		e.owner.must("PATCH", a+"/resource_access/"+def.str("id"), map[string]any{"access_level": 21}, 200)
		e.owner.must("GET", a+"/resource_access", nil, 200)
		e.owner.must("DELETE", a+"/resource_access/"+def.str("id"), nil, 204)
		e.owner.must("DELETE", a+"/roles/"+role, nil, 204)
		if n := e.owner.must("GET", a+"/activity_log?user="+e.owner.uuid, nil, 200).num("count"); n < 8 {
			t.Errorf("A's log of the owner's changes = %v rows, want the 8 just made", n)
		}
		if got := state(e.owner, b); got != bBefore {
			t.Errorf("B changed while its owner worked on A:\nbefore %s\nafter  %s", bBefore, got)
		}

		// Another organization's owner, current there, is a plain member of A.
		u := e.member(1)
		u.must("POST", "/api/organizations", map[string]any{"name": "C"}, 201)
		keep := e.owner.must("POST", a+"/roles", map[string]any{"name": "Kept"}, 201).str("id")
		kept := e.owner.must("POST", a+"/roles/"+keep+"/role_memberships", map[string]any{"user_uuid": m.uuid}, 201).str("id")
		keptDef := e.owner.must("POST", a+"/resource_access", map[string]any{"resource": "insights", "access_level": 37}, 201).str("id")
		aBefore := state(e.owner, a)
		writes := []struct {
			method, path string
			body         any
		}{
			{"POST", a + "/roles", map[string]any{"name": "Mine"}},
			{"PUT", a + "/roles/" + keep, map[string]any{"name": "Mine"}},
			{"PATCH", a + "/roles/" + keep, map[string]any{"feature_flags_access_level": 21}},
			{"DELETE", a + "/roles/" + keep, nil},
			{"POST", a + "/roles/" + keep + "/role_memberships", map[string]any{"user_uuid": u.uuid}},
			{"DELETE", a + "/roles/" + keep + "/role_memberships/" + kept, nil},
			{"POST", a + "/resource_access", map[string]any{"resource": "cohorts", "access_level": 21}},
			{"PUT", a + "/resource_access/" + keptDef, map[string]any{"resource": "insights", "access_level": 21}},
			{"PATCH", a + "/resource_access/" + keptDef, map[string]any{"access_level": 21}},
			{"DELETE", a + "/resource_access/" + keptDef, nil},
		}
		for _, w := range writes {
			r := u.do(w.method, w.path, w.body)
			if r.status != 403 || r.str("code") != "permission_denied" {
				t.Errorf("%s %s as B's owner, a member of A = %d %s, want 403", w.method, w.path, r.status, r.raw)
			}
		}
		if got := state(e.owner, a); got != aBefore {
			t.Errorf("A changed by refused writes:\nbefore %s\nafter  %s", aBefore, got)
		}
	})
}

// objectRoutes returns the server's routes on one object ({id} under a kind of a
// project), by kind path.
func objectRoutes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range server.New(server.Config{Passwords: server.Passwords{Memory: 8, Time: 1, Threads: 1}}).Routes() {
		_, path, _ := strings.Cut(p, " ")
		rest, ok := strings.CutPrefix(path, "/api/projects/{project}/")
		if !ok {
			continue
		}
		kind, tail, _ := strings.Cut(rest, "/")
		if kind == "access_requests" {
			continue // a request's id, not an object's (TestAccessRequests)
		}
		if strings.HasPrefix(tail, "{id}") {
			out[kind] = append(out[kind], p)
		}
	}
	return out
}

// TestForeignObjectIDsThroughOwnProject: every route on one object, for every kind, and
// access/check, given through the caller's own project the id of an object of another
// organization, or of another project of the caller's organization that is closed to
// them, answer 404 (access/check: no access, exactly as for an id that names nothing),
// and the object is unchanged afterwards.
func TestForeignObjectIDsThroughOwnProject(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		m := e.member(1)
		closed := e.newProject("Closed")
		e.closeProject(closed, m)
		roleA := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "A's"}, 201).str("id")
		fred, orgB, projB := e.foreigner()
		mID := e.membershipID(m)
		roleB := fred.must("POST", "/api/organizations/"+orgB+"/roles", map[string]any{"name": "B's"}, 201).str("id")

		type target struct {
			owner  *client // who may read it, to see it unchanged
			path   string
			grant  string
			before string
		}
		snapshot := func(tg *target) string {
			var s []string
			for _, p := range []string{"", "/role_access", "/access_controls", "/users_with_access"} {
				s = append(s, tg.owner.must("GET", tg.path+p, nil, 200).raw)
			}
			return strings.Join(s, "\n")
		}
		foreign, shut := make([]*target, len(kinds)), make([]*target, len(kinds))
		for ki := range kinds {
			f := &target{owner: fred, path: fred.createIn(projB, ki)}
			f.grant = fred.must("POST", f.path+"/role_access", map[string]any{"role_id": roleB}, 201).str("id")
			s := &target{owner: e.owner, path: e.owner.createIn(closed, ki)}
			s.grant = e.owner.must("POST", s.path+"/role_access", map[string]any{"role_id": roleA}, 201).str("id")
			foreign[ki], shut[ki] = f, s
		}
		for _, tg := range append(slices.Clone(foreign), shut...) {
			tg.before = snapshot(tg)
		}

		routes := objectRoutes(t)
		if len(routes) != len(kinds) {
			t.Fatalf("object routes for %d kinds, want %d", len(routes), len(kinds))
		}
		cases := []struct {
			name    string
			caller  *client
			targets []*target
		}{
			{"another organization's object, as A's owner", e.owner, foreign},
			{"another organization's object, as a member", m, foreign},
			{"a closed project's object, as a member it is closed to", m, shut},
			{"another project's object, as A's owner", e.owner, shut},
		}
		requests := 0
		for _, tc := range cases {
			for ki, k := range kinds {
				tg := tc.targets[ki]
				if len(routes[k.path]) < 10 {
					t.Fatalf("%s: %d object routes, want every one (≥ 10)", k.path, len(routes[k.path]))
				}
				for _, pattern := range routes[k.path] {
					method, path, _ := strings.Cut(pattern, " ")
					path = strings.NewReplacer("{project}", fmt.Sprint(e.proj), "{id}", lastSegment(tg.path), "{grant}", tg.grant).Replace(path)
					var body any
					switch {
					case method == "PATCH" || method == "PUT" && !strings.HasSuffix(path, "/access_controls"):
						body = map[string]any{"name": "hijacked", "viewed": true, "deleted": true}
					case strings.HasSuffix(path, "/access_controls"):
						body = map[string]any{"access_level": "manager", "organization_member": mID}
					case strings.HasSuffix(path, "/role_access") && method == "POST":
						body = map[string]any{"role_id": roleA}
					}
					r := tc.caller.do(method, path, body)
					requests++
					if r.status != 404 || r.str("code") != "not_found" {
						t.Errorf("%s: %s %s = %d %s, want 404", tc.name, method, path, r.status, r.raw)
					}
				}
			}

			// access/check says no access, as for an id that names nothing.
			var checks []any
			for ki, k := range kinds {
				id := lastSegment(tc.targets[ki].path)
				missing := "999999999"
				if k.path == "session_recordings" {
					missing = "no-such-recording"
				}
				for _, id := range []string{id, missing} {
					checks = append(checks, map[string]any{"kind": k.path, "id": id, "action": "view"})
				}
			}
			chk := tc.caller.must("POST", e.projPath("/access/check"), map[string]any{"checks": checks}, 200)
			results := chk.list("results")
			if len(results) != len(checks) {
				t.Fatalf("%s: access/check = %d results, want %d", tc.name, len(results), len(checks))
			}
			for i := 0; i < len(results); i += 2 {
				got, missing := results[i].(map[string]any), results[i+1].(map[string]any)
				if got["allowed"] != false || got["access_level"] != "none" || fmt.Sprint(got) != fmt.Sprint(missing) {
					t.Errorf("%s: access/check of %s = %v, want as for a missing id: %v", tc.name, kinds[i/2].path, got, missing)
				}
			}
		}
		t.Logf("%d requests", requests)
		for _, tg := range append(slices.Clone(foreign), shut...) {
			if got := snapshot(tg); got != tg.before {
				t.Errorf("%s changed:\nbefore %s\nafter  %s", tg.path, tg.before, got)
			}
		}
	})
}

// TestMeNamesOnlyEnterableProjects: @me's team (and so the pages' header) is a project
// its reader may enter. A member who joins an organization whose first project is closed
// to them lands in one open to them; a member whose current project is closed to them
// afterwards is shown no team, not the closed project's name.
func TestMeNamesOnlyEnterableProjects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		const secret = "Secret plans"
		e.owner.must("PATCH", e.projPath(""), map[string]any{"name": secret}, 200)
		open := e.newProject("Open")
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "none"}, 200)

		hc := jarClient()
		inv := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "new@example.com"}, 201).str("id")
		joined := rawDo(t, hc, e.srv.URL, "POST", "/api/signup/"+inv, map[string]any{"first_name": "New", "password": "correct horse"}, nil)
		if joined.status != 201 {
			t.Fatalf("accept invite = %d %s", joined.status, joined.raw)
		}
		if got := int64(joined.num("team.id")); got != open || strings.Contains(joined.raw, secret) {
			t.Errorf("invite acceptance: team %v (%s), want the open project %d", joined.get("team"), joined.raw, open)
		}
		newcomer := e.keyClient(hc, "new@example.com")

		// A member in the first project, which is then closed to them alone.
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": nil}, 204)
		m := e.member(1)
		if got := int64(m.must("GET", "/api/users/@me", nil, 200).num("team.id")); got != e.proj {
			t.Fatalf("member's team = %d, want %d", got, e.proj)
		}
		e.closeProject(e.proj, m)
		for _, c := range []*client{m, newcomer} {
			me := c.must("GET", "/api/users/@me", nil, 200)
			if strings.Contains(me.raw, secret) {
				t.Errorf("@me of %s names the project closed to them: %s", c.email, me.raw)
			}
		}
		if me := m.must("GET", "/api/users/@me", nil, 200); me.get("team") != nil {
			t.Errorf("@me team = %v for a member whose current project is closed to them, want null", me.get("team"))
		}
		if page := roundTrip(t, hc, e.srv.URL, "GET", "/", nil, nil, false); strings.Contains(page.raw, secret) {
			t.Errorf("page / (%d) names the project closed to the newcomer", page.status)
		}
		// The owner still sees it.
		if got := e.owner.must("GET", "/api/users/@me", nil, 200).str("team.name"); got != secret {
			t.Errorf("owner's team = %q, want %q", got, secret)
		}
	})
}
