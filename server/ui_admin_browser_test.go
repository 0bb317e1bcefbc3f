package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// TestUIBrowserAdminScreens drives, in headless Chromium, the screens an
// admin and a newcomer meet in the seed example, and checks that each says
// what the API will do before anyone fills a form, that a refusal leaves
// the stored values on screen, and that the Permissions panel and lists
// fit a 1280×800 window. Screenshots go where TestUIBrowser's go.
func TestUIBrowserAdminScreens(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)

	// The owner exists, so signup is closed: neither page offers a form
	// that the API would refuse.
	t.Run("closed signup", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		if st := e.owner.must("GET", "/api/signup", nil, 200); st.get("open") != false {
			t.Fatalf("GET /api/signup = %s, want open false", st.raw)
		}
		b := newTab(t, browser, e.srv.URL, shots, "closed")
		b.open("/login")
		b.wantPage("login")
		if n := b.count(`main a[href="/signup"]`); n != 0 {
			t.Errorf("closed instance: the login page links to signup (%d links)", n)
		}
		if got := b.text("main"); strings.Contains(got, "Create the first account") {
			t.Errorf("closed instance: the login page reads %q", got)
		}
		b.wantText("#signup-hint", "invite link")
		b.shot("login")

		b.open("/signup")
		b.wantPage("signup")
		b.wantText("main h1", "Signup is closed")
		b.wantText("#signup-closed", "ask one of its admins for an invite link")
		if n := b.count("main form, main input, main button"); n != 0 {
			t.Errorf("closed instance: /signup shows %d form controls", n)
		}
		b.shot("signup")
	})

	// Before any default is saved, the tab says what the decision does with
	// no default (a view-only role restricts), and "View & edit" can be
	// stored as a default of its own, and removed again.
	t.Run("organization defaults", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		b := newTab(t, browser, e.srv.URL, shots, "defaults")
		b.login("owner@example.com")
		b.open("/organizations/" + e.orgID + "/access")
		b.wantPage("access")
		if got := b.text("main"); strings.Contains(got, "the highest level among the organization default and their roles") {
			t.Errorf("the tab still states the rule without its no-default case: %q", got)
		}
		b.wantText("#defaults-rule", "when one is set")
		for _, k := range access.Kinds {
			sel := "#default-" + k.String()
			if got := b.selected(sel); got != "Not set" {
				t.Errorf("%s with no default shows %q, want Not set", sel, got)
			}
			b.wantText(sel+"-means", "a view-only role restricts them")
		}
		b.shot("no defaults")

		// Saving what is shown changes nothing and stores nothing.
		b.follow("#save-defaults")
		b.wantText("main .flash", "Nothing to change.")
		if ra := e.owner.must("GET", e.orgPath("/resource_access"), nil, 200); ra.num("count") != 0 {
			t.Fatalf("saving unchanged defaults stored %s", ra.raw)
		}

		b.choose("#default-feature_flags", "View & edit")
		b.follow("#save-defaults")
		b.wantText("main .flash", "Organization defaults saved.")
		ra := e.owner.must("GET", e.orgPath("/resource_access"), nil, 200)
		if ra.num("count") != 1 || ra.str("results.0.resource") != "feature flags" || ra.num("results.0.access_level") != 37 {
			t.Fatalf("resource_access after saving an Edit default = %s, want feature flags at 37", ra.raw)
		}
		if got := b.selected("#default-feature_flags"); got != "View & edit" {
			t.Errorf("after saving, flags show %q, want View & edit", got)
		}
		b.wantText("#default-feature_flags-means", "Every member can edit")
		b.shot("edit default saved")

		b.choose("#default-feature_flags", "View only")
		b.follow("#save-defaults")
		b.wantText("main .flash", "Organization defaults saved.")
		ra = e.owner.must("GET", e.orgPath("/resource_access"), nil, 200)
		if ra.num("count") != 1 || ra.num("results.0.access_level") != 21 {
			t.Fatalf("resource_access after saving View only = %s, want one row at 21", ra.raw)
		}
		b.wantText("#default-feature_flags-means", "View only, except for members with a role that can edit")

		b.choose("#default-feature_flags", "Not set")
		b.follow("#save-defaults")
		b.wantText("main .flash", "Organization defaults saved.")
		if ra := e.owner.must("GET", e.orgPath("/resource_access"), nil, 200); ra.num("count") != 0 {
			t.Fatalf("resource_access after removing the default = %s, want none", ra.raw)
		}
	})

	// The create form says which levels a new role gets, and the role the
	// API creates has exactly those.
	t.Run("new role levels", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		b := newTab(t, browser, e.srv.URL, shots, "newrole")
		b.login("owner@example.com")
		b.open("/organizations/" + e.orgID + "/access")
		b.wantText("#new-role-levels", "A new role starts at the organization's default for each kind")
		b.wantText("#new-role-levels", "Feature flags View only")
		b.wantText("#new-role-levels", "Experiments View & edit (no default)")
		if d, _ := b.eval(`document.querySelector("#new-role").getAttribute("aria-describedby")`).(string); !strings.Contains(d, "new-role-levels") {
			t.Errorf("the role name field is not described by the levels note (aria-describedby %q)", d)
		}
		b.shot("create form")
		b.fill("#new-role", "product")
		b.follow("form.create-role button[type=submit]")
		b.wantText("main .flash", "Created role product.")
		roles := e.owner.must("GET", e.orgPath("/roles"), nil, 200)
		for _, k := range access.Kinds {
			want := 37.0
			if k == access.FeatureFlags {
				want = 21
			}
			if got := roles.num("results.0.resource_access_levels." + k.V1Name()); got != want {
				t.Errorf("new role's level for %s = %v, want %v as the form said", k.V1Name(), got, want)
			}
		}
	})

	// Pat opens a flag while a role lets Pat edit it; the grant is removed
	// before Pat saves. The refused save shows the stored values, read
	// again, with the API's reason, not the value that was not saved.
	t.Run("refused edit", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		pat := e.member(access.MemberLevel)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "product"}, 201)
		e.owner.must("POST", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), map[string]any{"user_uuid": pat.uuid}, 201)
		flag := e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "top-secret", "name": "The secret one"}, 201)
		flagPath := fmt.Sprintf("/feature_flags/%v", flag.get("id"))
		grant := e.owner.must("POST", e.projPath(flagPath+"/role_access"), map[string]any{"role_id": role.str("id")}, 201)

		b := newTab(t, browser, e.srv.URL, shots, "refused")
		b.login(pat.email)
		b.open(fmt.Sprintf("/projects/%d%s", e.proj, flagPath))
		b.wantPage("object")
		b.wantText(".object-head", "Can edit")
		e.owner.must("DELETE", e.projPath(flagPath+"/role_access/"+grant.str("id")), nil, 204)

		b.fill("#f-name", "Rejected name")
		b.follow("main form.fields button[type=submit]")
		b.wantPage("object")
		b.wantText("main .error", "You don't have edit permissions for this feature flag.")
		if v, _ := b.eval(`document.querySelector("#f-name").value`).(string); v != "The secret one" {
			t.Errorf("after the refusal the name field shows %q, want the stored %q", v, "The secret one")
		}
		if got := b.text("main"); strings.Contains(got, "Rejected name") {
			t.Errorf("the refused value is on the page as if saved")
		}
		if v, _ := b.eval(`(() => { for (const e of document.querySelectorAll("main input, main textarea")) if (e.value.includes("Rejected name")) return true; return false })()`).(bool); v {
			t.Errorf("a field holds the refused value")
		}
		b.wantText(".object-head", "View only")
		if controls := b.enabledControls(); len(controls) > 0 {
			t.Errorf("after the refusal the page offers controls: %v", controls)
		}
		if got := e.owner.must("GET", e.projPath(flagPath), nil, 200).str("name"); got != "The secret one" {
			t.Fatalf("stored name = %q", got)
		}
		b.shot("refused")
	})

	// At 1280×800: the Permissions panel holds its "Who has access, and
	// why" and shows whole names in the member picker; a viewer's list
	// keeps each name and subtitle on one line beside a long reason.
	t.Run("layout", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		pat := e.member(access.MemberLevel)
		e.member(access.AdminLevel)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "product"}, 201)
		e.owner.must("POST", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), map[string]any{"user_uuid": pat.uuid}, 201)
		var secret string
		for _, f := range []struct{ key, name string }{{"top-secret", "The secret one"}, {"beta-banner", "Made by Olive"}, {"other-flag", "Made by Olive"}} {
			res := e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": f.key, "name": f.name}, 201)
			if f.key == "top-secret" {
				secret = fmt.Sprint(res.get("id"))
			}
		}
		e.owner.must("POST", e.projPath("/feature_flags/"+secret+"/role_access"), map[string]any{"role_id": role.str("id")}, 201)
		e.owner.must("PUT", e.projPath("/feature_flags/"+secret+"/access_controls"), map[string]any{"organization_member": e.membershipID(pat), "access_level": "manager"}, 200)

		b := newTab(t, browser, e.srv.URL, shots, "layout")
		b.do("viewport", chromedp.EmulateViewport(1280, 800))
		b.login("owner@example.com")
		b.open(fmt.Sprintf("/projects/%d/feature_flags/%s", e.proj, secret))
		b.wantPage("object")
		b.eval(`document.querySelector("details.who").open = true`)
		if n := b.count("details.who li, details.who tbody tr"); n < 3 {
			t.Fatalf("Who has access lists %d people, want every member", n)
		}
		if over := b.overflow("#permissions"); over != "" {
			t.Errorf("the Permissions panel overflows: %s", over)
		}
		if cut := b.cutOptions("#perm-member"); len(cut) > 0 {
			t.Errorf("the member picker cuts off %v", cut)
		}
		b.shot("permissions")

		b.login(pat.email)
		b.open(fmt.Sprintf("/projects/%d/feature_flags", e.proj))
		b.wantPage("kind")
		b.wantText("table.list", "view only through role 'product'")
		for _, sel := range []string{"table.list tbody th a", "table.list tbody th .sub"} {
			if lines := b.lines(sel); len(lines) == 0 {
				t.Errorf("no %s", sel)
			} else {
				for text, n := range lines {
					if n != 1 {
						t.Errorf("%s %q takes %d lines, want 1", sel, text, n)
					}
				}
			}
		}
		b.shot("viewer list")
	})
}

// login logs the tab in (out first, if someone is).
func (b *tab) login(email string) {
	b.t.Helper()
	b.do("log out", chromedp.Navigate(b.base+"/login"))
	if b.count(`header form[action="/logout"]`) > 0 {
		b.follow(`header form[action="/logout"] button`)
		b.open("/login")
	}
	b.fill("#email", email)
	b.typeAndSubmit("#password", "correct horse")
	if p := b.path(); strings.HasPrefix(p, "/login") {
		b.t.Fatalf("login as %s failed: %s", email, b.text("main"))
	}
}

// selected is the label of the chosen option of the select sel.
func (b *tab) selected(sel string) string {
	b.t.Helper()
	s, _ := b.eval(fmt.Sprintf(`(() => { const s = document.querySelector(%q); return s && s.selectedOptions.length ? s.selectedOptions[0].textContent : "" })()`, sel)).(string)
	return s
}

// overflow describes how the element sel's content overflows it: its own
// scroll width, and any descendant that ends beyond its padding box. ""
// when everything fits.
func (b *tab) overflow(sel string) string {
	b.t.Helper()
	s, _ := b.eval(fmt.Sprintf(`(() => {
		const p = document.querySelector(%q);
		if (!p) return "no element";
		const out = [];
		if (p.scrollWidth > p.clientWidth) out.push("scrollWidth " + p.scrollWidth + " > clientWidth " + p.clientWidth);
		const box = p.getBoundingClientRect();
		for (const e of p.querySelectorAll("*")) {
			const r = e.getBoundingClientRect();
			if (r.width === 0 && r.height === 0) continue;
			if (r.right > box.right + 0.5 || r.left < box.left - 0.5) out.push(e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " spans " + Math.round(r.left) + "–" + Math.round(r.right) + " outside " + Math.round(box.left) + "–" + Math.round(box.right));
			if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible") out.push(e.tagName.toLowerCase() + " scrolls: " + e.scrollWidth + " > " + e.clientWidth);
		}
		return out.join("; ");
	})()`, sel)).(string)
	return s
}

// cutOptions lists the options of the select sel whose label is wider than
// the room the closed select gives its text (its content box, less the
// arrow).
func (b *tab) cutOptions(sel string) []string {
	b.t.Helper()
	v := b.eval(fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		if (!s) return ["no " + %q];
		const cs = getComputedStyle(s);
		const ctx = document.createElement("canvas").getContext("2d");
		ctx.font = cs.font;
		const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
		return [...s.options].filter(o => ctx.measureText(o.textContent).width > room).map(o => o.textContent + " (" + Math.round(ctx.measureText(o.textContent).width) + "px in " + Math.round(room) + "px)");
	})()`, sel, sel))
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// lines counts the rendered lines of the text of each element sel.
func (b *tab) lines(sel string) map[string]int {
	b.t.Helper()
	v := b.eval(fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll(%q)].map(e => {
		const r = document.createRange();
		r.selectNodeContents(e);
		const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
		return [e.textContent, tops.size];
	}))`, sel))
	out := map[string]int{}
	for k, n := range v.(map[string]any) {
		out[k] = int(n.(float64))
	}
	return out
}
