package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
)

// testClock is an injected clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// newEnvWith starts a server built from cfg (Passwords filled in) and signs up its owner.
func newEnvWith(t testing.TB, cfg server.Config) *env {
	t.Helper()
	cfg.Passwords = server.Passwords{Memory: 64, Time: 1, Threads: 1}
	srv := httptest.NewServer(validated(t, server.New(cfg)))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	body := map[string]any{"email": "owner@example.com", "password": "correct horse", "first_name": "Olive", "organization_name": "Acme"}
	res := rawDo(t, hc, srv.URL, "POST", "/api/signup", body, nil)
	if res.status != http.StatusCreated {
		t.Fatalf("signup = %d %s, want 201", res.status, res.raw)
	}
	e.orgID = res.str("organization.id")
	e.proj = int64(res.num("team.id"))
	e.owner = e.keyClient(hc, "owner@example.com")
	return e
}

// TestLicenceExpiresWhileRunning: a licence that expires while the servers run
// stops granting the enterprise plan at its ValidUntil, by each replica's own
// clock, with no restart: access-configuration writes answer 402, a view-only
// role stops restricting (no decision is taken on a snapshot compiled under the
// old plan), the organization reports the free plan, and each replica logs the
// expiry once. A renewed licence from ReloadLicense brings the plan back.
func TestLicenceExpiresWhileRunning(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) { testLicenceExpiresWhileRunning(t, dialect) })
}

func testLicenceExpiresWhileRunning(t *testing.T, dialect string) {
	start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	expiry := start.Add(time.Hour)
	lic := license.License{Plan: license.Enterprise, ID: "first", IssuedAt: start.Add(-time.Hour), ValidUntil: expiry}
	renewed := license.License{Plan: license.Enterprise, ID: "renewed", IssuedAt: expiry, ValidUntil: expiry.AddDate(1, 0, 0)}

	// Two replicas on one database, each with its own clock and log.
	var stores []gatehouse.Store
	for _, db := range replicaStores(t, dialect) {
		stores = append(stores, db)
	}
	var (
		reloadMu  sync.Mutex
		reloadLic = lic
		reloadErr = errors.New("licence file: no such file")
	)
	reload := func(time.Time) (license.License, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		return reloadLic, reloadErr
	}
	clocks := []*testClock{{now: start}, {now: start}}
	logs := []*lockedBuffer{{}, {}}
	cfg := func(i int) server.Config {
		return server.Config{Store: stores[i], Now: clocks[i].Now, License: lic, ReloadLicense: reload,
			Logger: slog.New(slog.NewJSONHandler(logs[i], nil))}
	}
	e := newEnvWith(t, cfg(0))
	replica := httptest.NewServer(validated(t, server.New(func() server.Config {
		c := cfg(1)
		c.Passwords = server.Passwords{Memory: 64, Time: 1, Threads: 1}
		return c
	}())))
	t.Cleanup(replica.Close)
	replicas := []*env{e, e.on(replica)}

	m := e.member(1)
	e.role("viewers", 0, 21, m)
	flag := e.owner.create(0)

	check := func(when string, enterprise bool) {
		t.Helper()
		for i, r := range replicas {
			member := m.as(r)
			wantPlan, wantRoleWrite, wantEdit := "free", 402, 200
			if enterprise {
				wantPlan, wantRoleWrite, wantEdit = "enterprise", 201, 403
			}
			if got := r.owner.must("GET", r.orgPath(""), nil, 200).str("plan"); got != wantPlan {
				t.Errorf("%s, replica %d: plan = %q, want %q", when, i, got, wantPlan)
			}
			if got := r.owner.do("POST", r.orgPath("/roles"), map[string]any{"name": fmt.Sprintf("%s on replica %d", when, i)}); got.status != wantRoleWrite {
				t.Errorf("%s, replica %d: POST roles = %d %s, want %d", when, i, got.status, got.raw, wantRoleWrite)
			}
			if got := member.do("PATCH", flag, map[string]any{"name": "edited"}); got.status != wantEdit {
				t.Errorf("%s, replica %d: view-only member PATCH = %d %s, want %d", when, i, got.status, got.raw, wantEdit)
			}
		}
	}
	expiredLines := func(i int) int { return strings.Count(logs[i].String(), "licence expired: running on the free plan") }

	// Both replicas have compiled the organization's rules under the enterprise plan.
	check("before expiry", true)
	for i, c := range clocks {
		c.Set(expiry.Add(-time.Second))
		if n := expiredLines(i); n != 0 {
			t.Fatalf("replica %d logged an expiry before it: %s", i, logs[i])
		}
	}
	check("a second before expiry", true)

	// The rules revision has not moved: only the plan has.
	for _, c := range clocks {
		c.Set(expiry)
	}
	check("at expiry", false)
	for _, c := range clocks {
		c.Set(expiry.Add(time.Minute))
	}
	check("a minute after expiry", false)
	for i := range replicas {
		if n := expiredLines(i); n != 1 {
			t.Errorf("replica %d: %d 'licence expired' log lines, want 1:\n%s", i, n, logs[i])
		}
		if n := strings.Count(logs[i].String(), "licence not reloaded"); n != 1 {
			t.Errorf("replica %d: %d 'licence not reloaded' log lines for one persistent error, want 1:\n%s", i, n, logs[i])
		}
	}

	// The operator renews: each replica picks the new licence up within the reload interval.
	reloadMu.Lock()
	reloadLic, reloadErr = renewed, nil
	reloadMu.Unlock()
	for _, c := range clocks {
		c.Set(expiry.Add(2 * time.Minute))
	}
	check("after renewal", true)
	for i := range replicas {
		if !strings.Contains(logs[i].String(), "licence reloaded") {
			t.Errorf("replica %d: no 'licence reloaded' log line:\n%s", i, logs[i])
		}
	}
}

// TestLicenceExpiryLoggedWhenIdle: a replica that no request reaches still logs
// the expiry within seconds of it.
func TestLicenceExpiryLoggedWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &lockedBuffer{}
		s := server.New(server.Config{Now: time.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			License: license.License{Plan: license.Enterprise, ValidUntil: time.Now().Add(time.Minute)}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.WatchLicence(ctx); close(done) }()
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if strings.Contains(logs.String(), "licence expired") {
			t.Fatalf("expiry logged before it: %s", logs)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := strings.Count(logs.String(), "licence expired: running on the free plan"); n != 1 {
			t.Errorf("%d 'licence expired' log lines ten seconds after expiry, want 1: %s", n, logs)
		}
		cancel()
		<-done
	})
}
