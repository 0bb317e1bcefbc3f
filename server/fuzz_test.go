package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	pathpkg "path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// The fuzz targets here drive the whole API in-process (server.New(...).ServeHTTP on a real
// SQLite store): every route's path parser and JSON body decoder gets random input, as
// any of several callers. Whatever arrives, the server must not panic or fail (no 5xx),
// and every answer that is not a success must be PostHog's error shape with a 4xx status.

// fuzzWorld is one organization for the fuzzers to poke at: an owner, a member, a
// view-only member, one object of each kind, a role with a member, a role grant, an
// organization default, a pending invite. A successful delete may have destroyed any of
// it, so the world is rebuilt, in the same database, after each one.
type fuzzWorld struct {
	h      *server.Server
	routes []string
	logs   *lockedBuffer
	gen    int
	// tb is failed when an answer does not match /api/schema: the fuzz
	// targets set it to each input's t.
	tb testing.TB

	tokens  [6]string // by fuzzCaller
	orgID   string
	project string
	values  map[string]string // valid values for path placeholders, by pattern context
}

// The callers the fuzzers speak as.
const (
	fuzzAnonymous = iota
	fuzzUnknownKey
	fuzzBadHeader // an Authorization header that is not a Bearer personal API key
	fuzzMember
	fuzzViewer
	fuzzOwner
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newFuzzWorld(tb testing.TB) *fuzzWorld {
	tb.Helper()
	return newFuzzWorldOn(tb, sqltest.Open(tb, "sqlite"))
}

// newFuzzWorldOn builds the world on store.
func newFuzzWorldOn(tb testing.TB, store gatehouse.Store) *fuzzWorld {
	tb.Helper()
	logs := &lockedBuffer{}
	h := server.New(server.Config{
		Store: store, Now: time.Now, Plan: license.Enterprise, OpenSignup: true,
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Passwords: testPasswords,
	})
	// SCIM's routes answer a domain's SCIM client, none of these callers, in SCIM's own
	// error bodies: scim_test.go drives them (TestSCIMLimits).
	var routes []string
	for _, p := range h.Routes() {
		if !strings.Contains(p, " /scim/") {
			routes = append(routes, p)
		}
	}
	w := &fuzzWorld{h: h, routes: routes, logs: logs, tb: tb}
	w.build(tb)
	return w
}

// serve sends one request in-process and returns the recorded answer.
func (w *fuzzWorld) serve(method, target, auth string, body []byte) *httptest.ResponseRecorder {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	req := &http.Request{
		Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "gatehouse.test", RemoteAddr: "192.0.2.1:40000",
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
	req = req.WithContext(context.Background())
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	validated(w.tb, w.h).ServeHTTP(rec, req)
	return rec
}

// must sends a setup request and decodes its answer, failing unless the status is want.
func (w *fuzzWorld) must(tb testing.TB, method, target, auth string, body any, want int) (map[string]any, *httptest.ResponseRecorder) {
	tb.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	rec := w.serve(method, target, auth, data)
	if rec.Code != want {
		tb.Fatalf("fuzz world: %s %s = %d %s, want %d", method, target, rec.Code, rec.Body, want)
	}
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out, rec
}

// keyFor turns the session cookie an answer set into a personal API key.
func (w *fuzzWorld) keyFor(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		tb.Fatalf("fuzz world: no session cookie")
	}
	u, _ := url.ParseRequestURI("/api/personal_api_keys")
	r := &http.Request{Method: "POST", URL: u, RequestURI: u.Path, Header: http.Header{}, Host: "gatehouse.test", RemoteAddr: "192.0.2.1:40000",
		Body: io.NopCloser(strings.NewReader(`{"label":"fuzz"}`)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	r = r.WithContext(context.Background())
	r.AddCookie(cookies[0])
	out := httptest.NewRecorder()
	validated(w.tb, w.h).ServeHTTP(out, r)
	var k struct {
		Value string `json:"value"`
	}
	if out.Code != 201 || json.Unmarshal(out.Body.Bytes(), &k) != nil {
		tb.Fatalf("fuzz world: create key = %d %s", out.Code, out.Body)
	}
	return k.Value
}

// build makes a fresh organization with everything the routes name.
func (w *fuzzWorld) build(tb testing.TB) {
	tb.Helper()
	w.gen++
	g := w.gen
	signup, rec := w.must(tb, "POST", "/api/signup", "", map[string]any{
		"email": fmt.Sprintf("owner%d@fuzz.test", g), "password": "correct horse", "first_name": "Owner", "organization_name": "Fuzz"}, 201)
	owner := "Bearer " + w.keyFor(tb, rec)
	w.orgID = signup["organization"].(map[string]any)["id"].(string)
	w.project = fmt.Sprint(int64(signup["team"].(map[string]any)["id"].(float64)))
	org := "/api/organizations/" + w.orgID
	proj := "/api/projects/" + w.project

	join := func(name string) (key, uuid string) {
		inv, _ := w.must(tb, "POST", org+"/invites", owner, map[string]any{"target_email": fmt.Sprintf("%s%d@fuzz.test", name, g)}, 201)
		me, rec := w.must(tb, "POST", "/api/signup/"+inv["id"].(string), "", map[string]any{"first_name": name, "password": "correct horse"}, 201)
		return "Bearer " + w.keyFor(tb, rec), me["uuid"].(string)
	}
	memberKey, memberUUID := join("member")
	viewerKey, viewerUUID := join("viewer")

	levels := map[string]any{}
	for _, k := range kinds {
		levels[k.v1] = 21
	}
	role, _ := w.must(tb, "POST", org+"/roles", owner, map[string]any{"name": "view only"}, 201)
	roleID := role["id"].(string)
	w.must(tb, "PATCH", org+"/roles/"+roleID, owner, map[string]any{"resource_access_levels": levels}, 200)
	rm, _ := w.must(tb, "POST", org+"/roles/"+roleID+"/role_memberships", owner, map[string]any{"user_uuid": viewerUUID}, 201)
	def, _ := w.must(tb, "POST", org+"/resource_access", owner, map[string]any{"resource": "cohorts", "access_level": 37}, 201)
	inv, _ := w.must(tb, "POST", org+"/invites", owner, map[string]any{"target_email": fmt.Sprintf("pending%d@fuzz.test", g)}, 201)
	keys, _ := w.must(tb, "POST", "/api/personal_api_keys", owner, map[string]any{"label": "spare"}, 201)
	dom, _ := w.must(tb, "POST", org+"/domains", owner, map[string]any{"domain": fmt.Sprintf("fuzz%d.test", g)}, 201)

	w.values = map[string]string{
		"org": w.orgID, "project": w.project, "role": roleID, "user": memberUUID, "invite": inv["id"].(string),
		"role_memberships/{id}": rm["id"].(string), "resource_access/{id}": def["id"].(string),
		"invites/{id}": inv["id"].(string), "personal_api_keys/{id}": keys["id"].(string),
		"domains/{id}": dom["id"].(string),
	}
	for ki, k := range kinds {
		obj, _ := w.must(tb, "POST", proj+"/"+k.path, owner, k.body(g*10+ki), 201)
		id := idText(obj["id"])
		w.values[k.path+"/{id}"] = id
		grant, _ := w.must(tb, "POST", proj+"/"+k.path+"/"+id+"/role_access", owner, map[string]any{"role_id": roleID}, 201)
		w.values[k.path+"/{id}/role_access/{grant}"] = grant["id"].(string)
	}
	w.tokens = [6]string{fuzzAnonymous: "", fuzzUnknownKey: "Bearer phx_" + strings.Repeat("0", 43), fuzzBadHeader: "Basic b3duZXI6cGFzc3dvcmQ=",
		fuzzMember: memberKey, fuzzViewer: viewerKey, fuzzOwner: owner}
}

// value returns the valid value of placeholder name at position i of pattern.
func (w *fuzzWorld) value(pattern string, i int, name string) string {
	if name == "grant" {
		// …/{kind}/{id}/role_access/{grant}
		before := pattern[:i]
		parts := strings.Split(strings.TrimSuffix(before, "/role_access/"), "/")
		if len(parts) >= 2 {
			return w.values[parts[len(parts)-2]+"/{id}/role_access/{grant}"]
		}
	}
	if name == "id" {
		parts := strings.Split(strings.TrimSuffix(pattern[:i], "/"), "/")
		return w.values[parts[len(parts)-1]+"/{id}"]
	}
	return w.values[name]
}

// fuzzMethods are the methods the fuzzers pick from when they do not use the route's own.
var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"}

// request turns fuzz input into a method and target: the route's pattern with each
// placeholder replaced by the matching piece of ids ("" keeps the valid value), then suffix.
func (w *fuzzWorld) request(route uint16, method uint8, ids, suffix string) (string, string) {
	pattern := w.routes[int(route)%len(w.routes)]
	m, path, _ := strings.Cut(pattern, " ")
	if method != 0 {
		m = fuzzMethods[int(method)%len(fuzzMethods)]
	}
	pieces := strings.Split(ids, "|")
	var b strings.Builder
	n := 0
	for i := 0; i < len(path); {
		if path[i] != '{' {
			b.WriteByte(path[i])
			i++
			continue
		}
		j := strings.IndexByte(path[i:], '}') + i
		name := strings.TrimSuffix(path[i+1:j], "...")
		v := w.value(path, i, name)
		if n < len(pieces) && pieces[n] != "" {
			v = url.PathEscape(pieces[n])
			if strings.HasPrefix(pieces[n], "raw:") {
				v = pieces[n][4:] // unescaped: may add segments, dots, percent signs
			}
		}
		n++
		b.WriteString(v)
		i = j + 1
	}
	target := strings.ReplaceAll(b.String(), "{$}", "")
	return m, target + suffix
}

// checkAnswer is the fuzzers' oracle.
func (w *fuzzWorld) checkAnswer(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s %q = %d %s\nlog: %s", method, target, rec.Code, rec.Body, w.logs.String())
	}
	u, _ := url.ParseRequestURI(target)
	p := pathpkg.Clean("/" + strings.Trim(u.Path, "/"))
	api := strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/_") || p == "/api" || p == "/metrics"
	if !api || rec.Code < 300 {
		if api && rec.Code != 204 && method != "HEAD" && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q = %d with a body that is not JSON: %q", method, target, rec.Code, rec.Body)
		}
		return
	}
	if rec.Code < 400 {
		t.Fatalf("%s %q = %d (%s), want a 2xx or a 4xx error", method, target, rec.Code, rec.Header().Get("Location"))
	}
	checkErrorShape(t, fmt.Sprintf("%s %q", method, target), rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
}

// checkErrorShape checks one error answer: JSON {type, code, detail, attr} and nothing
// else, strings except attr (a string or null).
func checkErrorShape(t testing.TB, what string, status int, contentType string, body []byte) {
	t.Helper()
	if !strings.HasPrefix(contentType, "application/json") {
		t.Fatalf("%s = %d with Content-Type %q, want application/json: %q", what, status, contentType, body)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s = %d with a body that is not a JSON object: %q", what, status, body)
	}
	if len(e) != 4 {
		t.Fatalf("%s = %d %s, want exactly type, code, detail, attr", what, status, body)
	}
	for _, k := range []string{"type", "code", "detail"} {
		if s, ok := e[k].(string); !ok || s == "" {
			t.Fatalf("%s = %d %s: %q is not a non-empty string", what, status, body, k)
		}
	}
	if a, ok := e["attr"]; !ok || a != nil {
		if _, isString := a.(string); !isString {
			t.Fatalf("%s = %d %s: attr is neither null nor a string", what, status, body)
		}
	}
}

// after rebuilds the world when the last request may have destroyed part of it: a
// successful DELETE, or an invite accepted. Other writes leave it usable (at worst with
// different levels), so the fuzzers keep their speed.
func (w *fuzzWorld) after(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	if rec.Code < 300 && (method == "DELETE" || strings.Contains(target, "/signup/")) {
		w.build(t)
	}
}

// validBody is a body each route accepts, for the seed corpus.
func validBody(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	switch {
	case strings.HasSuffix(path, "/api/signup"):
		return `{"email":"seed@fuzz.test","password":"correct horse","first_name":"Seed","organization_name":"Seed"}`
	case strings.HasSuffix(path, "/api/signup/{invite}"):
		return `{"first_name":"Seed","password":"correct horse"}`
	case strings.HasSuffix(path, "/api/login"):
		return `{"email":"owner1@fuzz.test","password":"correct horse"}`
	case strings.HasSuffix(path, "/users/@me"):
		return `{"first_name":"Seed","set_current_team":1,"set_current_organization":"00000000-0000-0000-0000-000000000000"}`
	case strings.HasSuffix(path, "/personal_api_keys"):
		return `{"label":"seed"}`
	case strings.HasSuffix(path, "/members/{user}"):
		return `{"level":8}`
	case strings.HasSuffix(path, "/invites"):
		return `{"target_email":"seed@fuzz.test","level":1}`
	case strings.HasSuffix(path, "/roles"), strings.HasSuffix(path, "/roles/{role}"):
		return `{"name":"seed","feature_flags_access_level":21,"resource_access_levels":{"cohorts":37,"data management":21}}`
	case strings.HasSuffix(path, "/role_memberships"):
		return `{"user_uuid":"00000000-0000-0000-0000-000000000000"}`
	case strings.Contains(path, "/resource_access"):
		return `{"resource":"feature flags","access_level":21}`
	case strings.HasSuffix(path, "/role_access"):
		return `{"role_id":"00000000-0000-0000-0000-000000000000"}`
	case strings.HasSuffix(path, "/domains"), strings.HasSuffix(path, "/domains/{id}"):
		return `{"domain":"seed.test","jit_provisioning_enabled":true,"sso_enforcement":"","scim_enabled":true}`
	case strings.HasSuffix(path, "/resource_access_controls"):
		return `{"resource":"feature_flag","access_level":"viewer","role":null}`
	case strings.HasSuffix(path, "/access_controls"):
		return `{"access_level":"editor","organization_member":null}`
	case strings.HasSuffix(path, "/access/check"):
		return `{"checks":[{"kind":"feature_flags","id":1,"action":"edit"},{"user_uuid":"x","kind":"experiment","id":"2","action":"view"}]}`
	case strings.HasSuffix(path, "/feature_flags"), strings.HasSuffix(path, "/feature_flags/{id}"):
		return `{"key":"seed-flag","name":"n","filters":{"groups":[{"properties":[],"rollout_percentage":50}]},"active":false,"deleted":false}`
	case strings.HasSuffix(path, "/session_recordings"):
		return `{"id":"seed-rec","distinct_id":"d","recording_duration":12.5,"viewed":true}`
	case strings.HasSuffix(path, "/insights"), strings.HasSuffix(path, "/insights/{id}"):
		return `{"name":"i","query":{"kind":"TrendsQuery"},"dashboards":[1,2],"saved":true}`
	case strings.HasSuffix(path, "/organizations"), strings.HasSuffix(path, "/organizations/{org}"), strings.HasSuffix(path, "/projects"), strings.HasSuffix(path, "/projects/{project}"):
		return `{"name":"seed"}`
	}
	return `{"name":"seed","description":"d","steps":[],"tiles":[],"groups":[],"archived":true}`
}

// fuzzBodies are malformed and awkward bodies every route is seeded with.
var fuzzBodies = []string{
	``, `{`, `[]`, `null`, `"text"`, `42`, `{"name":null}`, `{"name":5,"key":{"a":1}}`, `{"deleted":"yes"}`,
	`{"level":1e309}`, `{"level":-1}`, `{"level":9223372036854775808}`, `{"access_level":21.5}`, `{"id":"../../x"}`,
	`{"name":"\u0000\ud800"}`, `{"checks":[{}]}`, `{"checks":"all"}`, `{"resource_access_levels":{"":0}}`,
	strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300),
	`{"name":"a"} trailing`, `{"name":"` + strings.Repeat("é", 500) + `"}`,
}

// FuzzAPI sends random method, path values, path suffix and body to every route, as
// every kind of caller.
func FuzzAPI(f *testing.F) {
	w := newFuzzWorld(f)
	var posts []int
	for i, p := range w.routes {
		// Each route once with a valid body, as its owner or (one in four) another
		// caller, and one route in four once more with odd ids, queries or methods.
		who := []uint8{fuzzOwner, fuzzOwner, fuzzMember, fuzzViewer, fuzzOwner, uint8(i / 7 % 3)}[i%6]
		f.Add(uint16(i), who, uint8(0), "", "", []byte(validBody(p)))
		switch i % 8 {
		case 0:
			f.Add(uint16(i), uint8(fuzzOwner), uint8(0), "0|-1|x|@current", "", []byte(validBody(p)))
		case 3:
			f.Add(uint16(i), uint8(fuzzMember), uint8(4), "99999999999999999999|raw:..%2f|%00", "/?limit=0&offset=-1", []byte(`{}`))
		case 6:
			f.Add(uint16(i), uint8(fuzzMember), uint8(0), "", "?limit=1000&offset=99999999999999999999&item_id=x&user=y", []byte(validBody(p)))
		}
		if strings.HasPrefix(p, "POST ") || strings.HasPrefix(p, "PATCH ") || strings.HasPrefix(p, "PUT ") {
			posts = append(posts, i)
		}
	}
	for i, body := range fuzzBodies {
		f.Add(uint16(posts[i*7%len(posts)]), uint8(fuzzOwner), uint8(0), "", "", []byte(body))
	}
	f.Fuzz(func(t *testing.T, route uint16, who uint8, method uint8, ids, suffix string, body []byte) {
		m, target := w.request(route, method, ids, suffix)
		if _, err := url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return // not a request line an HTTP server would pass to the handler
		}
		w.tb = t
		rec := w.serve(m, target, w.tokens[int(who)%len(w.tokens)], body)
		w.checkAnswer(t, m, target, rec)
		w.after(t, m, target, rec)
	})
}

// FuzzPath sends random methods and raw paths (and queries): unknown routes, odd ids, dot
// segments, escapes, trailing slashes. Under /api and /_ every answer must be JSON.
func FuzzPath(f *testing.F) {
	w := newFuzzWorld(f)
	seeds := []string{
		"/", "/api", "/api/", "//", "/api//organizations", "/api/organizations/@current/", "/api/organizations/" + w.orgID + "/roles/x",
		"/api/projects/" + w.project + "/feature_flags/" + w.values["feature_flags/{id}"] + "/role_access/zzz",
		"/api/projects/-1/feature_flags", "/api/projects/0/cohorts/0", "/api/projects/1e3/insights", "/api/projects/0x10/actions",
		"/api/projects/@current/unicorns", "/api/projects/@current/feature_flags/1/../2", "/api/projects/@current/session_recordings/%2e%2e",
		"/api/projects/99999999999999999999999/dashboards", "/api/projects/@current/experiments/9223372036854775807",
		"/api/projects/@current/experiments/-9223372036854775808", "/api/organizations/%00", "/api/users/@me/../@me",
		"/_health/", "/_ready?x=%zz", "/api/projects/@current/feature_flags?limit=1000000&offset=99999999999999999999",
		"/api/projects/@current/activity_log?user=nope&item_id=%00", "/api/organizations/@current/activity_log?limit=-5",
		"/metrics/", "/api/schema", "/api/projects/@current/access/check/", "/api/projects/@current/./feature_flags",
	}
	for _, s := range seeds {
		for _, m := range []uint8{0, 1, 4} {
			f.Add(m, uint8(fuzzOwner), s, []byte(nil))
		}
		f.Add(uint8(2), uint8(fuzzMember), s, []byte(`{"name":"x"}`))
	}
	f.Fuzz(func(t *testing.T, method, who uint8, target string, body []byte) {
		if _, err := url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		w.tb = t
		rec := w.serve(m, target, w.tokens[int(who)%len(w.tokens)], body)
		w.checkAnswer(t, m, target, rec)
		w.after(t, m, target, rec)
	})
}
