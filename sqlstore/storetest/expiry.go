package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// testRuleExpiry: a rule's expiry is stored to the microsecond and read back alike; rules
// past it leave Rule and Rules at once but stay in AccessFacts (the decision compiles
// for its own instant); PutRule changes the expiry alone and a put without one makes the
// rule permanent; ExpireRules deletes each expired rule once, with its activity row,
// however many sweep at once.
func testRuleExpiry(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)

	future := time.Now().Add(time.Hour)
	future = future.Add(123 * time.Nanosecond) // below the microsecond: dropped
	live := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: flag.ID, User: bob.ID, Level: access.Editor, ExpiresAt: future.UnixNano()}, alice.ID)
	if want := future.Truncate(time.Microsecond).UnixNano(); live.ExpiresAt != want {
		t.Errorf("CreateRule stored ExpiresAt %d, want %d (to the microsecond)", live.ExpiresAt, want)
	}
	if got, err := s.Rule(ctx, org.ID, live.ID); err != nil || got.ExpiresAt != live.ExpiresAt {
		t.Errorf("Rule(live) = %+v, %v, want ExpiresAt %d", got, err, live.ExpiresAt)
	}
	permanent := e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}, alice.ID)
	if got, err := s.Rule(ctx, org.ID, permanent.ID); err != nil || got.ExpiresAt != 0 {
		t.Errorf("Rule(permanent) = %+v, %v, want ExpiresAt 0", got, err)
	}

	past := time.Now().Add(-time.Minute)
	gone := e.rule(org.ID, access.Rule{Scope: access.ScopeProject, Project: p.ID, User: bob.ID, ProjectLevel: access.ProjectAdmin, ExpiresAt: past.UnixNano()}, alice.ID)
	_, err := s.Rule(ctx, org.ID, gone.ID)
	wantNotFound(t, "Rule(expired)", err)
	rules, err := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
	if err != nil {
		t.Fatalf("Rules() = %v", err)
	}
	if got, want := ruleIDs(rules), []string{live.ID, permanent.ID}; !sameStrings(got, want) {
		t.Errorf("Rules() = %v, want %v (the expired rule left out)", got, want)
	}
	facts, _, err := s.AccessFacts(ctx, org.ID)
	if err != nil {
		t.Fatalf("AccessFacts() = %v", err)
	}
	expiries := map[access.Scope]int64{}
	for _, r := range facts.Rules {
		expiries[r.Scope] = r.ExpiresAt
	}
	want := map[access.Scope]int64{access.ScopeObject: live.ExpiresAt, access.ScopeKind: 0, access.ScopeProject: past.Truncate(time.Microsecond).UnixNano()}
	for sc, w := range want {
		if expiries[sc] != w {
			t.Errorf("AccessFacts() rule of scope %v has ExpiresAt %d, want %d", sc, expiries[sc], w)
		}
	}

	// PutRule: the expiry alone changes the rule; a put without one makes it permanent.
	later := future.Add(time.Hour).Truncate(time.Microsecond)
	put := &gatehouse.Rule{OrganizationID: org.ID, Rule: live.Rule}
	put.ExpiresAt = later.UnixNano()
	if err := s.PutRule(ctx, put, alice.ID); err != nil || put.ID != live.ID || put.ExpiresAt != later.UnixNano() {
		t.Errorf("PutRule(new expiry) = %v, %+v, want rule %s expiring %d", err, put, live.ID, later.UnixNano())
	}
	put = &gatehouse.Rule{OrganizationID: org.ID, Rule: live.Rule}
	put.ExpiresAt = 0
	if err := s.PutRule(ctx, put, alice.ID); err != nil || put.ExpiresAt != 0 {
		t.Errorf("PutRule(no expiry) = %v, %+v, want a permanent rule", err, put)
	}
	log, _, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, OptionalItemID: live.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ActivityLog() = %v", err)
	}
	if len(log) != 3 || log[0].Activity != "updated" || len(log[0].Changes) != 1 || log[0].Changes[0].Field != "expires_at" || log[0].Changes[0].After != nil {
		t.Errorf("ActivityLog(the rule) = %+v, want created and two updates of expires_at, the last to null", log)
	}
	// A put on an expired rule's target takes its place, live again.
	revived := &gatehouse.Rule{OrganizationID: org.ID, Rule: gone.Rule}
	revived.ExpiresAt = future.UnixNano()
	if err := s.PutRule(ctx, revived, alice.ID); err != nil || revived.ID != gone.ID {
		t.Fatalf("PutRule(on an expired rule's target) = %v, %+v", err, revived)
	}
	if _, err := s.Rule(ctx, org.ID, gone.ID); err != nil {
		t.Errorf("Rule(renewed) = %v, want it back", err)
	}
	revived.ExpiresAt = past.UnixNano()
	if err := s.PutRule(ctx, revived, alice.ID); err != nil {
		t.Fatalf("PutRule(expired again) = %v", err)
	}

	// CreateRule on the target of an expired, unswept rule takes its place (a v1 grant
	// after an expired v2 rule for the same role on the same object).
	role := e.role(org.ID, "Product", alice.ID)
	old := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: flag.ID, Role: role.ID, Level: access.Viewer, ExpiresAt: past.UnixNano()}, alice.ID)
	grant := e.rule(org.ID, access.Rule{Scope: access.ScopeObject, Object: flag.ID, Role: role.ID, Level: access.Editor}, alice.ID)
	if grant.ID == old.ID || grant.ExpiresAt != 0 {
		t.Errorf("CreateRule(on an expired rule's target) = %+v, want a new permanent rule", grant)
	}
	if log, _, err := s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, OptionalItemID: old.ID, Limit: 10}); err != nil || len(log) != 2 || log[0].Activity != "expired" {
		t.Errorf("ActivityLog(the replaced expired rule) = %+v, %v, want created then expired", log, err)
	}

	// The sweep: several at once delete the expired rule once, with one activity row.
	rev := e.revision(org.ID)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 4 {
		wg.Go(func() {
			n, err := s.ExpireRules(ctx, 100)
			if err != nil {
				t.Errorf("ExpireRules() = %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1 {
		t.Errorf("ExpireRules() from 4 sweepers deleted %d rules in all, want 1", total)
	}
	if n, err := s.ExpireRules(ctx, 100); n != 0 || err != nil {
		t.Errorf("ExpireRules(again) = %d, %v, want 0, nil", n, err)
	}
	if got := e.revision(org.ID); got != rev+1 {
		t.Errorf("revision after the sweep = %d, want %d", got, rev+1)
	}
	log, _, err = s.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org.ID, OptionalItemID: gone.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ActivityLog() = %v", err)
	}
	var expired []gatehouse.Activity
	for _, a := range log {
		if a.Activity == "expired" {
			expired = append(expired, a)
		}
	}
	if len(expired) != 1 || expired[0].UserID != 0 || expired[0].Scope != "AccessControl" || expired[0].ProjectID != p.ID {
		t.Errorf("ActivityLog(the swept rule) = %+v, want one expired row, no actor, in project %d", log, p.ID)
	}
	facts, _, err = s.AccessFacts(ctx, org.ID)
	if err != nil {
		t.Fatalf("AccessFacts() = %v", err)
	}
	if len(facts.Rules) != 3 {
		t.Errorf("AccessFacts() after the sweep has %d rules, want 3", len(facts.Rules))
	}
	// Permanent and live rules are not swept.
	for _, id := range []string{live.ID, permanent.ID} {
		if _, err := s.Rule(ctx, org.ID, id); err != nil {
			t.Errorf("Rule(%s) after the sweep = %v, want it kept", id, err)
		}
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
