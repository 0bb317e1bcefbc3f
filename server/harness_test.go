package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/ui"
)

// dialects are the storage engines every API test runs on.
var dialects = []string{"sqlite", "postgres"}

// env is one Gatehouse server on a fresh database, with its owner signed up.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	owner *client
	orgID string
	proj  int64
	seq   atomic.Int64
}

// on returns a view of e whose requests go to another server (a replica).
func (e *env) on(srv *httptest.Server) *env {
	cp := &env{t: e.t, srv: srv, orgID: e.orgID, proj: e.proj}
	owner := *e.owner
	owner.env = cp
	cp.owner = &owner
	return cp
}

// as returns c speaking to e's server.
func (c *client) as(e *env) *client {
	cp := *c
	cp.env = e
	return &cp
}

// client is one signed-in user, speaking with a personal API key.
type client struct {
	env   *env
	token string
	id    int64
	uuid  string
	email string
}

// forEachDialect runs f as a subtest on every storage engine.
func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

func newEnv(t testing.TB, dialect string, plan license.Plan) *env {
	t.Helper()
	return newEnvOn(t, sqltest.Open(t, dialect), plan)
}

// testPasswords are argon2 parameters for tests: production strength would dominate test
// time, and the parameters are the only thing that differs.
var testPasswords = server.Passwords{Memory: 64, Time: 1, Threads: 1}

// testConfig is the configuration of the servers tests start on db: the plan, the clock,
// test passwords, and the web pages composed as cmd/gatehouse composes them.
func testConfig(db gatehouse.Store, plan license.Plan) server.Config {
	return server.Config{Store: db, Now: time.Now, Plan: plan, Passwords: testPasswords, Pages: withPages(ui.Config{})}
}

// newServer starts a Gatehouse server on db, its connections as gatehouse serve's.
func newServer(t testing.TB, db gatehouse.Store, plan license.Plan) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(validated(t, server.New(testConfig(db, plan)))) // every request and answer checked against /api/schema
	srv.Listener = server.GatheringListener(srv.Listener)
	srv.Config.ConnContext = server.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// withPages composes the web UI into a server, as cmd/gatehouse does.
func withPages(cfg ui.Config) func(*server.Server) server.Pages {
	return func(api *server.Server) server.Pages { return ui.New(api, cfg) }
}

// newEnvOn starts a server on db and signs up its owner.
func newEnvOn(t testing.TB, db gatehouse.Store, plan license.Plan) *env {
	t.Helper()
	return newEnvFor(t, newServer(t, db, plan))
}

// newEnvFor signs the owner up on a running server.
func newEnvFor(t testing.TB, srv *httptest.Server) *env {
	t.Helper()
	e := &env{t: t, srv: srv}
	hc := jarClient()
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

// jarClient is an HTTP client that keeps cookies, as a browser does.
func jarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// keyClient turns a cookie session into an API-key client.
func (e *env) keyClient(hc *http.Client, email string) *client {
	e.t.Helper()
	me := rawDo(e.t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
	if me.status != 200 {
		e.t.Fatalf("GET @me = %d %s", me.status, me.raw)
	}
	k := rawDo(e.t, hc, e.srv.URL, "POST", "/api/personal_api_keys", map[string]any{"label": "tests"}, nil)
	if k.status != http.StatusCreated {
		e.t.Fatalf("create key = %d %s", k.status, k.raw)
	}
	return &client{env: e, token: k.str("value"), id: int64(me.num("id")), uuid: me.str("uuid"), email: email}
}

// member invites a new user at level and signs them up through the invite.
func (e *env) member(level int) *client {
	e.t.Helper()
	n := e.seq.Add(1)
	email := fmt.Sprintf("user%d@example.com", n)
	inv := e.owner.must("POST", "/api/organizations/"+e.orgID+"/invites", map[string]any{"target_email": email, "level": level}, 201)
	hc := jarClient()
	res := rawDo(e.t, hc, e.srv.URL, "POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": fmt.Sprintf("User%d", n), "password": "correct horse"}, nil)
	if res.status != http.StatusCreated {
		e.t.Fatalf("accept invite = %d %s", res.status, res.raw)
	}
	return e.keyClient(hc, email)
}

// result is a decoded answer.
type result struct {
	t      testing.TB
	status int
	raw    string
	body   any
	header http.Header
}

// rawDo sends a request through hc and decodes the answer, which must be JSON when it has
// a body.
func rawDo(t testing.TB, hc *http.Client, base, method, path string, body any, header http.Header) *result {
	t.Helper()
	return roundTrip(t, hc, base, method, path, body, header, true)
}

// roundTrip sends a request with body (a string or bytes as they are, anything else as
// JSON). It decodes the answer when it has a body and is JSON or onlyJSON says it must be:
// a body that does not decode fails the test.
func roundTrip(t testing.TB, hc *http.Client, base, method, path string, body any, header http.Header, onlyJSON bool) *result {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := &result{t: t, status: resp.StatusCode, raw: string(data), header: resp.Header}
	if len(data) > 0 && (onlyJSON || strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")) {
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, data)
		}
	}
	return r
}

func (c *client) do(method, path string, body any) *result {
	c.env.t.Helper()
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	return rawDo(c.env.t, http.DefaultClient, c.env.srv.URL, method, path, body, h)
}

// must does the request and fails the test unless the status is want.
func (c *client) must(method, path string, body any, want int) *result {
	c.env.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.env.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.raw, want)
	}
	return r
}

// get walks a dotted path ("results.0.key") into the body.
func (r *result) get(path string) any {
	var cur any = r.body
	if path == "" {
		return cur
	}
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[part]
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	return cur
}

func (r *result) str(path string) string {
	s, _ := r.get(path).(string)
	return s
}

func (r *result) num(path string) float64 {
	n, _ := r.get(path).(float64)
	return n
}

func (r *result) list(path string) []any {
	l, _ := r.get(path).([]any)
	return l
}

// wantError checks a PostHog-shaped error answer.
func (r *result) wantError(status int, typ, code, attr string) {
	r.t.Helper()
	if r.status != status || r.str("type") != typ || r.str("code") != code {
		r.t.Fatalf("answer = %d %s, want %d type %q code %q", r.status, r.raw, status, typ, code)
	}
	gotAttr, _ := r.get("attr").(string)
	if gotAttr != attr {
		r.t.Fatalf("attr = %q (%s), want %q", gotAttr, r.raw, attr)
	}
	if _, ok := r.get("detail").(string); !ok {
		r.t.Fatalf("error without detail: %s", r.raw)
	}
}

func (e *env) projPath(rest string) string {
	return fmt.Sprintf("/api/projects/%d%s", e.proj, rest)
}

func (e *env) orgPath(rest string) string {
	return "/api/organizations/" + e.orgID + rest
}

// replicaStores opens the stores of two replicas on one fresh database: on PostgreSQL a
// store each, as two processes would have; on SQLite, whose file one process holds, the
// one store twice.
func replicaStores(t testing.TB, dialect string) [2]*sqlstore.DB {
	t.Helper()
	url := sqltest.NewDatabaseURL(t, dialect)
	var out [2]*sqlstore.DB
	for i := range out {
		if i > 0 && dialect != sqlstore.Postgres {
			out[i] = out[0]
			continue
		}
		db, err := sqlstore.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[i] = db
	}
	return out
}
