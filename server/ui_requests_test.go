package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// TestUIAccessRequests: the pages offer what the API allows and nothing else: a request
// form only on a read-only object, approve and deny only to a decider, the header count
// only of requests the reader may decide, cancelling only one's own; a form post that the
// API refuses comes back with its reason.
func TestUIAccessRequests(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
	flagID := int64(e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "checkout"}, 201).num("id"))
	flagPage := fmt.Sprintf("/projects/%d/feature_flags/%d", e.proj, flagID)
	requests := fmt.Sprintf("/projects/%d/access_requests", e.proj)
	asker, bystander := e.member(1), e.member(1)
	page := func(c *browserClient, path string) string {
		t.Helper()
		a := c.get(path)
		if a.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, a.status)
		}
		return a.body
	}
	as := func(who *client) *browserClient {
		c := newBrowserClient(t, e.srv.URL)
		c.login(who.email)
		return c
	}
	owner, a, b := as(e.owner), as(asker), as(bystander)

	if strings.Contains(page(owner, flagPage), `id="request-access"`) {
		t.Error("the owner, who manages the flag, is offered a request form")
	}
	if !strings.Contains(page(a, flagPage), `id="ra-send"`) {
		t.Fatal("a viewer of the flag is not offered a request form")
	}
	if p := a.post(flagPage+"/request", url.Values{"reason": {""}, "duration_seconds": {"3600"}}); p.status != http.StatusSeeOther || !strings.Contains(page(a, flagPage), "Request not sent") {
		t.Errorf("a request without a reason = %d, want a redirect back with the API's reason", p.status)
	}
	if p := a.post(flagPage+"/request", url.Values{"reason": {"fix"}, "duration_seconds": {"28800"}}); p.status != http.StatusSeeOther || p.location != flagPage {
		t.Fatalf("request = %d → %q", p.status, p.location)
	}
	body := page(a, flagPage)
	if !strings.Contains(body, `id="ra-pending"`) || strings.Contains(body, `id="ra-send"`) || !strings.Contains(body, "for 8 hours") {
		t.Errorf("after asking, the flag's page does not show the pending request alone")
	}
	id := asker.must("GET", e.projPath("/access_requests?mine=true"), nil, 200).str("results.0.id")

	// Deciders see it counted and may decide it; the requester and a bystander may not.
	if ob := page(owner, requests); !strings.Contains(ob, `id="pending-count"`) || !strings.Contains(ob, `/access_requests/`+id+`/approve`) {
		t.Error("the owner's requests page has no count or no approve form")
	}
	for name, c := range map[string]*browserClient{"requester": a, "bystander": b} {
		if body := page(c, requests); strings.Contains(body, `id="pending-count"`) || strings.Contains(body, "/approve") {
			t.Errorf("the %s is offered a count or an approve form", name)
		}
	}
	if strings.Contains(page(b, requests), "fix") {
		t.Error("a bystander's requests page shows another member's request")
	}
	if p := b.post(requests+"/"+id+"/approve", url.Values{"access_level": {"editor"}, "duration_seconds": {"asked"}}); p.status != http.StatusSeeOther ||
		!strings.Contains(page(b, requests), "Not done.") {
		t.Errorf("a bystander's approval = %d, want a redirect back with the refusal", p.status)
	}
	if got := asker.must("GET", e.projPath("/access_requests/"+id), nil, 200).str("status"); got != "pending" {
		t.Fatalf("after a refused approval the request is %s", got)
	}

	// The requester cancels from the flag's page and comes back to it.
	if p := a.post(requests+"/"+id+"/cancel", url.Values{"next": {flagPage}}); p.status != http.StatusSeeOther || p.location != flagPage {
		t.Errorf("cancel = %d → %q, want back to the flag", p.status, p.location)
	}
	if p := a.post(flagPage+"/request", url.Values{"reason": {"again"}, "duration_seconds": {""}}); p.status != http.StatusSeeOther {
		t.Fatalf("second request = %d", p.status)
	}
	again := asker.must("GET", e.projPath("/access_requests?mine=true&status=pending"), nil, 200)
	if again.get("results.0.duration_seconds") != nil {
		t.Errorf("a permanent request asked for %v seconds", again.get("results.0.duration_seconds"))
	}
	// An approval of a request without a duration, left at "Permanent", is permanent.
	if p := owner.post(requests+"/"+again.str("results.0.id")+"/approve", url.Values{"access_level": {"editor"}, "duration_seconds": {""}}); p.status != http.StatusSeeOther || p.location != requests {
		t.Fatalf("approve = %d → %q", p.status, p.location)
	}
	if got := asker.must("GET", e.projPath("/access_requests/"+again.str("results.0.id")), nil, 200); got.str("status") != "approved" || got.get("access_control.expires_at") != nil {
		t.Errorf("approved permanently = %s", got.raw)
	}
	if strings.Contains(page(a, flagPage), `id="request-access"`) {
		t.Error("an editor of the flag is still offered a request form")
	}
	// A page link elsewhere is not followed after a cancel.
	id3 := bystander.must("POST", e.projPath(fmt.Sprintf("/feature_flags/%d/access_requests", flagID)), map[string]any{"access_level": "editor", "reason": "r"}, 201).str("id")
	if p := b.post(requests+"/"+id3+"/cancel", url.Values{"next": {"https://elsewhere.example/"}}); p.location != requests {
		t.Errorf("cancel with an outside next went to %q, want %q", p.location, requests)
	}
}
