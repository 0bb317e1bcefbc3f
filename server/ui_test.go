package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// browserClient is a cookie-keeping HTTP client that does not follow
// redirects, to check the UI's answers one by one.
type browserClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newBrowserClient(t *testing.T, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{t: t, base: base, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type answer struct {
	status   int
	location string
	ctype    string
	body     string
}

func (c *browserClient) send(method, path string, form url.Values, header http.Header) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, location: res.Header.Get("Location"), ctype: res.Header.Get("Content-Type"), body: string(data)}
}

func (c *browserClient) get(path string) answer { c.t.Helper(); return c.send("GET", path, nil, nil) }

func (c *browserClient) post(path string, form url.Values) answer {
	c.t.Helper()
	// What a browser sends with a form of the same site.
	h := http.Header{"Origin": {c.base}, "Sec-Fetch-Site": {"same-origin"}}
	return c.send("POST", path, form, h)
}

func (c *browserClient) login(email string) {
	c.t.Helper()
	p := c.post("/login", url.Values{"email": {email}, "password": {"correct horse"}, "next": {"/"}})
	if p.status != http.StatusSeeOther || p.location != "/" {
		c.t.Fatalf("POST /login = %d → %q, want 303 → /", p.status, p.location)
	}
}

// TestUIPages checks the UI's HTTP behaviour without a browser: redirects,
// HTML errors, the cross-origin check on form posts, and a create and an
// edit through the form of every kind.
func TestUIPages(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	c := newBrowserClient(t, e.srv.URL)
	proj := fmt.Sprintf("/projects/%d", e.proj)

	if p := c.get(proj + "/feature_flags"); p.status != http.StatusSeeOther || p.location != "/login?next="+url.QueryEscape(proj+"/feature_flags") {
		t.Errorf("anonymous GET = %d → %q, want 303 → /login?next=…", p.status, p.location)
	}
	if p := c.post("/login", url.Values{"email": {"owner@example.com"}, "password": {"nope nope"}}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Invalid email or password.") {
		t.Errorf("failed login = %d, want 401 with the API's message", p.status)
	}
	evil := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	if p := c.send("POST", "/login", url.Values{"email": {"owner@example.com"}, "password": {"correct horse"}}, evil); p.status != http.StatusForbidden || !strings.HasPrefix(p.ctype, "text/html") {
		t.Errorf("cross-site login post = %d %s, want 403 HTML", p.status, p.ctype)
	}
	if p := c.post("/signup", url.Values{"email": {"late@example.com"}, "password": {"correct horse"}, "first_name": {"Late"}, "organization_name": {"Late Inc"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "Signup is closed") {
		t.Errorf("signup on a closed instance = %d, want 403 with the API's reason", p.status)
	}
	c.login("owner@example.com")
	if p := c.send("POST", "/organizations/"+e.orgID+"/roles", url.Values{"name": {"evil"}}, evil); p.status != http.StatusForbidden {
		t.Errorf("cross-site role post = %d, want 403", p.status)
	}
	if roles := e.owner.must("GET", e.orgPath("/roles"), nil, 200); roles.num("count") != 0 {
		t.Errorf("a cross-site post created a role: %s", roles.raw)
	}

	for _, path := range []string{proj + "/feature_flags/424242", proj + "/no_such_kind", "/organizations/" + e.orgID + "/nothing/here"} {
		if p := c.get(path); p.status != http.StatusNotFound || !strings.HasPrefix(p.ctype, "text/html") {
			t.Errorf("GET %s = %d %s, want 404 HTML", path, p.status, p.ctype)
		}
	}
	// The API keeps its JSON errors.
	if p := c.get("/api/no_such_thing"); p.status != http.StatusNotFound || !strings.HasPrefix(p.ctype, "application/json") {
		t.Errorf("GET /api/no_such_thing = %d %s, want 404 JSON", p.status, p.ctype)
	}
	if p := c.get("/api/login"); p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/login = %d, want 405", p.status)
	}
	if p := c.get("/static/htmx.min.js"); p.status != 200 || !strings.Contains(p.body, "htmx") {
		t.Errorf("GET /static/htmx.min.js = %d", p.status)
	}

	// Every kind: create through its form, then edit.
	names := map[string]url.Values{
		"feature_flags":      {"key": {"ui-flag"}, "name": {"From the UI"}, "active": {"true"}},
		"experiments":        {"name": {"UI experiment"}},
		"cohorts":            {"name": {"UI cohort"}},
		"session_recordings": {"id": {"rec-ui-1"}, "distinct_id": {"person-1"}, "recording_duration": {"42"}},
		"insights":           {"name": {"UI insight"}},
		"dashboards":         {"name": {"UI dashboard"}},
		"actions":            {"name": {"UI action"}, "steps": {`[{"event": "$pageview"}]`}},
	}
	for kind, form := range names {
		if p := c.get(proj + "/new/" + kind); p.status != 200 {
			t.Errorf("GET new %s = %d", kind, p.status)
			continue
		}
		p := c.post(proj+"/new/"+kind, form)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, proj+"/"+kind+"/") {
			t.Errorf("create %s = %d → %q, want 303 to the object; page:\n%s", kind, p.status, p.location, p.body)
			continue
		}
		obj := p.location
		if p := c.get(obj); p.status != 200 || !strings.Contains(p.body, "Can edit") {
			t.Errorf("GET %s = %d, want 200 and Can edit", obj, p.status)
		}
		form.Set("description", "edited")
		if p := c.post(obj, form); p.status != http.StatusSeeOther || p.location != obj {
			t.Errorf("edit %s = %d → %q, want 303 back", obj, p.status, p.location)
		}
	}

	// The API's validation comes back beside the field.
	p := c.post(proj+"/new/feature_flags", url.Values{"key": {"not a key!"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="e-key"`) || !strings.Contains(p.body, "Only letters, numbers, hyphens") {
		t.Errorf("bad flag key = %d, want 400 with the API's message beside key:\n%s", p.status, p.body)
	}
	p = c.post(proj+"/new/dashboards", url.Values{"name": {"x"}, "tiles": {"{not json"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="e-tiles"`) {
		t.Errorf("bad JSON = %d, want 400 with an error beside tiles", p.status)
	}
	c.post("/organizations/"+e.orgID+"/roles", url.Values{"name": {"product"}})
	p = c.post("/organizations/"+e.orgID+"/roles", url.Values{"name": {"Product"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "There is already a role with this name.") || !strings.Contains(p.body, `id="e-new-role"`) {
		t.Errorf("duplicate role = %d, want 400 with the API's message beside the name", p.status)
	}

	// Roles: rename with levels, members in and out, delete.
	org := "/organizations/" + e.orgID
	roles := e.owner.must("GET", e.orgPath("/roles"), nil, 200)
	roleID := roles.str("results.0.id")
	pat := e.member(1)
	wantRedirect := func(what string, p answer, prefix string) {
		t.Helper()
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, prefix) {
			t.Fatalf("%s = %d → %q, want 303 → %s…; page:\n%s", what, p.status, p.location, prefix, p.body)
		}
	}
	wantRedirect("rename role", c.post(org+"/roles/"+roleID, url.Values{"name": {"design"}, "edit": {"feature_flags", "cohorts"}}), org+"/access")
	role := e.owner.must("GET", e.orgPath("/roles/"+roleID), nil, 200)
	if role.str("name") != "design" || role.num("resource_access_levels.feature flags") != 37 || role.num("resource_access_levels.experiments") != 21 {
		t.Errorf("role after the form = %s, want design, flags 37, experiments 21", role.raw)
	}
	// A change of someone's access is shown first (the API's preview), and
	// made only when the same form comes back confirmed.
	p = c.post(org+"/roles/"+roleID+"/members", url.Values{"user_uuid": {pat.uuid}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="preview-changes"`) || !strings.Contains(p.body, pat.email) ||
		!strings.Contains(p.body, `name="confirm" value="1"`) {
		t.Fatalf("add role member, unconfirmed = %d, want 200 and the preview naming %s:\n%s", p.status, pat.email, p.body)
	}
	if ms := e.owner.must("GET", e.orgPath("/roles/"+roleID+"/role_memberships"), nil, 200); ms.num("count") != 0 {
		t.Fatalf("the preview wrote the membership: %s", ms.raw)
	}
	wantRedirect("add role member", c.post(org+"/roles/"+roleID+"/members", url.Values{"user_uuid": {pat.uuid}, "confirm": {"1"}}), org+"/access")
	ms := e.owner.must("GET", e.orgPath("/roles/"+roleID+"/role_memberships"), nil, 200)
	if ms.num("count") != 1 {
		t.Fatalf("role members after the form = %s", ms.raw)
	}
	wantRedirect("remove role member", c.post(org+"/roles/"+roleID+"/members/"+ms.str("results.0.id")+"/delete", url.Values{"confirm": {"1"}}), org+"/access")

	// An object's Permissions panel: a role grant and a member rule, in and out.
	flag := e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "panel-flag"}, 201)
	flagPage := fmt.Sprintf("%s/feature_flags/%v", proj, flag.num("id"))
	flagAPI := e.projPath(fmt.Sprintf("/feature_flags/%v", flag.num("id")))
	wantRedirect("grant role", c.post(flagPage+"/permissions/roles", url.Values{"role_id": {roleID}, "confirm": {"1"}}), flagPage)
	grants := e.owner.must("GET", flagAPI+"/role_access", nil, 200)
	if grants.num("count") != 1 {
		t.Fatalf("role access after the form = %s", grants.raw)
	}
	members := e.owner.must("GET", e.orgPath("/members"), nil, 200)
	var patMember string
	for _, m := range members.list("results") {
		if m := m.(map[string]any); m["user"].(map[string]any)["uuid"] == pat.uuid {
			patMember = m["id"].(string)
		}
	}
	wantRedirect("member rule", c.post(flagPage+"/permissions/members", url.Values{"organization_member": {patMember}, "access_level": {"manager"}, "confirm": {"1"}}), flagPage)
	if p := c.get(flagPage); !strings.Contains(p.body, "User") || !strings.Contains(p.body, "Manage") {
		t.Errorf("the panel does not list the member rule")
	}
	if pf := pat.must("GET", flagAPI+"/access_controls", nil, 200); pf.str("user_access_level") != "manager" {
		t.Errorf("Pat's level after the member rule = %s", pf.raw)
	}
	wantRedirect("remove member rule", c.post(flagPage+"/permissions/members/"+patMember+"/delete", url.Values{"confirm": {"1"}}), flagPage)
	wantRedirect("remove grant", c.post(flagPage+"/permissions/roles/"+grants.str("results.0.id")+"/delete", url.Values{"confirm": {"1"}}), flagPage)
	if acl := e.owner.must("GET", flagAPI+"/access_controls", nil, 200); len(acl.list("access_controls")) != 0 {
		t.Errorf("rules left on the flag: %s", acl.raw)
	}
	wantRedirect("delete role", c.post(org+"/roles/"+roleID+"/delete", url.Values{}), org+"/access")
	if roles := e.owner.must("GET", e.orgPath("/roles"), nil, 200); roles.num("count") != 0 {
		t.Errorf("roles after delete = %s", roles.raw)
	}

	// Members: a level change, a refused one shown beside its member, removal;
	// invites created and revoked.
	wantRedirect("make Pat admin", c.post(org+"/members/"+pat.uuid, url.Values{"level": {"8"}}), org+"/members")
	me := e.owner.must("GET", "/api/users/@me", nil, 200)
	if p := c.post(org+"/members/"+me.str("uuid"), url.Values{"level": {"1"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "You can&#39;t change your own access level.") {
		t.Errorf("own level change = %d, want 403 with the API's reason", p.status)
	}
	wantRedirect("remove Pat", c.post(org+"/members/"+pat.uuid+"/delete", url.Values{}), org+"/members")
	wantRedirect("invite", c.post(org+"/invites", url.Values{"target_email": {"new@example.com"}, "level": {"1"}}), org+"/members")
	invites := e.owner.must("GET", e.orgPath("/invites"), nil, 200)
	if invites.num("count") != 1 {
		t.Fatalf("invites after the form = %s", invites.raw)
	}
	if p := c.get(org + "/members"); !strings.Contains(p.body, e.srv.URL+"/invite/"+invites.str("results.0.id")) {
		t.Errorf("the members page does not show the invite link")
	}
	wantRedirect("revoke", c.post(org+"/invites/"+invites.str("results.0.id")+"/delete", url.Values{}), org+"/members")
	if p := c.post(org+"/invites", url.Values{"target_email": {"not an email"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="e-invite-email"`) {
		t.Errorf("bad invite email = %d, want 400 beside the field", p.status)
	}
}

// TestUIProjectsPage: the Projects page lists each organization of the user
// with the projects open to them, linked, so that they can switch; a project
// closed to them is not offered.
func TestUIProjectsPage(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	second := e.owner.must("POST", "/api/projects", map[string]any{"name": "Second project"}, 201)
	closed := e.owner.must("POST", "/api/projects", map[string]any{"name": "Closed project"}, 201)
	e.owner.must("PUT", fmt.Sprintf("/api/projects/%d/access_controls", int(closed.num("id"))), map[string]any{"access_level": "none"}, 200)
	m := e.member(1)
	c := newBrowserClient(t, e.srv.URL)
	c.login(m.email)
	p := c.get("/projects")
	if p.status != 200 {
		t.Fatalf("GET /projects = %d", p.status)
	}
	for _, want := range []string{"Acme", fmt.Sprintf(`href="/projects/%d/feature_flags"`, e.proj), fmt.Sprintf(`href="/projects/%d/feature_flags"`, int(second.num("id"))), "Second project", `href="/projects" aria-current="page"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("/projects lacks %s", want)
		}
	}
	if strings.Contains(p.body, "Closed project") {
		t.Error("/projects offers a project closed to the member")
	}
	// Every page links to it.
	if p := c.get(fmt.Sprintf("/projects/%d/feature_flags", e.proj)); !strings.Contains(p.body, `<a href="/projects">Projects</a>`) {
		t.Error("the project page's header has no link to Projects")
	}
}

// TestUIProjectAccess: the project's Access tab closes a project to everyone
// and opens it to a role, through the API's project access controls; a
// member sees the settings with the reason they can't change them, and the
// free plan explains the feature instead.
func TestUIProjectAccess(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	inRole, outside := e.member(1), e.member(1)
	roleID := e.role("analysts", 0, 21, inRole)
	page := fmt.Sprintf("/projects/%d/access", e.proj)
	flags := fmt.Sprintf("/projects/%d/feature_flags", e.proj)

	owner := newBrowserClient(t, e.srv.URL)
	owner.login("owner@example.com")
	if p := owner.get(page); p.status != 200 || !strings.Contains(p.body, `id="pa-form"`) || !strings.Contains(p.body, `id="pa-everyone">Member<`) {
		t.Fatalf("GET %s as owner = %d, want the form and everyone at Member:\n%s", page, p.status, p.body)
	}
	save := func(target, level string) answer {
		t.Helper()
		return owner.post(page, url.Values{"target": {target}, "access_level": {level}, "confirm": {"1"}})
	}
	if p := save("everyone", "none"); p.status != http.StatusSeeOther || p.location != page {
		t.Fatalf("closing the project = %d → %q", p.status, p.location)
	}
	if p := save("role:"+roleID, "member"); p.status != http.StatusSeeOther {
		t.Fatalf("opening it to the role = %d", p.status)
	}
	if p := owner.get(page); !strings.Contains(p.body, `id="pa-everyone">No access<`) || !strings.Contains(p.body, "Role analysts") {
		t.Errorf("after the changes the tab does not show them:\n%s", p.body)
	}
	inRole.must("GET", e.projPath("/feature_flags"), nil, 200)
	outside.do("GET", e.projPath("/feature_flags"), nil).wantError(404, "invalid_request", "not_found", "")

	// A member in the role enters and sees the settings, read-only, with why.
	member := newBrowserClient(t, e.srv.URL)
	member.login(inRole.email)
	if p := member.get(flags); p.status != 200 {
		t.Errorf("the role's member on the project = %d, want 200", p.status)
	}
	if p := member.get(page); p.status != 200 || strings.Contains(p.body, `id="pa-form"`) || !strings.Contains(p.body, "Only the project&#39;s admins") {
		t.Errorf("the tab for a plain member = %d, want it read-only with the reason:\n%s", p.status, p.body)
	}

	// Nonsense is refused on the page; removing the role's rule closes the
	// project to its member again.
	if p := save("somebody", "admin"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "Choose who the level is for.") {
		t.Errorf("a target that names nobody = %d, want 400 with the reason", p.status)
	}
	if p := save("role:"+roleID, ""); p.status != http.StatusSeeOther {
		t.Fatalf("removing the role's rule = %d", p.status)
	}
	inRole.do("GET", e.projPath("/feature_flags"), nil).wantError(404, "invalid_request", "not_found", "")
	if p := owner.get(page); strings.Contains(p.body, "Role analysts</span>") {
		t.Error("the removed rule is still listed")
	}

	// Resource access in this project: flags view only here for everyone,
	// editable by the role; the organization's own settings are untouched.
	flag := e.owner.create(0)
	kinds := page + "/kinds"
	if p := owner.post(kinds, url.Values{"resource": {"feature_flag"}, "target": {"everyone"}, "access_level": {"viewer"}, "confirm": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("a kind rule for everyone = %d:\n%s", p.status, p.body)
	}
	if p := owner.post(kinds, url.Values{"resource": {"feature_flag"}, "target": {"role:" + roleID}, "access_level": {"editor"}, "confirm": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("a kind rule for the role = %d", p.status)
	}
	e.owner.must("PUT", fmt.Sprintf("/api/projects/%d/access_controls", e.proj), map[string]any{"access_level": "member"}, 200)
	if got := outside.must("GET", flag, nil, 200).get("can_edit"); got != false {
		t.Errorf("a member outside the role: can_edit = %v, want false", got)
	}
	if got := inRole.must("GET", flag, nil, 200).get("can_edit"); got != true {
		t.Errorf("the role's member: can_edit = %v, want true", got)
	}
	p := owner.get(page)
	for _, want := range []string{"Feature flags: Everyone", "Feature flags: Role analysts", `id="pk-form"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the tab lacks %q", want)
		}
	}
	if strings.Contains(p.body, "role_level") {
		t.Error("the tab lists the organization's role levels as this project's rules")
	}
	if p := owner.post(kinds, url.Values{"resource": {"feature_flag"}, "target": {"everyone"}, "access_level": {""}, "confirm": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("removing the kind rule = %d", p.status)
	}
	if got := outside.must("GET", flag, nil, 200).get("can_edit"); got != true {
		t.Errorf("after removing the project's rule: can_edit = %v, want true (the organization's default)", got)
	}
	if p := owner.post(kinds, url.Values{"resource": {"nothing"}, "target": {"everyone"}, "access_level": {"viewer"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "is not a valid choice") {
		t.Errorf("an unknown kind = %d, want 400 with the API's reason", p.status)
	}

	free := newEnv(t, "sqlite", license.Free)
	c := newBrowserClient(t, free.srv.URL)
	c.login("owner@example.com")
	if p := c.get(fmt.Sprintf("/projects/%d/access", free.proj)); p.status != 200 || strings.Contains(p.body, `id="pa-form"`) || !strings.Contains(p.body, "an enterprise feature") {
		t.Errorf("the tab on the free plan = %d, want the feature explained and no form", p.status)
	}
}

// TestUIProjectCreate: an admin makes a project from the Projects page and
// lands in it; a blank name comes back beside the field; a plain member is
// offered no form, and a forged post is refused by the API.
func TestUIProjectCreate(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	owner := newBrowserClient(t, e.srv.URL)
	owner.login("owner@example.com")
	form := "/organizations/" + e.orgID + "/projects"
	if p := owner.get("/projects"); !strings.Contains(p.body, `action="`+form+`"`) {
		t.Fatal("the owner's Projects page offers no New project form")
	}
	p := owner.post(form, url.Values{"name": {"Mobile app"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/projects/") || !strings.HasSuffix(p.location, "/feature_flags") {
		t.Fatalf("creating a project = %d → %q, want 303 to its flags", p.status, p.location)
	}
	if got := owner.get(p.location); got.status != 200 || !strings.Contains(got.body, "Mobile app") {
		t.Errorf("the new project's page = %d, want it with its name", got.status)
	}
	if n := e.owner.must("GET", e.orgPath("/projects"), nil, 200).num("count"); n != 2 {
		t.Errorf("projects after creating one = %v, want 2", n)
	}
	if p := owner.post(form, url.Values{"name": {"  "}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="field-error" id="e-new-project-`+e.orgID+`"`) {
		t.Errorf("a blank name = %d, want 400 with the error beside the field:\n%s", p.status, p.body)
	}

	m := e.member(1)
	member := newBrowserClient(t, e.srv.URL)
	member.login(m.email)
	if p := member.get("/projects"); strings.Contains(p.body, `action="`+form+`"`) {
		t.Error("a plain member is offered the New project form")
	}
	if p := member.post(form, url.Values{"name": {"Sneaky"}}); p.status != http.StatusForbidden {
		t.Errorf("a member's forged project post = %d, want 403", p.status)
	}
	if n := e.owner.must("GET", e.orgPath("/projects"), nil, 200).num("count"); n != 2 {
		t.Errorf("projects after the member's attempt = %v, want still 2", n)
	}
}

// TestUISignupStatus checks that the login and signup pages follow the
// API's GET /api/signup: a form and a link while signup is open (no user
// yet, or --open-signup), an explanation and no form once it is closed,
// also when it closes between showing the form and sending it.
func TestUISignupStatus(t *testing.T) {
	signupForm := `<form method="post" action="/signup"`
	signupLink := `href="/signup"`
	status := func(t *testing.T, base string) string {
		t.Helper()
		res := rawDo(t, http.DefaultClient, base, "GET", "/api/signup", nil, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET /api/signup = %d %s", res.status, res.raw)
		}
		return strings.TrimSpace(res.raw)
	}
	signUp := func(t *testing.T, base, email string) {
		t.Helper()
		body := map[string]any{"email": email, "password": "correct horse", "first_name": "F"}
		if res := rawDo(t, http.DefaultClient, base, "POST", "/api/signup", body, nil); res.status != http.StatusCreated {
			t.Fatalf("signup %s = %d %s", email, res.status, res.raw)
		}
	}

	t.Run("first user", func(t *testing.T) {
		srv := newServer(t, sqltest.Open(t, "sqlite"), license.Enterprise)
		if got := status(t, srv.URL); got != `{"open":true}` {
			t.Errorf("GET /api/signup on an empty instance = %s, want open", got)
		}
		c := newBrowserClient(t, srv.URL)
		if p := c.get("/login"); !strings.Contains(p.body, signupLink) {
			t.Errorf("empty instance: the login page has no link to signup")
		}
		shown := c.get("/signup")
		if shown.status != http.StatusOK || !strings.Contains(shown.body, signupForm) {
			t.Fatalf("empty instance: GET /signup = %d without the form", shown.status)
		}
		// Someone else signs up first: the form shown is now refused, and
		// the page says signup is closed instead of showing it again.
		signUp(t, srv.URL, "first@example.com")
		if got := status(t, srv.URL); got != `{"open":false}` {
			t.Errorf("GET /api/signup after the first user = %s, want closed", got)
		}
		p := c.post("/signup", url.Values{"email": {"second@example.com"}, "password": {"correct horse"}, "first_name": {"S"}})
		if p.status != http.StatusForbidden || strings.Contains(p.body, signupForm) || !strings.Contains(p.body, "Signup is closed") {
			t.Errorf("signup refused as closed = %d, want 403 saying signup is closed, without the form:\n%s", p.status, p.body)
		}
		if p := c.get("/login"); strings.Contains(p.body, signupLink) || strings.Contains(p.body, "Create the first account") {
			t.Errorf("closed instance: the login page still offers signup")
		}
		if p := c.get("/signup"); strings.Contains(p.body, signupForm) || !strings.Contains(p.body, "ask one of its admins for an invite link") {
			t.Errorf("closed instance: GET /signup shows the form or no explanation")
		}
	})

	t.Run("open signup", func(t *testing.T) {
		cfg := testConfig(sqltest.Open(t, "sqlite"), license.Enterprise)
		cfg.OpenSignup = true
		srv := httptest.NewServer(validated(t, server.New(cfg)))
		t.Cleanup(srv.Close)
		signUp(t, srv.URL, "first@example.com")
		if got := status(t, srv.URL); got != `{"open":true}` {
			t.Errorf("GET /api/signup with --open-signup and a user = %s, want open", got)
		}
		c := newBrowserClient(t, srv.URL)
		if p := c.get("/login"); !strings.Contains(p.body, signupLink) {
			t.Errorf("open signup: the login page has no link to signup")
		}
		if p := c.get("/signup"); !strings.Contains(p.body, signupForm) {
			t.Errorf("open signup: GET /signup has no form")
		}
	})
}

// TestUIDefaultsForm checks what the defaults form must not do: store a
// level it does not offer, or touch a kind it did not send.
func TestUIDefaultsForm(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "cohorts", "access_level": 21}, 201)
	c := newBrowserClient(t, e.srv.URL)
	c.login("owner@example.com")
	action := "/organizations/" + e.orgID + "/access/defaults"

	p := c.post(action, url.Values{"default-feature_flags": {"99"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Choose a default for Feature flags.") {
		t.Errorf("a level the form does not offer = %d, want 400 with the reason", p.status)
	}
	// Only flags sent: cohorts keeps its view-only default.
	if p := c.post(action, url.Values{"default-feature_flags": {"37"}}); p.status != http.StatusSeeOther {
		t.Fatalf("saving flags' default = %d", p.status)
	}
	got := map[string]float64{}
	for _, r := range e.owner.must("GET", e.orgPath("/resource_access"), nil, 200).list("results") {
		r := r.(map[string]any)
		got[r["resource"].(string)] = r["access_level"].(float64)
	}
	if want := map[string]float64{"cohorts": 21, "feature flags": 37}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("defaults after saving flags alone = %v, want %v", got, want)
	}
}
