package server_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestUIBrowserAccessRequest: a viewer asks for edit access on a read-only flag, the admin
// sees the request counted in the header and approves it for one hour, the viewer edits,
// and once the hour has passed on the server's (injected) clock the edit is refused.
func TestUIBrowserAccessRequest(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)
	clock := &testClock{now: time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)}
	db := sqltest.OpenWithClock(t, "sqlite", clock.Now)
	cfg := testConfig(db, license.Enterprise)
	cfg.Now = clock.Now
	srv := httptest.NewServer(validated(t, server.New(cfg)))
	t.Cleanup(srv.Close)
	e := newEnvFor(t, srv)
	e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
	flagID := int64(e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "checkout", "name": "Checkout"}, 201).num("id"))
	flagPage := fmt.Sprintf("/projects/%d/feature_flags/%d", e.proj, flagID)
	viewer := e.member(1)
	b := newTab(t, browser, srv.URL, shots, "request")
	login := func(email string) {
		t.Helper()
		b.open("/login")
		b.fill("#email", email)
		b.fill("#password", "correct horse")
		b.follow("main form button[type=submit]")
	}
	logout := func() { t.Helper(); b.follow("header form button") }

	// The viewer meets a read-only flag and asks to edit it for an hour.
	login(viewer.email)
	b.open(flagPage)
	b.wantPage("object")
	b.wantText(".object-head", "View only")
	b.wantText("#request-access", "Request edit access")
	b.shot("viewer read-only")
	b.eval(`document.querySelector("#ra-reason").value = "Ship the checkout fix"`) // fill clears first, which an empty textarea refuses
	b.choose("#ra-duration", "1 hour")
	b.follow("#ra-send")
	b.wantText("main .flash", "Request sent")
	b.wantText("#ra-pending", "Ship the checkout fix")
	if n := b.count("#ra-send"); n != 0 {
		t.Errorf("the page offers a second request while one is pending")
	}
	b.shot("viewer requested")
	logout()

	// The admin sees it counted in the header and approves it for one hour.
	login("owner@example.com")
	b.open(fmt.Sprintf("/projects/%d/feature_flags", e.proj))
	b.wantText("#pending-count", "1")
	b.follow("#requests-link")
	b.wantPage("requests")
	b.wantText("#to-decide", "Ship the checkout fix")
	b.shot("requests page")
	b.choose("#to-decide select[name=duration_seconds]", "1 hour")
	b.follow("#to-decide form.approve button[type=submit]")
	b.wantText("main .flash", "Request approved.")
	if n := b.count("#pending-count"); n != 0 {
		t.Errorf("the header still counts a pending request after the approval")
	}
	b.wantText("#decided", "Approved until")
	b.shot("approved")
	logout()

	// The viewer edits; the hour passes while the form is open, and the save is refused.
	login(viewer.email)
	b.open(flagPage)
	b.wantText(".object-head", "Can edit")
	b.fill("#f-name", "Checkout (fixed)")
	b.follow("main form.fields button[type=submit]")
	b.wantText("main .flash", "Saved feature flag")
	b.shot("viewer edited")
	b.open("/projects/" + fmt.Sprint(e.proj) + "/access_requests")
	b.wantText("#my-requests", "approved")
	b.open(flagPage)
	clock.Set(clock.Now().Add(time.Hour))
	b.fill("#f-name", "Checkout (too late)")
	b.follow("main form.fields button[type=submit]")
	b.wantText(".object-head", "View only")
	b.wantText("#request-access", "Request edit access")
	if got := e.owner.must("GET", e.projPath(fmt.Sprintf("/feature_flags/%d", flagID)), nil, 200).str("name"); got != "Checkout (fixed)" {
		t.Errorf("stored name = %q, want the edit made within the hour", got)
	}
	b.shot("viewer refused after the hour")
}
