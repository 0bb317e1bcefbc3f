package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/ui"
)

// logLines collects a server's JSON log lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns the request lines logged since the last take. A request's
// line is written after its answer, so take waits a moment for one to come.
func (l *logLines) take(t *testing.T) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		n := l.buf.Len()
		l.mu.Unlock()
		if n > 0 {
			break
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	l.buf.Reset()
	return out
}

// sessionCounter counts the store's session lookups.
type sessionCounter struct {
	gatehouse.Store
	lookups atomic.Int64
}

func (s *sessionCounter) SessionUser(ctx context.Context, tokenHash string, now time.Time) (*gatehouse.User, error) {
	s.lookups.Add(1)
	return s.Store.SessionUser(ctx, tokenHash, now)
}

// pagesEnv is a server with its pages whose log and session lookups a test reads.
type pagesEnv struct {
	api   *server.Server
	srv   *httptest.Server
	logs  *logLines
	store *sessionCounter
}

func newPagesEnv(t *testing.T) *pagesEnv {
	t.Helper()
	e := &pagesEnv{logs: &logLines{}, store: &sessionCounter{Store: sqltest.Open(t, "sqlite")}}
	// The checker reads /api/schema through the first server of the package it
	// checks, logged and counted there: let that be another, so that this server's
	// log and metrics hold the test's requests alone whichever test runs first.
	if _, err := apiRouter(server.New(testConfig(e.store, license.Enterprise))); err != nil {
		t.Fatalf("/api/schema: %v", err)
	}
	e.api = server.New(server.Config{
		Store: e.store, Now: time.Now, Plan: license.Enterprise,
		Logger:    slog.New(slog.NewJSONHandler(e.logs, nil)),
		Passwords: server.Passwords{Memory: 64, Time: 1, Threads: 1},
		Pages:     withPages(ui.Config{}),
	})
	e.srv = httptest.NewServer(validated(t, e.api))
	t.Cleanup(e.srv.Close)
	return e
}

// signUp makes the instance's first account through the signup page and
// returns its browser.
func (e *pagesEnv) signUp(t *testing.T) *browserClient {
	t.Helper()
	c := newBrowserClient(t, e.srv.URL)
	form := url.Values{"email": {"owner@example.com"}, "password": {"correct horse"}, "first_name": {"Olive"}, "organization_name": {"Acme"}}
	if p := c.post("/signup", form); p.status != http.StatusSeeOther {
		t.Fatalf("POST /signup = %d %s", p.status, p.body)
	}
	e.logs.take(t)
	return c
}

// session is the browser's session cookie.
func (c *browserClient) session(t *testing.T) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			return ck
		}
	}
	t.Fatal("the browser has no session cookie")
	return nil
}

// TestPageIsOneRequest: a page is logged and counted once, under its own
// route and status, whatever API calls it makes in-process; those are not
// requests and appear nowhere. Unknown paths are logged and counted too.
func TestPageIsOneRequest(t *testing.T) {
	e := newPagesEnv(t)

	anon := newBrowserClient(t, e.srv.URL)
	if p := anon.get("/login"); p.status != http.StatusOK {
		t.Fatalf("GET /login = %d, want 200", p.status)
	}
	lines := e.logs.take(t)
	if len(lines) != 1 || lines[0]["route"] != "/login" || lines[0]["status"] != float64(200) || lines[0]["user_id"] != nil {
		t.Fatalf("anonymous GET /login logged %v, want one line: route /login, status 200, no user", lines)
	}

	c := e.signUp(t)
	for _, tc := range []struct {
		path, route string
	}{
		{"/organizations/@current/members", "/organizations/{org}/members"},
		{"/organizations/@current/access", "/organizations/{org}/access"},
	} {
		before := e.store.lookups.Load()
		res, err := c.hc.Get(e.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", tc.path, res.StatusCode)
		}
		lines := e.logs.take(t)
		if len(lines) != 1 {
			t.Fatalf("GET %s logged %d request lines, want 1: %v", tc.path, len(lines), lines)
		}
		l := lines[0]
		if l["route"] != tc.route || l["status"] != float64(200) || l["method"] != "GET" {
			t.Errorf("GET %s logged %v, want route %s, status 200", tc.path, l, tc.route)
		}
		if id := res.Header.Get("X-Request-Id"); id == "" || l["request_id"] != id {
			t.Errorf("GET %s logged request id %v, answered X-Request-Id %q: want the same one", tc.path, l["request_id"], id)
		}
		if l["user_id"] == nil {
			t.Errorf("GET %s logged no user: %v", tc.path, l)
		}
		if n := e.store.lookups.Load() - before; n != 1 {
			t.Errorf("GET %s looked the session up %d times, want once", tc.path, n)
		}
	}

	anon.get("/nowhere")
	if lines := e.logs.take(t); len(lines) != 1 || lines[0]["route"] != "unmatched" || lines[0]["status"] != float64(404) {
		t.Errorf("GET /nowhere logged %v, want one line: route unmatched, status 404", lines)
	}

	metrics := rawDoText(t, e.srv.URL+"/metrics")
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="/login"} 1`,
		`gatehouse_http_requests_total{code="200",route="/organizations/{org}/members"} 1`,
		`gatehouse_http_requests_total{code="404",route="unmatched"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "gatehouse_http_request") && strings.Contains(line, `route="/api/`) {
			t.Errorf("/metrics counts an in-process call as a request: %s", line)
		}
	}
}

// TestInProcessCallerUnforgeable: only a page's own Authenticate makes an
// in-process caller. Nothing an outside request sends passes for one, a page
// knows its user by the session cookie alone, and an in-process write needs a
// form post that passes the API's own cross-origin check.
func TestInProcessCallerUnforgeable(t *testing.T) {
	e := newPagesEnv(t)
	c := e.signUp(t)
	session := c.session(t)
	orgID := func() string {
		me := rawDo(t, &http.Client{Jar: c.hc.Jar}, e.srv.URL, "GET", "/api/users/@me", nil, nil)
		return me.str("organization.id")
	}()
	roles := func() int {
		hc := &http.Client{Jar: c.hc.Jar}
		return int(rawDo(t, hc, e.srv.URL, "GET", "/api/organizations/"+orgID+"/roles", nil, nil).num("count"))
	}

	// Headers that name, or look like, a caller inside the process.
	for _, h := range []http.Header{
		{"X-Gatehouse-Caller": {"1"}},
		{"X-Gatehouse-User": {"owner@example.com"}},
		{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}},
		{"Sec-Fetch-Site": {"same-origin"}, "Origin": {e.srv.URL}, "Referer": {e.srv.URL + "/organizations/" + orgID + "/members"}},
		{"Cookie": {"gatehouse_session=" + strings.Repeat("A", len(session.Value))}},
		{"Authorization": {"Session " + session.Value}},
		{"Authorization": {"Bearer " + session.Value}},
	} {
		r := rawDo(t, http.DefaultClient, e.srv.URL, "GET", "/api/users/@me", nil, h)
		if r.status != http.StatusUnauthorized {
			t.Errorf("GET /api/users/@me with %v = %d %s, want 401", h, r.status, r.raw)
		}
	}

	// A page knows its user by the session cookie alone: an API key is no
	// browser's, and does not sign a page in.
	key := rawDo(t, &http.Client{Jar: c.hc.Jar}, e.srv.URL, "POST", "/api/personal_api_keys", map[string]any{"label": "k"}, nil).str("value")
	if key == "" {
		t.Fatal("no API key")
	}
	keyOnly := newBrowserClient(t, e.srv.URL)
	if p := keyOnly.send("GET", "/projects", nil, http.Header{"Authorization": {"Bearer " + key}}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("a page with an API key and no cookie = %d → %q, want 303 → /login", p.status, p.location)
	}

	page := func(method string, h http.Header) *http.Request {
		r := httptest.NewRequest(method, e.srv.URL+"/organizations/"+orgID+"/roles", nil)
		r.AddCookie(session)
		for k, v := range h {
			r.Header[k] = v
		}
		return r
	}
	call := func(ctx context.Context, p *http.Request, method, target string, body string) int {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		res, err := e.api.Do(ctx, p, method, target, b)
		if err != nil {
			t.Fatalf("Do(%s %s): %v", method, target, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	rolesPath := "/api/organizations/" + orgID + "/roles"
	sameSite := http.Header{"Origin": {e.srv.URL}, "Sec-Fetch-Site": {"same-origin"}}
	e.logs.take(t)

	// A context that did not come from Authenticate is nobody's, whatever
	// it carries.
	type callerKey struct{}
	forged := context.WithValue(context.Background(), callerKey{}, "owner@example.com")
	if st := call(forged, page("GET", nil), "GET", "/api/users/@me", ""); st != http.StatusUnauthorized {
		t.Errorf("Do with a context not from Authenticate = %d, want 401", st)
	}
	if err := e.api.Allowed(forged, "POST", rolesPath); gatehouse.ErrorCode(err) != gatehouse.ENotAuthenticated {
		t.Errorf("Allowed with a context not from Authenticate = %v, want not_authenticated", err)
	}

	// A page that is not a form post changes nothing, even same-site.
	get, _, err := e.api.Authenticate(page("GET", sameSite))
	if err != nil {
		t.Fatal(err)
	}
	if st := call(get, page("GET", sameSite), "GET", "/api/users/@me", ""); st != http.StatusOK {
		t.Fatalf("Do(GET @me) for a signed-in page = %d, want 200", st)
	}
	if st := call(get, page("GET", sameSite), "POST", rolesPath, `{"name":"from a link"}`); st != http.StatusForbidden {
		t.Errorf("a write for a GET page = %d, want 403", st)
	}
	// A question is no write: the pages ask access/check while rendering.
	check := "/api/projects/@current/access/check"
	if st := call(get, page("GET", sameSite), "POST", check, `{"checks":[{"kind":"feature_flags","id":1,"action":"edit"}]}`); st != http.StatusOK {
		t.Errorf("access/check for a GET page = %d, want 200", st)
	}

	// The API checks an in-process write's origin itself, on the browser's
	// own fetch metadata, even if a page forgot to.
	cross := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	post, _, err := e.api.Authenticate(page("POST", cross))
	if err != nil {
		t.Fatal(err)
	}
	if st := call(post, page("POST", cross), "POST", rolesPath, `{"name":"cross-site"}`); st != http.StatusForbidden {
		t.Errorf("an in-process write for a cross-site post = %d, want 403", st)
	}
	if lines := e.logs.take(t); len(lines) != 0 {
		t.Errorf("in-process calls were logged as requests: %v", lines)
	}
	if n := roles(); n != 0 {
		t.Fatalf("refused in-process writes created %d roles", n)
	}
	post, _, err = e.api.Authenticate(page("POST", sameSite))
	if err != nil {
		t.Fatal(err)
	}
	if st := call(post, page("POST", sameSite), "POST", rolesPath, `{"name":"same-site"}`); st != http.StatusCreated {
		t.Errorf("an in-process write for a same-site post = %d, want 201", st)
	}
	if n := roles(); n != 1 {
		t.Errorf("roles after one accepted in-process write = %d, want 1", n)
	}
}

// TestSchemaKinds: /api/schema documents each kind's fields, which the
// pages build their forms from, and every kind's create and update send it.
func TestSchemaKinds(t *testing.T) {
	e := newPagesEnv(t)
	res, err := http.Get(e.srv.URL + "/api/schema")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string                  `json:"required"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	flag := doc.Components.Schemas["FeatureFlag"]
	if len(flag.Required) != 1 || flag.Required[0] != "key" || flag.Properties["key"]["maxLength"] != float64(400) || flag.Properties["active"]["type"] != "boolean" {
		t.Errorf("FeatureFlag schema = %+v, want key required (≤ 400) and active a boolean", flag)
	}
	if id := doc.Components.Schemas["SessionRecording"].Properties["id"]; id["type"] != "string" || id["readOnly"] != nil {
		t.Errorf("SessionRecording id = %v, want a string the client may set", id)
	}
	if sid := doc.Components.Schemas["Insight"].Properties["short_id"]; sid["readOnly"] != true {
		t.Errorf("Insight short_id = %v, want read-only", sid)
	}
	for _, op := range []struct{ path, method string }{
		{"/api/projects/{project}/feature_flags", "post"},
		{"/api/projects/{project}/feature_flags/{id}", "patch"},
		{"/api/projects/{project}/dashboards/{id}", "put"},
	} {
		if !strings.Contains(string(doc.Paths[op.path][op.method]), `"$ref":"#/components/schemas/`) {
			t.Errorf("%s %s does not reference its kind's schema: %s", op.method, op.path, doc.Paths[op.path][op.method])
		}
	}
}

// TestLogoutPageEndsSession: the logout page ends the session itself, not
// only the browser's cookie, although its API call carries no cookie.
func TestLogoutPageEndsSession(t *testing.T) {
	e := newPagesEnv(t)
	c := e.signUp(t)
	session := c.session(t)
	if p := c.post("/logout", url.Values{}); p.status != http.StatusSeeOther || p.location != "/login" {
		t.Fatalf("POST /logout = %d → %q, want 303 → /login", p.status, p.location)
	}
	r := rawDo(t, http.DefaultClient, e.srv.URL, "GET", "/api/users/@me", nil, http.Header{"Cookie": {session.String()}})
	if r.status != http.StatusUnauthorized {
		t.Errorf("the session after the logout page = %d, want 401", r.status)
	}
}
