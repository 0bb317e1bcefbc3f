package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// request creates a pending request of u's.
func (e *env) request(orgID string, projectID int64, k access.Kind, object int64, u *gatehouse.User, l access.Level) *gatehouse.AccessRequest {
	e.t.Helper()
	rq := &gatehouse.AccessRequest{OrganizationID: orgID, Project: projectID, Kind: k, Object: object, RequestedBy: u.ID, Level: l,
		Reason: "to ship a fix", Duration: time.Hour}
	if err := e.s.CreateAccessRequest(e.ctx, rq); err != nil {
		e.t.Fatalf("CreateAccessRequest(%+v) = %v", rq, err)
	}
	return rq
}

func testAccessRequests(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol, dave := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com"), e.user("dave@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	e.join(org.ID, carol, access.MemberLevel)
	other, op := e.org("Other", dave)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)
	foreign := e.resource(op.ID, access.FeatureFlags, "f", dave.ID)
	p2 := e.project(org.ID, "Second")
	elsewhere := e.resource(p2.ID, access.FeatureFlags, "g", alice.ID)
	rev := e.revision(org.ID)

	rq := e.request(org.ID, p.ID, access.FeatureFlags, flag.ID, bob, access.Editor)
	if rq.ID == "" || rq.Status != gatehouse.RequestPending || rq.Duration != time.Hour || rq.DecidedBy != 0 {
		t.Errorf("created request = %+v, want an id, pending, an hour, undecided", rq)
	}
	checkUTC(t, "CreatedAt", rq.CreatedAt)
	got, err := s.AccessRequest(ctx, org.ID, rq.ID)
	if err != nil || *got != *rq {
		t.Errorf("AccessRequest = %+v, %v, want %+v", got, err, rq)
	}
	if r := e.revision(org.ID); r != rev {
		t.Errorf("rules revision after a request = %d, want %d (a request grants nothing)", r, rev)
	}

	// One pending request per requester and object; the same requester may ask for the
	// kind, and another member for the object.
	dup := &gatehouse.AccessRequest{OrganizationID: org.ID, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, RequestedBy: bob.ID, Level: access.Manager}
	wantError(t, "CreateAccessRequest(second pending)", s.CreateAccessRequest(ctx, dup), gatehouse.EUnique, "resource")
	kindRq := e.request(org.ID, p.ID, access.FeatureFlags, 0, bob, access.Editor)
	wantError(t, "CreateAccessRequest(second pending on the kind)", s.CreateAccessRequest(ctx, &gatehouse.AccessRequest{
		OrganizationID: org.ID, Project: p.ID, Kind: access.FeatureFlags, RequestedBy: bob.ID, Level: access.Editor}), gatehouse.EUnique, "resource")
	carolRq := e.request(org.ID, p.ID, access.FeatureFlags, flag.ID, carol, access.Viewer)

	// What is not the organization's, or not in the project, or of another kind, is missing.
	for name, bad := range map[string]gatehouse.AccessRequest{
		"foreign object":      {Project: p.ID, Kind: access.FeatureFlags, Object: foreign.ID},
		"foreign project":     {Project: op.ID, Kind: access.FeatureFlags},
		"object in p2 via p":  {Project: p.ID, Kind: access.FeatureFlags, Object: elsewhere.ID},
		"flag as a cohort":    {Project: p.ID, Kind: access.Cohorts, Object: flag.ID},
		"foreign object, own": {Project: op.ID, Kind: access.FeatureFlags, Object: foreign.ID},
	} {
		bad.OrganizationID, bad.RequestedBy, bad.Level = org.ID, carol.ID, access.Editor
		wantNotFound(t, "CreateAccessRequest("+name+")", s.CreateAccessRequest(ctx, &bad))
	}
	wantError(t, "CreateAccessRequest(non-member)", s.CreateAccessRequest(ctx, &gatehouse.AccessRequest{
		OrganizationID: org.ID, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, RequestedBy: dave.ID, Level: access.Editor}),
		gatehouse.EDoesNotExist, "user")
	wantError(t, "CreateAccessRequest(none)", s.CreateAccessRequest(ctx, &gatehouse.AccessRequest{
		OrganizationID: org.ID, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, RequestedBy: carol.ID, Level: access.None}),
		gatehouse.EInvalid, "access_level")
	if _, err := s.AccessRequest(ctx, other.ID, rq.ID); !isNotFound(err) {
		t.Errorf("AccessRequest(through another organization) = %v, want not_found", err)
	}

	// Lists: newest first, by status and by requester, one project at a time.
	ids := func(f gatehouse.AccessRequestFilter) []string {
		t.Helper()
		f.OrganizationID = org.ID
		if f.Project == 0 {
			f.Project = p.ID
		}
		rs, err := s.AccessRequests(ctx, f)
		if err != nil {
			t.Fatalf("AccessRequests(%+v) = %v", f, err)
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	eq := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", what, got, want)
				return
			}
		}
	}
	eq("all", ids(gatehouse.AccessRequestFilter{}), carolRq.ID, kindRq.ID, rq.ID)
	eq("bob's", ids(gatehouse.AccessRequestFilter{OptionalRequestedBy: bob.ID}), kindRq.ID, rq.ID)
	eq("approved", ids(gatehouse.AccessRequestFilter{OptionalStatus: gatehouse.RequestApproved}))
	eq("project 2", ids(gatehouse.AccessRequestFilter{Project: p2.ID}))

	// Deny, cancel, approve: once each, and never again.
	denied, rule, err := s.DecideAccessRequest(ctx, org.ID, carolRq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestDenied, Reason: "not now"}, alice.ID)
	if err != nil || rule != nil || denied.Status != gatehouse.RequestDenied || denied.DecidedBy != alice.ID || denied.DecisionReason != "not now" {
		t.Fatalf("deny = %+v, %v, %v, want denied by alice with the reason and no rule", denied, rule, err)
	}
	checkUTC(t, "DecidedAt", denied.DecidedAt)
	cancelled, _, err := s.DecideAccessRequest(ctx, org.ID, kindRq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestCancelled}, bob.ID)
	if err != nil || cancelled.Status != gatehouse.RequestCancelled {
		t.Fatalf("cancel = %+v, %v", cancelled, err)
	}
	if r := e.revision(org.ID); r != rev {
		t.Errorf("rules revision after a denial and a cancellation = %d, want %d", r, rev)
	}
	for _, d := range []gatehouse.RequestDecision{{Status: gatehouse.RequestApproved, Level: access.Viewer}, {Status: gatehouse.RequestDenied}, {Status: gatehouse.RequestCancelled}} {
		_, _, err := s.DecideAccessRequest(ctx, org.ID, carolRq.ID, d, alice.ID)
		wantError(t, "DecideAccessRequest(denied, "+d.Status+")", err, gatehouse.EInvalidInput, "")
	}
	// A decided request no longer holds its place: carol may ask again.
	e.request(org.ID, p.ID, access.FeatureFlags, flag.ID, carol, access.Viewer)

	// Check is asked inside, and its refusal writes nothing.
	refusal := errors.New("refused")
	if _, _, err := s.DecideAccessRequest(ctx, org.ID, rq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: access.Editor,
		Check: func(stored *gatehouse.AccessRequest) error {
			if stored.ID != rq.ID || stored.Status != gatehouse.RequestPending {
				t.Errorf("Check got %+v", stored)
			}
			return refusal
		}}, alice.ID); !errors.Is(err, refusal) {
		t.Errorf("DecideAccessRequest(check refuses) = %v, want the refusal", err)
	}
	if rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID}); len(rules) != 0 {
		t.Errorf("rules after a refused approval = %+v, want none", rules)
	}
	// A decision made on rules that changed since writes nothing.
	stale := gatehouse.WithDecidedRevision(ctx, org.ID, rev-1, nil)
	if _, _, err := s.DecideAccessRequest(stale, org.ID, rq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: access.Editor}, alice.ID); !errors.Is(err, gatehouse.ErrStaleDecision) {
		t.Errorf("DecideAccessRequest(stale decision) = %v, want %v", err, gatehouse.ErrStaleDecision)
	}
	if got, _ := s.AccessRequest(ctx, org.ID, rq.ID); got.Status != gatehouse.RequestPending {
		t.Errorf("after a stale approval the request is %q, want pending", got.Status)
	}

	// Approval writes the member rule, expiring, in the same transaction, and names it.
	until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	approved, rule, err := s.DecideAccessRequest(ctx, org.ID, rq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: access.Editor, ExpiresAt: until}, alice.ID)
	if err != nil {
		t.Fatalf("approve = %v", err)
	}
	want := access.Rule{Scope: access.ScopeObject, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, User: bob.ID, Level: access.Editor,
		ExpiresAt: until.UnixNano()}
	if rule == nil || rule.Rule != want || approved.RuleID != rule.ID || approved.Status != gatehouse.RequestApproved || approved.DecidedBy != alice.ID {
		t.Fatalf("approve = %+v, %+v, want approved by alice with rule %+v", approved, rule, want)
	}
	if r := e.revision(org.ID); r <= rev {
		t.Errorf("rules revision after an approval = %d, want above %d", r, rev)
	}
	f, _, err := s.AccessFacts(ctx, org.ID)
	if err != nil || len(f.Rules) != 1 || f.Rules[0] != want {
		t.Errorf("facts after approval = %+v, %v, want %+v", f.Rules, err, want)
	}
	if stored, err := s.Rule(ctx, org.ID, approved.RuleID); err != nil || stored.Rule != want {
		t.Errorf("Rule(approved's) = %+v, %v, want %+v", stored, err, want)
	}
	log := e.activity(org.ID)
	if len(log) < 2 || log[0].Scope != "AccessRequest" || log[0].Activity != "updated" || log[1].Scope != "AccessControl" || log[1].Activity != "created" {
		t.Errorf("newest activity = %+v, want the request's approval after the rule's creation", log[:min(2, len(log))])
	} else if log[0].ObjectID != flag.ID || log[0].ItemID != rq.ID {
		t.Errorf("approval's activity row = %+v, want about flag %d, item %s", log[0], flag.ID, rq.ID)
	}
	var requestRows int
	for _, a := range log {
		if a.Scope == "AccessRequest" {
			requestRows++
		}
	}
	if requestRows != 7 { // 4 created + denied, cancelled, approved
		t.Errorf("%d AccessRequest rows in the log, want 7", requestRows)
	}

	// A kind request approved writes a kind rule for the member in the project.
	kr := e.request(org.ID, p.ID, access.Cohorts, 0, carol, access.Editor)
	_, rule, err = s.DecideAccessRequest(ctx, org.ID, kr.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: access.Viewer}, alice.ID)
	want = access.Rule{Scope: access.ScopeKind, Project: p.ID, Kind: access.Cohorts, User: carol.ID, Level: access.Viewer}
	if err != nil || rule.Rule != want {
		t.Errorf("approve kind request = %+v, %v, want %+v", rule, err, want)
	}
	if _, _, err := s.DecideAccessRequest(ctx, org.ID, kr.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: access.Manager}, alice.ID); gatehouse.ErrorCode(err) != gatehouse.EInvalidInput {
		t.Errorf("approve twice = %v, want invalid_input", err)
	}
	if _, _, err := s.DecideAccessRequest(ctx, other.ID, kr.ID, gatehouse.RequestDecision{Status: gatehouse.RequestDenied}, dave.ID); !isNotFound(err) {
		t.Errorf("decide through another organization = %v, want not_found", err)
	}
	if _, _, err := s.DecideAccessRequest(ctx, org.ID, kr.ID, gatehouse.RequestDecision{Status: "maybe"}, alice.ID); gatehouse.ErrorCode(err) != gatehouse.EInvalidChoice {
		t.Errorf("decide with an unknown status = %v, want invalid_choice", err)
	}

	// Requests go with their object and with their requester's membership.
	e.request(org.ID, p2.ID, access.FeatureFlags, elsewhere.ID, bob, access.Editor)
	if err := s.DeleteResource(ctx, p2.ID, access.FeatureFlags, elsewhere.ID); err != nil {
		t.Fatal(err)
	}
	eq("p2 after its flag went", ids(gatehouse.AccessRequestFilter{Project: p2.ID}))
	if err := s.RemoveMember(ctx, org.ID, carol.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	eq("carol's after she left", ids(gatehouse.AccessRequestFilter{OptionalRequestedBy: carol.ID}))
}

// testConcurrentApprovals: of several approvals of one request at once, one wins and one
// rule is written; the others find it decided.
func testConcurrentApprovals(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)
	rq := e.request(org.ID, p.ID, access.FeatureFlags, flag.ID, bob, access.Manager)
	levels := []access.Level{access.Viewer, access.Editor, access.Manager, access.Editor}
	var wg sync.WaitGroup
	errs := make([]error, len(levels))
	for i, l := range levels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = s.DecideAccessRequest(context.WithoutCancel(ctx), org.ID, rq.ID, gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: l}, alice.ID)
		}()
	}
	wg.Wait()
	var won int
	for i, err := range errs {
		switch gatehouse.ErrorCode(err) {
		case "":
			if err != nil {
				t.Errorf("approval %d = %v", i, err)
			}
			won++
		case gatehouse.EInvalidInput:
		default:
			t.Errorf("approval %d = %v, want nil or invalid_input", i, err)
		}
	}
	rules, err := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
	if won != 1 || err != nil || len(rules) != 1 {
		t.Errorf("%d approvals won, rules %+v (%v); want one of each", won, rules, err)
	}
	var updates int
	for _, a := range e.activity(org.ID) {
		if a.Scope == "AccessRequest" && a.Activity == "updated" {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d approvals in the log, want 1", updates)
	}
}
