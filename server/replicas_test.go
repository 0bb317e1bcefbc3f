package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestReplicas runs three servers on one PostgreSQL database: a rule changed
// through one reaches the others' decisions through its change notice, and
// the revision headers give read-your-writes on any replica at once. (A
// SQLite file has one server: sqlstore's TestSQLiteOneProcess.)
func TestReplicas(t *testing.T) {
	sqltest.PostgresURL(t)
	func(t *testing.T, dialect string) {
		url := sqltest.NewDatabaseURL(t, dialect)
		var stores []*sqlstore.DB
		for range 3 {
			db, err := sqlstore.Open(context.Background(), url, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			stores = append(stores, db)
		}
		a := newEnvOn(t, stores[0], license.Enterprise)
		b, c := a.on(newWatchingServer(t, stores[1])), a.on(newWatchingServer(t, stores[2]))
		if dialect == "postgres" {
			waitForListeners(t, url, len(stores)) // every store listens, for its cache
		}
		m := a.member(1)
		flag := a.owner.create(0)
		// Warm every replica's snapshot before the change.
		for _, e := range []*env{b, c} {
			if got := m.as(e).must("GET", flag, nil, 200).get("can_edit"); got != true {
				t.Fatalf("before the change can_edit = %v, want true", got)
			}
		}
		w := a.owner.must("POST", a.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		acked := time.Now()
		// The change notice reaches B's and C's decisions: their caches hold the
		// old revision until the notice drops it.
		for name, e := range map[string]*env{"b": b, "c": c} {
			for m.as(e).must("GET", flag, nil, 200).get("can_edit") != false {
				if time.Since(acked) > 10*time.Second {
					t.Fatalf("replica %s never decided on the new rule", name)
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("replica %s decided on the new rule %v after the write was acknowledged", name, time.Since(acked))
		}
		rev, err := strconv.ParseInt(w.header.Get("X-Gatehouse-Revision"), 10, 64)
		if err != nil || rev < 1 {
			t.Fatalf("X-Gatehouse-Revision = %q, want the new revision", w.header.Get("X-Gatehouse-Revision"))
		}
		for name, e := range map[string]*env{"b": b, "c": c} {
			r := m.as(e).do("PATCH", flag, map[string]any{"name": "x"})
			if r.status != 403 {
				t.Fatalf("replica %s: an edit after the change = %d, want 403", name, r.status)
			}
			got := m.as(e).must("GET", flag, map[string]any(nil), 200)
			if seen, _ := strconv.ParseInt(got.header.Get("X-Gatehouse-Revision"), 10, 64); seen < rev {
				t.Fatalf("replica %s decided on revision %d, older than the write's %d", name, seen, rev)
			}
		}
		if dialect == "postgres" {
			// Cut the listeners' connections (waiting for their backends to end, so
			// that the count below is of new ones): they reconnect, and changes made
			// after that are noticed again.
			conn, err := pgx.Connect(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
				WHERE query LIKE 'LISTEN gatehouse_changes%' AND datname = current_database()`); err != nil {
				t.Fatal(err)
			}
			conn.Close(context.Background())
			waitForListeners(t, url, len(stores))
			// B trusts its cache again once its listener is back: a change made
			// now reaches B's decisions only through its notice.
			cohort := a.owner.create(2) // a cohort
			if got := m.as(b).must("GET", cohort, nil, 200).get("can_edit"); got != true {
				t.Fatalf("before the cohort change can_edit = %v, want true", got)
			}
			a.owner.must("POST", a.orgPath("/resource_access"), map[string]any{"resource": "cohorts", "access_level": 21}, 201)
			for start := time.Now(); m.as(b).must("GET", cohort, nil, 200).get("can_edit") != false; time.Sleep(time.Millisecond) {
				if time.Since(start) > 10*time.Second {
					t.Fatal("after reconnecting, replica b missed a change notice")
				}
			}
		}
		// A client that saw a revision asks for at least that one.
		r := rawDo(t, http.DefaultClient, c.srv.URL, "GET", flag, nil, map[string][]string{
			"Authorization": {"Bearer " + m.token}, "X-Gatehouse-Min-Revision": {strconv.FormatInt(rev, 10)}})
		if r.status != 200 || r.get("can_edit") != false {
			t.Fatalf("with min revision: %d %s", r.status, r.raw)
		}
	}(t, "postgres")
}

// TestOperations covers /_health, /_ready, /metrics and request ids.
func TestOperations(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	anon := &client{env: e}
	anon.must("GET", "/_health", nil, 200)
	anon.must("GET", "/_ready", nil, 200)
	e.owner.create(0)
	r := e.owner.must("GET", e.projPath("/feature_flags"), nil, 200)
	if len(r.header.Get("X-Request-Id")) < 8 {
		t.Errorf("X-Request-Id = %q", r.header.Get("X-Request-Id"))
	}
	// Routes answered with several statuses, counted apart; their latency once a request
	// whatever the status or method (the create above is the fourth on the list's path).
	for range 2 {
		e.owner.must("GET", e.projPath("/feature_flags"), nil, 200)
		e.owner.must("GET", e.projPath("/feature_flags/909090"), nil, 404)
	}
	e.owner.must("GET", e.projPath("/feature_flags/909091"), nil, 404)
	resp := rawDoText(t, e.srv.URL+"/metrics")
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="/api/projects/{project}/feature_flags"} 3` + "\n",
		`gatehouse_http_requests_total{code="201",route="/api/projects/{project}/feature_flags"} 1` + "\n",
		`gatehouse_http_request_duration_seconds_count{route="/api/projects/{project}/feature_flags"} 4` + "\n",
		`gatehouse_http_requests_total{code="404",route="/api/projects/{project}/feature_flags/{id}"} 3` + "\n",
		`gatehouse_http_request_duration_seconds_count{route="/api/projects/{project}/feature_flags/{id}"} 3` + "\n",
		`gatehouse_http_request_duration_seconds_bucket{route="/api/projects/{project}/feature_flags"`,
		`gatehouse_snapshot_rebuilds_total`,
		`gatehouse_access_decisions_total{kind="feature_flags",result="allowed"}`,
		`gatehouse_db_connections_open`,
		`gatehouse_cache_live 1`,
	} {
		if !strings.Contains(resp, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsToken: with a metrics token, /metrics answers the scraper that
// sends it and nobody else.
func TestMetricsToken(t *testing.T) {
	h := server.New(server.Config{Store: sqltest.Open(t, "sqlite"), MetricsToken: "scrape-secret"})
	srv := httptest.NewServer(validated(t, h))
	t.Cleanup(srv.Close)
	for _, auth := range []string{"", "Bearer wrong", "Basic scrape-secret", "Bearer scrape-secret-and-more"} {
		r := rawDo(t, http.DefaultClient, srv.URL, "GET", "/metrics", nil, map[string][]string{"Authorization": {auth}})
		r.wantError(401, "authentication_error", "not_authenticated", "")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("refused /metrics (%q) without WWW-Authenticate", auth)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `gatehouse_http_requests_total{code="401",route="/metrics"} 4`) {
		t.Errorf("/metrics with the token = %d, want the metrics with the four refusals", resp.StatusCode)
	}
}

func rawDoText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// newWatchingServer is newServer with the replica watching rule changes.
func newWatchingServer(t *testing.T, db *sqlstore.DB) *httptest.Server {
	h := server.New(testConfig(db, license.Enterprise))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.WatchRules(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(validated(t, h))
	t.Cleanup(srv.Close)
	return srv
}

// waitForListeners waits until n connections LISTEN for rule changes.
func waitForListeners(t testing.TB, url string, n int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; {
		var got int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN gatehouse_changes%' AND datname = current_database()`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas listening for rule changes, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSchema: /api/schema documents every API route the router serves.
func TestSchema(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	doc := (&client{env: e}).must("GET", "/api/schema", nil, 200)
	if doc.str("openapi") != "3.0.3" {
		t.Fatalf("openapi = %q", doc.str("openapi"))
	}
	paths := doc.get("paths").(map[string]any)
	for _, route := range server.New(server.Config{Store: sqltest.Open(t, "sqlite")}).Routes() {
		method, path, _ := strings.Cut(route, " ")
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		item, ok := paths[path].(map[string]any)
		if !ok || item[strings.ToLower(method)] == nil {
			t.Errorf("/api/schema lacks %s", route)
		}
	}
	if doc.get("paths./api/organizations/{org}/roles.post.responses.402") == nil {
		t.Error("licensed writes should document 402")
	}
}
