package server_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestExpiringRules: a rule with expires_at grants until that instant by the
// server's clock and nothing from it, with no sweep having run and no rules
// revision moved; it leaves the lists at the same instant; the sweep deletes it
// and the activity log records the expiry with no actor. Bad or past expiries
// are refused.
func TestExpiringRules(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
		clock := &testClock{now: start}
		db := sqltest.OpenWithClock(t, dialect, clock.Now)
		e := newEnvWith(t, server.Config{Store: db, Now: clock.Now, Plan: license.Enterprise})
		m, bystander := e.member(1), e.member(1)
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		flag := e.owner.create(0)
		expiry := start.Add(time.Hour)

		put := func(body map[string]any) *result {
			t.Helper()
			return e.owner.do("PUT", flag+"/access_controls", body)
		}
		for _, bad := range []any{"tomorrow", start.Add(-time.Second).Format(time.RFC3339), start.Format(time.RFC3339Nano), 42} {
			put(map[string]any{"access_level": "editor", "organization_member": e.membershipID(m), "expires_at": bad}).
				wantError(400, "validation_error", "invalid", "expires_at")
		}
		got := put(map[string]any{"access_level": "editor", "organization_member": e.membershipID(m), "expires_at": expiry.Format(time.RFC3339)})
		if got.status != 200 || got.str("expires_at") != "2030-05-01T13:00:00Z" {
			t.Fatalf("PUT with expires_at = %d %s, want 200 with expires_at", got.status, got.raw)
		}
		// A permanent rule lists null.
		e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "member", "organization_member": e.membershipID(bystander)}, 200)
		if l := e.owner.must("GET", e.projPath("/access_controls"), nil, 200); len(l.list("access_controls")) != 1 || l.get("access_controls.0.expires_at") != nil {
			t.Errorf("permanent rule listed as %s, want expires_at null", l.raw)
		}

		edit := func(c *client) int { t.Helper(); return c.do("PATCH", flag, map[string]any{"name": "edited"}).status }
		listed := func() int {
			t.Helper()
			return len(e.owner.must("GET", flag+"/access_controls", nil, 200).list("access_controls"))
		}
		if got := edit(m); got != 200 {
			t.Errorf("PATCH before the expiry = %d, want 200", got)
		}
		if got := edit(bystander); got != 403 {
			t.Errorf("PATCH by a member the rule does not reach = %d, want 403", got)
		}
		clock.Set(expiry.Add(-time.Microsecond))
		if got := edit(m); got != 200 {
			t.Errorf("PATCH a microsecond before the expiry = %d, want 200", got)
		}
		if n := listed(); n != 1 {
			t.Errorf("rules listed before the expiry = %d, want 1", n)
		}
		clock.Set(expiry)
		if got := edit(m); got != 403 {
			t.Errorf("PATCH at the expiry = %d, want 403", got)
		}
		if n := listed(); n != 0 {
			t.Errorf("rules listed at the expiry, before any sweep = %d, want 0", n)
		}
		// Granted again before any sweep, through v1's role_access on a role whose
		// expiring v2 rule sits there: the write sweeps the expired rule and puts
		// the new one in one transaction, which moves the revision twice.
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Shippers"}, 201).str("id")
		put(map[string]any{"access_level": "editor", "role": role, "expires_at": expiry.Add(time.Minute).Format(time.RFC3339)})
		clock.Set(expiry.Add(time.Minute))
		if got := e.owner.do("POST", flag+"/role_access", map[string]any{"role_id": role}); got.status != 201 {
			t.Fatalf("POST role_access over an expired, unswept rule = %d %s, want 201", got.status, got.raw)
		}
		again := expiry.Add(time.Hour)
		if got := put(map[string]any{"access_level": "editor", "organization_member": e.membershipID(m), "expires_at": again.Format(time.RFC3339)}); got.status != 200 {
			t.Fatalf("PUT over an expired, unswept rule = %d %s, want 200", got.status, got.raw)
		}
		if got := edit(m); got != 200 {
			t.Errorf("PATCH after the grant again = %d, want 200", got)
		}
		clock.Set(again)
		if n, err := db.ExpireRules(t.Context(), 10); err != nil || n != 1 {
			t.Fatalf("ExpireRules() = %d, %v, want 1", n, err)
		}
		if got := edit(m); got != 403 {
			t.Errorf("PATCH after the sweep = %d, want 403", got)
		}
		log := e.owner.must("GET", e.projPath("/activity_log"), nil, 200)
		found := false
		for _, row := range log.list("results") {
			r := row.(map[string]any)
			if r["activity"] == "expired" {
				found = true
				if r["user"] != nil || r["scope"] != "AccessControl" {
					t.Errorf("expiry logged as %v, want scope AccessControl and no user", r)
				}
			}
		}
		if !found {
			t.Errorf("activity log has no expiry: %s", log.raw)
		}
	})
}

// TestExpiringRuleOnReplicas: two replicas on one PostgreSQL database, each
// with its own clock, both refuse from the instant a rule expires, with no
// sweep and no change notice: each replaces its snapshot by itself.
func TestExpiringRuleOnReplicas(t *testing.T) {
	sqltest.PostgresURL(t)
	start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	stores := replicaStores(t, "postgres")
	clocks := []*testClock{{now: start}, {now: start}}
	e := newEnvWith(t, server.Config{Store: stores[0], Now: clocks[0].Now, Plan: license.Enterprise})
	replica := httptest.NewServer(validated(t, server.New(server.Config{Store: stores[1], Now: clocks[1].Now, Plan: license.Enterprise,
		Passwords: server.Passwords{Memory: 64, Time: 1, Threads: 1}})))
	t.Cleanup(replica.Close)
	replicas := []*env{e, e.on(replica)}

	m := e.member(1)
	flag := e.owner.create(0)
	expiry := start.Add(8 * time.Hour)
	// The flag is private for everyone; m may view it until the expiry.
	e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "none"}, 200)
	e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": e.membershipID(m),
		"expires_at": expiry.Format(time.RFC3339)}, 200)
	check := func(when string, want int) {
		t.Helper()
		for i, r := range replicas {
			if got := m.as(r).do("GET", flag, nil).status; got != want {
				t.Errorf("%s, replica %d: GET = %d, want %d", when, i, got, want)
			}
		}
	}
	check("before the expiry", 200) // both replicas have compiled the rule
	for _, c := range clocks {
		c.Set(expiry.Add(-time.Second))
	}
	check("a second before", 200)
	for _, c := range clocks {
		c.Set(expiry)
	}
	check("at the expiry", 404)
}

// TestSweepOnReplicas: both replicas sweep at once; the expired rule is
// deleted and its expiry logged exactly once, with no user.
func TestSweepOnReplicas(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		stores := replicaStores(t, dialect)
		e := newEnvWith(t, server.Config{Store: stores[0], Plan: license.Enterprise})
		replica := server.New(server.Config{Store: stores[1], Plan: license.Enterprise})
		m := e.member(1)
		flag := e.owner.create(0)
		// Stored directly: the API accepts only a future expiry.
		rl := &gatehouse.Rule{OrganizationID: e.orgID, Rule: access.Rule{Scope: access.ScopeObject, Object: idOf(t, flag), User: m.id, Level: access.Manager,
			ExpiresAt: time.Now().Add(-time.Second).UnixNano()}}
		if err := stores[0].CreateRule(t.Context(), rl, e.owner.id); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		primary := server.New(server.Config{Store: stores[0], Plan: license.Enterprise})
		var wg sync.WaitGroup
		for _, s := range []*server.Server{primary, replica} {
			wg.Go(func() { s.SweepExpiredRules(ctx) })
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			f, _, err := stores[0].AccessFacts(t.Context(), e.orgID)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Rules) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the expired rule is still stored after 10 s of sweeping")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		log := e.owner.must("GET", e.orgPath("/activity_log?item_id="+rl.ID), nil, 200)
		expired := 0
		for _, row := range log.list("results") {
			if r := row.(map[string]any); r["activity"] == "expired" {
				expired++
				if r["user"] != nil {
					t.Errorf("expiry logged with user %v, want none", r["user"])
				}
			}
		}
		if expired != 1 {
			t.Errorf("%d expiry entries, want 1: %s", expired, log.raw)
		}
	})
}

// idOf is the numeric id at the end of an object's path.
func idOf(t *testing.T, path string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(lastSegment(path), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
