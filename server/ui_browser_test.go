package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// TestUIBrowser drives the web UI in headless Chromium. Every page visited
// is saved as a PNG in the folder the test logs.
func TestUIBrowser(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)

	// The seed example, end to end: an admin makes flags view only,
	// creates role "product" with Pat in it and lets it edit top-secret;
	// Pat edits top-secret and finds every other flag read-only.
	t.Run("seed example", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Enterprise)
		for _, key := range []string{"other-flag", "beta-banner"} {
			e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": key, "name": "Made by Olive"}, 201)
		}
		projectFlags := fmt.Sprintf("/projects/%d/feature_flags", e.proj)
		b := newTab(t, browser, e.srv.URL, shots, "seed")

		// A page needs a login, and comes back after it. The keyboard
		// alone logs in.
		b.open("/organizations/" + e.orgID + "/members")
		b.wantPage("login")
		if p := b.path(); !strings.HasPrefix(p, "/login?next=") {
			t.Fatalf("anonymous visit went to %s, want /login?next=…", p)
		}
		b.shot("login")
		b.fill("#email", "owner@example.com")
		b.typeAndSubmit("#password", "correct horse")
		b.wantPage("members")
		b.shot("members")
		b.follow(`header a[href="/projects"]`)
		b.wantPage("projects")
		b.wantText("main", "Default project")
		b.shot("projects")
		b.open("/organizations/" + e.orgID + "/members")

		// Invite Pat and copy the link; Pat joins through it.
		b.fill("#invite-email", "pat@example.com")
		b.follow("#invites form.inline button[type=submit]")
		b.wantText("main .flash", "Invite created for pat@example.com")
		link, _ := b.eval(`document.querySelector("input.invite-link").value`).(string)
		if !strings.HasPrefix(link, e.srv.URL+"/invite/") {
			t.Fatalf("invite link = %q", link)
		}
		b.shot("invite created")
		b.follow("header form button")
		b.wantPage("login")
		b.wantText("main .flash", "logged out")

		b.open(strings.TrimPrefix(link, e.srv.URL))
		b.wantPage("invite")
		b.shot("invite")
		b.fill("#first_name", "Pat")
		b.fill("#password", "correct horse")
		b.follow("main form button[type=submit]")
		b.wantPage("kind")
		b.wantText("main .flash", "Welcome to Acme!")
		b.shot("pat joined")
		b.follow("header form button")

		// The admin makes flags view only by default.
		b.open("/login")
		b.fill("#email", "owner@example.com")
		b.fill("#password", "correct horse")
		b.follow("main form button[type=submit]")
		b.open("/organizations/" + e.orgID + "/access")
		b.wantPage("access")
		b.shot("role-based access")
		b.choose("#default-feature_flags", "View only")
		b.follow("#save-defaults")
		// Before saving, the change shows whom it reaches.
		b.wantPage("preview")
		b.wantText("#preview-changes", "pat@example.com")
		b.shot("defaults preview")
		b.follow("#preview-confirm")
		b.wantText("main .flash", "Organization defaults saved.")
		// The project's Access tab, from the project's tabs.
		b.open(projectFlags)
		b.follow(fmt.Sprintf(`nav.tabs a[href="/projects/%d/access"]`, e.proj))
		b.wantPage("projectaccess")
		b.wantText("#pa-everyone", "Member")
		b.shot("project access")
		b.open("/organizations/" + e.orgID + "/access")
		ra := e.owner.must("GET", e.orgPath("/resource_access"), nil, 200)
		if ra.num("count") != 1 || ra.str("results.0.resource") != "feature flags" || ra.num("results.0.access_level") != 21 {
			t.Fatalf("resource_access after the UI's change = %s, want feature flags at 21", ra.raw)
		}

		// Role "product", with Pat in it.
		b.fill("#new-role", "product")
		b.follow("form.create-role button[type=submit]")
		b.wantText("main .flash", "Created role product.")
		b.choose("section.role select[name=user_uuid]", "Pat")
		b.follow("section.role form.inline button[type=submit]")
		b.wantText("main .flash", "Member added to the role.")
		b.wantText("section.role ul.rows", "pat@example.com")
		b.shot("role product")

		// The admin creates top-secret in the UI and lets product edit it.
		b.open(projectFlags)
		b.follow("a.button.primary")
		b.wantPage("object")
		b.shot("new flag")
		b.fill("#f-key", "top-secret")
		b.fill("#f-name", "The secret one")
		b.follow("main form.fields button[type=submit]")
		b.wantText("main .flash", "Created feature flag top-secret.")
		secretPath := b.path()
		b.choose("#perm-role", "product")
		b.eval(`window.samePage = true`)
		b.click("#perm-add-role") // htmx brings the preview in place
		b.waitText("#preview-changes", "pat@example.com")
		if same, _ := b.eval(`window.samePage === true`).(bool); !same {
			t.Errorf("adding a role reloaded the page; htmx should have brought the preview in place")
		}
		b.follow("#preview-confirm")
		b.waitText("#permissions", "Role added.")
		b.wantText("#permissions ul.rows", "product")
		b.shot("top-secret permissions")
		b.follow("header form button")

		// Pat: top-secret can be edited, the other flags are view only.
		b.open("/login?next=" + projectFlags)
		b.shot("pat login")
		b.fill("#email", "pat@example.com")
		b.typeAndSubmit("#password", "correct horse")
		b.wantPage("kind")
		b.shot("pat flags")
		rows := b.eval(`Object.fromEntries([...document.querySelectorAll("table.list tbody tr")].map(r => [r.querySelector("th a").textContent, r.querySelector("td").innerText]))`).(map[string]any)
		for key, want := range map[string]string{"top-secret": "Can edit", "other-flag": "View only", "beta-banner": "View only"} {
			if got, _ := rows[key].(string); !strings.Contains(got, want) {
				t.Errorf("Pat's list: %s is marked %q, want %q", key, got, want)
			}
		}
		if n := b.count(`main a.button.primary`); n != 0 {
			t.Errorf("Pat is offered a New feature flag button, which the API refuses")
		}
		b.wantText("#create-reason", "You don't have edit permissions for feature flags.")

		b.open(secretPath)
		b.wantPage("object")
		b.fill("#f-name", "Pat was here")
		b.follow("main form.fields button[type=submit]")
		b.wantText("main .flash", "Saved feature flag top-secret.")
		b.shot("pat saved top-secret")
		flags := e.owner.must("GET", e.projPath("/feature_flags?limit=10"), nil, 200)
		for _, f := range flags.list("results") {
			f := f.(map[string]any)
			if f["key"] == "top-secret" && f["name"] != "Pat was here" {
				t.Errorf("top-secret's name after Pat's save = %v, want Pat was here", f["name"])
			}
		}
		if n := b.count("#permissions form"); n != 0 {
			t.Errorf("Pat (editor, not manager) is offered %d permission forms on top-secret", n)
		}

		for _, key := range []string{"other-flag", "beta-banner"} {
			b.open(projectFlags)
			b.follow(fmt.Sprintf(`table.list a[href$="/feature_flags/%s"]`, flagID(t, e, key)))
			b.wantPage("object")
			b.wantText("#readonly-reason", "View only.")
			b.wantText("#readonly-reason", "view only through role 'product' for feature flags")
			if controls := b.enabledControls(); len(controls) > 0 {
				t.Errorf("%s is view only for Pat, but the page offers controls: %v", key, controls)
			}
			if n := b.count("#request-access #ra-send"); n != 1 {
				t.Errorf("%s is view only for Pat, but the page does not offer to request edit access", key)
			}
			if n := b.count("main input:disabled, main textarea:disabled"); n == 0 {
				t.Errorf("%s: no read-only fields shown", key)
			}
			b.shot("pat view only " + key)
		}

		// Organization settings: Pat sees them, with why Pat can't change them.
		b.open("/organizations/" + e.orgID + "/access")
		b.wantPage("access")
		b.wantText("#manage-reason", "You need to have admin level or higher.")
		b.wantText("section.role", "Pat (pat@example.com)")
		if controls := b.enabledControls(); len(controls) > 0 {
			t.Errorf("Pat (member) is offered controls on the role-based access tab: %v", controls)
		}
		b.shot("pat role-based access")
		b.follow(`nav.tabs a[href$="/members"]`)
		b.wantPage("members")
		b.wantText("#invites", "Only admins can see and create invites.")
		if controls := b.enabledControls(); len(controls) > 0 {
			t.Errorf("Pat (member) is offered controls on the members tab: %v", controls)
		}
		b.shot("pat members")
	})

	// On the free plan the tab explains the enterprise feature and how to
	// add a licence, and offers nothing the API would refuse (402).
	t.Run("free plan", func(t *testing.T) {
		e := newEnv(t, "sqlite", license.Free)
		b := newTab(t, browser, e.srv.URL, shots, "free")
		b.open("/login")
		b.fill("#email", "owner@example.com")
		b.fill("#password", "wrong password")
		b.follow("main form button[type=submit]")
		b.wantPage("login")
		b.wantText("main .error", "Invalid email or password.")
		if v, _ := b.eval(`document.querySelector("#email").value`).(string); v != "owner@example.com" {
			t.Errorf("email after a failed login = %q, want it kept", v)
		}
		b.shot("login failed")

		b.fill("#password", "correct horse")
		b.follow("main form button[type=submit]")
		b.wantPage("kind")
		b.open("/organizations/" + e.orgID + "/access")
		b.wantPage("access")
		for _, want := range []string{"Role-based access is an enterprise feature", "gatehouse license keygen", "gatehouse license issue", "GATEHOUSE_LICENSE_KEY", "GATEHOUSE_LICENSE_PUBLIC_KEY"} {
			b.wantText("main", want)
		}
		if controls := b.enabledControls(); len(controls) > 0 {
			t.Errorf("free plan: the tab offers controls the API refuses with 402: %v", controls)
		}
		b.shot("free plan")

		// Another kind's form: a session recording, created and listed.
		b.open(fmt.Sprintf("/projects/%d/new/session_recordings", e.proj))
		b.wantPage("object")
		b.fill("#f-id", "rec-1")
		b.fill("#f-distinct_id", "visitor-7")
		b.fill("#f-recording_duration", "93")
		b.follow("main form.fields button[type=submit]")
		b.wantText("main .flash", "Created session recording rec-1.")
		b.shot("recording")

		// Deleting asks first: cancelled, nothing happens; confirmed, it goes.
		recording := b.path()
		b.click("form.danger-zone button")
		if m := b.dialog(); !strings.Contains(m, "Delete this session recording?") {
			t.Errorf("delete asked %q", m)
		}
		if p := b.path(); p != recording {
			t.Errorf("after cancelling the delete the page is %s, want %s", p, recording)
		}
		e.owner.must("GET", e.projPath("/session_recordings/rec-1"), nil, 200)
		b.acceptDialogs.Store(true)
		b.follow("form.danger-zone button")
		b.dialog()
		b.wantText("main .flash", "Deleted the session recording.")
		e.owner.do("GET", e.projPath("/session_recordings/rec-1"), nil).wantError(404, "invalid_request", "not_found", "")
		b.shot("recording deleted")

		// Another one, for the list below.
		b.open(fmt.Sprintf("/projects/%d/new/session_recordings", e.proj))
		b.fill("#f-id", "rec-1")
		b.fill("#f-distinct_id", "visitor-7")
		b.fill("#f-recording_duration", "93")
		b.follow("main form.fields button[type=submit]")
		b.wantText("main .flash", "Created session recording rec-1.")
		b.follow(`nav.crumbs a`)
		b.wantPage("kind")
		b.wantText("table.list", "rec-1")
		b.shot("recordings")

		// Errors are pages, not JSON.
		b.open(fmt.Sprintf("/projects/%d/feature_flags/999999", e.proj))
		b.wantPage("error")
		b.wantText("main h1", "Not found")
		b.shot("not found")
	})
}

// flagID is the id of the flag with key.
func flagID(t *testing.T, e *env, key string) string {
	t.Helper()
	res := e.owner.must("GET", e.projPath("/feature_flags?limit=100"), nil, 200)
	for _, f := range res.list("results") {
		if m := f.(map[string]any); m["key"] == key {
			return fmt.Sprint(m["id"])
		}
	}
	t.Fatalf("no flag %q", key)
	return ""
}
