package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// requestsEnv is a server on an injected clock where flags are view-only for members, so
// that a plain member asks for more.
func requestsEnv(t *testing.T, dialect string) (*env, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)}
	db := sqltest.OpenWithClock(t, dialect, clock.Now)
	e := newEnvWith(t, server.Config{Store: db, Now: clock.Now, Plan: license.Enterprise})
	e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
	return e, clock
}

// ask requests level on path (an object's, or the project's access_requests with a resource).
func ask(c *client, path, level string, extra map[string]any) *result {
	c.env.t.Helper()
	body := map[string]any{"access_level": level, "reason": "to ship a fix"}
	for k, v := range extra {
		body[k] = v
	}
	return c.do("POST", path+"/access_requests", body)
}

// ids lists the ids of a page of requests.
func ids(r *result) []string {
	out := []string{}
	for _, v := range r.list("results") {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	return out
}

// TestAccessRequests walks api.md's table of access requests, with what must not happen.
func TestAccessRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e, clock := requestsEnv(t, dialect)
		viewer, other, hidden, admin := e.member(1), e.member(1), e.member(1), e.member(8)
		flag := e.owner.create(0)
		reqs := e.projPath("/access_requests")
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "none", "organization_member": e.membershipID(hidden)}, 200)

		// Asking.
		created := ask(viewer, flag, "editor", map[string]any{"duration_seconds": 3600})
		if created.status != 201 || created.str("status") != "pending" || created.str("requested_by.uuid") != viewer.uuid ||
			created.str("access_level") != "editor" || created.str("resource") != "feature_flag" || created.str("resource_id") != lastSegment(flag) ||
			created.num("duration_seconds") != 3600 || created.str("reason") != "to ship a fix" || created.get("decided_by") != nil {
			t.Fatalf("request = %d %s", created.status, created.raw)
		}
		rq := created.str("id")
		ask(viewer, flag, "manager", nil).wantError(400, "validation_error", "unique", "resource")
		ask(viewer, flag, "viewer", nil).wantError(400, "validation_error", "invalid", "access_level")
		ask(admin, flag, "manager", nil).wantError(400, "validation_error", "invalid", "access_level")
		ask(other, flag, "owner", nil).wantError(400, "validation_error", "invalid_choice", "access_level")
		ask(other, flag, "editor", map[string]any{"duration_seconds": 0}).wantError(400, "validation_error", "invalid", "duration_seconds")
		other.do("POST", flag+"/access_requests", map[string]any{"access_level": "editor"}).wantError(400, "validation_error", "required", "reason")
		ask(hidden, flag, "editor", nil).wantError(404, "invalid_request", "not_found", "")

		// An object of another organization, named through one's own project, is not found.
		orgB := e.owner.must("POST", "/api/organizations", map[string]any{"name": "B"}, 201)
		projB := int64(orgB.num("teams.0.id"))
		if projB == 0 {
			projB = int64(e.owner.must("GET", "/api/organizations/"+orgB.str("id")+"/projects", nil, 200).num("results.0.id"))
		}
		e.owner.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": e.orgID}, 200)
		foreign := e.owner.must("POST", fmt.Sprintf("/api/projects/%d/feature_flags", projB), map[string]any{"key": "foreign"}, 201)
		ask(viewer, e.projPath(fmt.Sprintf("/feature_flags/%d", int64(foreign.num("id")))), "editor", nil).wantError(404, "invalid_request", "not_found", "")

		// Reading: the requester and the deciders; others who can view the flag are refused,
		// and those who cannot are told nothing.
		viewer.must("GET", reqs+"/"+rq, nil, 200)
		admin.must("GET", reqs+"/"+rq, nil, 200)
		if got := e.owner.must("GET", reqs+"/"+rq, nil, 200); !got.get("can_decide").(bool) || got.get("can_cancel").(bool) {
			t.Errorf("owner's view = %s, want can_decide and not can_cancel", got.raw)
		}
		if got := viewer.must("GET", reqs+"/"+rq, nil, 200); got.get("can_decide").(bool) || !got.get("can_cancel").(bool) {
			t.Errorf("requester's view = %s, want can_cancel and not can_decide", got.raw)
		}
		other.do("GET", reqs+"/"+rq, nil).wantError(403, "authentication_error", "permission_denied", "")
		hidden.do("GET", reqs+"/"+rq, nil).wantError(404, "invalid_request", "not_found", "")
		e.owner.do("GET", fmt.Sprintf("/api/projects/%d/access_requests/%s", projB, rq), nil).wantError(404, "invalid_request", "not_found", "")

		// Lists: deciders see what they may decide, requesters their own.
		otherRq := ask(other, flag, "editor", nil)
		if otherRq.status != 201 || otherRq.get("duration_seconds") != nil {
			t.Fatalf("second member's request = %d %s", otherRq.status, otherRq.raw)
		}
		list := func(c *client, query string) []string {
			t.Helper()
			return ids(c.must("GET", reqs+query, nil, 200))
		}
		want := func(what string, got []string, want ...string) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s = %v, want %v", what, got, want)
			}
		}
		want("owner's list", list(e.owner, ""), otherRq.str("id"), rq)
		want("owner's own", list(e.owner, "?mine=true"))
		want("viewer's list", list(viewer, ""), rq)
		want("viewer's own", list(viewer, "?mine=true"), rq)
		want("other's own", list(other, "?mine=true"), otherRq.str("id"))
		want("hidden's list", list(hidden, ""))
		want("approved", list(e.owner, "?status=approved"))
		want("a page", ids(e.owner.must("GET", reqs+"?limit=1&offset=1", nil, 200)), rq)
		if p := e.owner.must("GET", reqs+"?limit=1", nil, 200); p.num("count") != 2 || p.get("next") == nil {
			t.Errorf("first page of one = %s, want count 2 and a next link", p.raw)
		}
		e.owner.do("GET", reqs+"?status=maybe", nil).wantError(400, "validation_error", "invalid_choice", "status")

		// Deciding: never one's own, never by those who may not.
		approve := func(c *client, id string, body map[string]any) *result {
			t.Helper()
			if body == nil {
				body = map[string]any{}
			}
			return c.do("POST", reqs+"/"+id+"/approve", body)
		}
		approve(viewer, rq, nil).wantError(403, "authentication_error", "permission_denied", "")
		approve(other, rq, nil).wantError(403, "authentication_error", "permission_denied", "")
		approve(hidden, rq, nil).wantError(404, "invalid_request", "not_found", "")
		approve(admin, rq, map[string]any{"access_level": "manager"}).wantError(400, "validation_error", "invalid", "access_level")
		approve(admin, rq, map[string]any{"duration_seconds": 60, "permanent": true}).wantError(400, "validation_error", "invalid", "duration_seconds")
		approve(admin, otherRq.str("id"), map[string]any{}).wantError(400, "validation_error", "required", "duration_seconds")
		// A requester made a decider meanwhile still may not decide their own request.
		promoted := e.member(1)
		own := ask(promoted, flag, "editor", map[string]any{"duration_seconds": 60}).str("id")
		e.owner.must("PATCH", e.orgPath("/members/"+promoted.uuid), map[string]any{"level": 8}, 200)
		for _, verb := range []string{"approve", "deny"} {
			got := promoted.do("POST", reqs+"/"+own+"/"+verb, map[string]any{"reason": "mine"})
			got.wantError(403, "authentication_error", "permission_denied", "")
			if got.str("detail") != "You can't decide your own access request." {
				t.Errorf("%s own request: %s", verb, got.raw)
			}
		}
		if got := viewer.do("PATCH", flag, map[string]any{"name": "edited"}); got.status != 403 {
			t.Fatalf("PATCH before approval = %d, want 403", got.status)
		}

		// Approval: the request's hour, from the server's clock, on a member rule.
		now := clock.Now()
		ok := approve(admin, rq, nil)
		if ok.status != 200 || ok.str("status") != "approved" || ok.str("decided_by.uuid") != admin.uuid || ok.str("decided_at") != now.Format(time.RFC3339) ||
			ok.str("access_control.access_level") != "editor" || ok.str("access_control.organization_member") != e.membershipID(viewer) ||
			ok.str("access_control.expires_at") != now.Add(time.Hour).Format(time.RFC3339) || ok.get("can_decide").(bool) {
			t.Fatalf("approve = %d %s", ok.status, ok.raw)
		}
		for _, c := range []*client{admin, e.owner} {
			approve(c, rq, map[string]any{"permanent": true}).wantError(400, "validation_error", "invalid_input", "")
			c.do("POST", reqs+"/"+rq+"/deny", map[string]any{"reason": "late"}).wantError(400, "validation_error", "invalid_input", "")
		}
		viewer.do("POST", reqs+"/"+rq+"/cancel", nil).wantError(400, "validation_error", "invalid_input", "")
		viewer.must("PATCH", flag, map[string]any{"name": "edited"}, 200)
		other.must("PATCH", flag, map[string]any{"name": "x"}, 403)
		clock.Set(now.Add(time.Hour))
		viewer.must("PATCH", flag, map[string]any{"name": "too late"}, 403)
		if got := viewer.must("GET", reqs+"/"+rq, nil, 200); got.get("access_control") != nil || got.str("status") != "approved" {
			t.Errorf("approved request after its hour = %s, want still approved, its rule gone", got.raw)
		}

		// Denial needs a reason; cancelling is the requester's.
		e.owner.do("POST", reqs+"/"+otherRq.str("id")+"/deny", map[string]any{}).wantError(400, "validation_error", "required", "reason")
		viewer.do("POST", reqs+"/"+otherRq.str("id")+"/cancel", nil).wantError(403, "authentication_error", "permission_denied", "")
		e.owner.do("POST", reqs+"/"+otherRq.str("id")+"/cancel", nil).wantError(403, "authentication_error", "permission_denied", "")
		if d := e.owner.must("POST", reqs+"/"+otherRq.str("id")+"/deny", map[string]any{"reason": "not this week"}, 200); d.str("status") != "denied" || d.str("decision_reason") != "not this week" {
			t.Errorf("deny = %s", d.raw)
		}
		again := ask(viewer, flag, "editor", map[string]any{"duration_seconds": 60})
		if c := viewer.must("POST", reqs+"/"+again.str("id")+"/cancel", nil, 200); c.str("status") != "cancelled" {
			t.Errorf("cancel = %s", c.raw)
		}
		want("cancelled", list(viewer, "?status=cancelled"), again.str("id"))

		// Every transition is in the activity log.
		counts := map[string]int{}
		for _, a := range e.owner.must("GET", e.projPath("/activity_log?limit=1000"), nil, 200).list("results") {
			a := a.(map[string]any)
			if a["scope"] == "AccessRequest" {
				counts[a["activity"].(string)]++
			}
		}
		if counts["created"] != 4 || counts["updated"] != 3 {
			t.Errorf("AccessRequest activity = %v, want 4 created, 3 updated", counts)
		}
	})
}

// TestKindAccessRequests: a request on a whole kind is decided by the project's
// administrators, not by a member who manages one object, and a decider of one project
// does not see another's.
func TestKindAccessRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e, _ := requestsEnv(t, dialect)
		viewer, padmin, flagManager := e.member(1), e.member(1), e.member(1)
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "admin", "organization_member": e.membershipID(padmin)}, 200)
		flag := e.owner.create(0)
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "manager", "organization_member": e.membershipID(flagManager)}, 200)
		reqs := e.projPath("/access_requests")

		e.owner.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": e.orgID}, 200)
		second := int64(e.owner.must("POST", e.orgPath("/projects"), map[string]any{"name": "Second"}, 201).num("id"))
		reqsB := fmt.Sprintf("/api/projects/%d/access_requests", second)

		viewer.do("POST", reqs, map[string]any{"access_level": "editor", "reason": "r"}).wantError(400, "validation_error", "required", "resource")
		viewer.do("POST", reqs, map[string]any{"resource": "flag", "access_level": "editor", "reason": "r"}).wantError(400, "validation_error", "invalid_choice", "resource")
		rq := viewer.must("POST", reqs, map[string]any{"resource": "feature_flag", "access_level": "editor", "reason": "all flags"}, 201)
		if rq.get("resource_id") != nil || rq.str("resource") != "feature_flag" {
			t.Errorf("kind request = %s", rq.raw)
		}
		viewer.do("POST", reqs, map[string]any{"resource": "cohort", "access_level": "editor", "reason": "r"}).wantError(400, "validation_error", "invalid", "access_level")
		rqB := viewer.must("POST", reqsB, map[string]any{"resource": "feature_flag", "access_level": "editor", "reason": "B"}, 201)

		if got := ids(padmin.must("GET", reqs, nil, 200)); len(got) != 1 || got[0] != rq.str("id") {
			t.Errorf("project admin's list = %v, want the kind request", got)
		}
		if got := ids(padmin.must("GET", reqsB, nil, 200)); len(got) != 0 {
			t.Errorf("project A's admin lists project B's requests: %v", got)
		}
		padmin.do("POST", reqsB+"/"+rqB.str("id")+"/approve", map[string]any{"permanent": true}).wantError(403, "authentication_error", "permission_denied", "")
		padmin.do("POST", reqs+"/"+rqB.str("id")+"/approve", map[string]any{"permanent": true}).wantError(404, "invalid_request", "not_found", "")
		flagManager.do("POST", reqs+"/"+rq.str("id")+"/approve", map[string]any{"permanent": true}).wantError(403, "authentication_error", "permission_denied", "")

		ok := padmin.must("POST", reqs+"/"+rq.str("id")+"/approve", map[string]any{"permanent": true}, 200)
		if ok.get("access_control.expires_at") != nil || ok.str("access_control.resource") != "feature_flag" || ok.str("access_control.access_level") != "editor" {
			t.Errorf("permanent kind approval = %s", ok.raw)
		}
		viewer.must("PATCH", flag, map[string]any{"name": "edited"}, 200)
		viewer.must("POST", e.projPath("/feature_flags"), map[string]any{"key": "mine"}, 201)
	})
}

// TestAccessRequestApprovalRace: two deciders approving one request at once: one wins,
// the other is told it is decided, and one rule is written.
func TestAccessRequestApprovalRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e, _ := requestsEnv(t, dialect)
		viewer, a1, a2 := e.member(1), e.member(8), e.member(8)
		flag := e.owner.create(0)
		for round, level := range []string{"editor", "manager"} {
			rq := ask(viewer, flag, level, map[string]any{"duration_seconds": 600})
			if rq.status != 201 {
				t.Fatalf("request = %d %s", rq.status, rq.raw)
			}
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i, c := range []*client{a1, a2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = c.do("POST", e.projPath("/access_requests/"+rq.str("id")+"/approve"), map[string]any{}).status
				}()
			}
			wg.Wait()
			if !(statuses[0] == 200 && statuses[1] == 400 || statuses[0] == 400 && statuses[1] == 200) {
				t.Errorf("round %d: approvals = %v, want one 200 and one 400", round, statuses)
			}
			var rules []string
			for _, ac := range e.owner.must("GET", flag+"/access_controls", nil, 200).list("access_controls") {
				if ac := ac.(map[string]any); ac["organization_member"] == e.membershipID(viewer) {
					rules = append(rules, ac["access_level"].(string))
				}
			}
			if len(rules) != 1 || rules[0] != level {
				t.Errorf("round %d: the requester's member rules = %v, want one at %s", round, rules, level)
			}
		}
		// Granted: asking for it again is asking for nothing.
		ask(viewer, flag, "manager", nil).wantError(400, "validation_error", "invalid", "access_level")
	})
}
