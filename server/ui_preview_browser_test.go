package server_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// TestUIBrowserPreview: an admin makes a flag private from its Permissions
// panel and, before anything is saved, sees the members who lose it; after
// confirming, a member the preview named is refused. A member rule with an
// end shows it in the panel.
func TestUIBrowserPreview(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)
	e := newEnv(t, "sqlite", license.Enterprise)
	pat, sam := e.member(1), e.member(1)
	flag := e.owner.create(0)
	page := fmt.Sprintf("/projects/%d/feature_flags/%s", e.proj, lastSegment(flag))

	b := newTab(t, browser, e.srv.URL, shots, "preview")
	b.login("owner@example.com")
	b.open(page)
	b.wantPage("object")
	b.choose("#perm-member", "Everyone")
	b.choose("#perm-level", "No access")
	b.click("#perm-set-member") // htmx brings the preview in place
	b.waitText("#preview-changes", pat.email)
	b.wantPage("preview")
	b.wantText("#preview-changes", sam.email)
	b.wantText("#preview-summary", "0 gain access and 2 lose access")
	b.shot("make private preview")
	// Nothing is saved before the confirmation.
	pat.must("GET", flag, nil, 200)

	b.follow("#preview-confirm")
	b.wantPage("object")
	b.waitText("#permissions", "Access saved.")
	b.wantText("#perm-everyone", "No access")
	pat.do("GET", flag, nil).wantError(404, "invalid_request", "not_found", "")
	pat.do("PATCH", flag, map[string]any{"name": "mine now"}).wantError(404, "invalid_request", "not_found", "")
	b.shot("private")

	// Pat may view it again for an hour.
	b.choose("#perm-member", "User1")
	b.choose("#perm-level", "View")
	b.choose("#perm-expires-in", "In 1 hour")
	b.click("#perm-set-member")
	b.waitText("#preview-changes", pat.email)
	b.wantText("#preview-summary", "1 gain access and 0 lose access")
	b.follow("#preview-confirm")
	b.waitText("#permissions", "Access saved.")
	b.wantText("#permissions ul.rows", "until")
	pat.must("GET", flag, nil, 200)
	if got := e.owner.must("GET", flag+"/access_controls", nil, 200); got.get("access_controls.1.expires_at") == nil {
		t.Errorf("member rule saved without its end: %s", got.raw)
	}
	b.shot("member rule until")
}
