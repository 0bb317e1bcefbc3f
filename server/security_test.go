package server_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
)

// dumpDatabase returns everything the database holds as text, to search for secrets.
func dumpDatabase(t testing.TB, raw *sql.DB) string {
	t.Helper()
	var queries []string
	for _, table := range []string{"organizations", "projects", "users", "sessions", "api_keys", "memberships", "invites", "resources", "roles", "role_memberships", "access_rules", "activity_log"} {
		queries = append(queries, "SELECT * FROM "+table)
	}
	return dumpRows(t, raw, queries)
}

// secureServer is a server on a database the test can read, with cfg's options.
func secureServer(t *testing.T, dialect string, cfg server.Config) (*httptest.Server, *sql.DB) {
	t.Helper()
	store, raw := openRaw(t, dialect)
	cfg.Store = store
	if cfg.Plan == "" {
		cfg.Plan = license.Enterprise
	}
	srv := httptest.NewServer(validated(t, server.New(cfg)))
	t.Cleanup(srv.Close)
	return srv, raw
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sessionCookie returns the session cookie an answer set.
func sessionCookie(t testing.TB, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "gatehouse_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %q", h.Values("Set-Cookie"))
	return nil
}

var argon2idHash = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

// TestPasswordsStoredAsArgon2id: with the default (production) parameters, a password is
// stored as an argon2id PHC string (64 MiB, 1 pass, 2 lanes, 16-byte salt, 32-byte key),
// salted per user, and the password itself appears nowhere in the database.
func TestPasswordsStoredAsArgon2id(t *testing.T) {
	t.Parallel()
	srv, raw := secureServer(t, "sqlite", server.Config{}) // zero Passwords: production strength
	const password = "Tr0ub4dor&3-horse-staple"
	hc := jarClient()
	signup := rawDo(t, hc, srv.URL, "POST", "/api/signup", map[string]any{"email": "owner@example.com", "password": password, "first_name": "O"}, nil)
	if signup.status != 201 {
		t.Fatalf("signup = %d %s", signup.status, signup.raw)
	}
	inv := rawDo(t, hc, srv.URL, "POST", "/api/organizations/"+signup.str("organization.id")+"/invites", map[string]any{"target_email": "second@example.com"}, nil)
	if r := rawDo(t, jarClient(), srv.URL, "POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "S", "password": password}, nil); r.status != 201 {
		t.Fatalf("invite signup = %d %s", r.status, r.raw)
	}
	rows, err := raw.Query("SELECT password_hash FROM users ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if len(hashes) != 2 {
		t.Fatalf("%d users, want 2", len(hashes))
	}
	for _, h := range hashes {
		m := argon2idHash.FindStringSubmatch(h)
		if m == nil {
			t.Fatalf("password_hash = %q, want an argon2id PHC string", h)
		}
		if m[1] != "65536" || m[2] != "1" || m[3] != "2" {
			t.Errorf("argon2id parameters m=%s,t=%s,p=%s, want m=65536,t=1,p=2", m[1], m[2], m[3])
		}
	}
	if hashes[0] == hashes[1] || strings.Split(hashes[0], "$")[4] == strings.Split(hashes[1], "$")[4] {
		t.Errorf("two users with one password share a hash or a salt: %q, %q", hashes[0], hashes[1])
	}
	if dump := dumpDatabase(t, raw); strings.Contains(dump, password) {
		t.Errorf("the password is in the database")
	}
	// And it is the hash that logs in.
	if r := rawDo(t, jarClient(), srv.URL, "POST", "/api/login", map[string]any{"email": "second@example.com", "password": password}, nil); r.status != 200 {
		t.Errorf("login = %d %s", r.status, r.raw)
	}
}

// TestPasswordCheck: a login succeeds only with the right password against a well-formed
// argon2id hash; a stored hash that was tampered with, or is of another algorithm, refuses
// every password, and absurd parameters in a stored hash are refused before hashing (a
// row must not make a login allocate gigabytes).
func TestPasswordCheck(t *testing.T) {
	t.Parallel()
	srv, raw := secureServer(t, "sqlite", server.Config{OpenSignup: true, Passwords: testPasswords})
	n := 0
	account := func() (email, hash string) {
		n++
		email = fmt.Sprintf("user%d@example.com", n)
		if r := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/signup", map[string]any{"email": email, "password": "correct horse", "first_name": "U"}, nil); r.status != 201 {
			t.Fatalf("signup = %d %s", r.status, r.raw)
		}
		if err := raw.QueryRow("SELECT password_hash FROM users WHERE email = $1", email).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		return email, hash
	}
	tamper := func(h string, i int, v string) string {
		q := strings.Split(h, "$")
		q[i] = v
		return strings.Join(q, "$")
	}
	tests := []struct {
		name     string
		hash     func(h string) string
		password string
		want     int
	}{
		{"right password", func(h string) string { return h }, "correct horse", 200},
		{"wrong password", func(h string) string { return h }, "correct horsf", 401},
		{"prefix of the password", func(h string) string { return h }, "correct hors", 401},
		{"longer password", func(h string) string { return h }, "correct horse ", 401},
		{"another salt", func(h string) string { return tamper(h, 4, "AAAAAAAAAAAAAAAAAAAAAA") }, "correct horse", 401},
		{"another key", func(h string) string { return tamper(h, 5, strings.Repeat("A", 43)) }, "correct horse", 401},
		{"a shorter key", func(h string) string { return tamper(h, 5, "AAAA") }, "correct horse", 401},
		{"argon2i", func(h string) string { return tamper(h, 1, "argon2i") }, "correct horse", 401},
		{"bcrypt", func(string) string { return "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy" }, "correct horse", 401},
		{"absurd memory", func(h string) string { return tamper(h, 3, "m=4194304,t=1,p=1") }, "correct horse", 401},
		{"absurd passes", func(h string) string { return tamper(h, 3, "m=64,t=1000,p=1") }, "correct horse", 401},
		{"not base64", func(h string) string { return tamper(h, 4, "!!!") }, "correct horse", 401},
		{"no hash at all", func(string) string { return "" }, "correct horse", 401},
		{"garbage", func(string) string { return "argon2id" }, "correct horse", 401},
	}
	for _, tt := range tests {
		email, hash := account()
		if _, err := raw.Exec("UPDATE users SET password_hash = $1 WHERE email = $2", tt.hash(hash), email); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": email, "password": tt.password}, nil)
		if r.status != tt.want {
			t.Errorf("%s: login = %d %s, want %d", tt.name, r.status, r.raw, tt.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: login took %v", tt.name, d)
		}
	}
}

// TestLoginTimingHidesAccounts: a login for an unknown email does the same argon2id work
// as one for a known email with a wrong password (checked against a dummy hash), so the
// answer's timing does not tell which emails have accounts. Both answers are the same 401.
// (Hashes are compared with crypto/subtle's ConstantTimeCompare; API keys and session
// tokens are looked up by their SHA-256, so their comparison reveals nothing either.)
func TestLoginTimingHidesAccounts(t *testing.T) {
	srv, _ := secureServer(t, "sqlite", server.Config{Passwords: server.Passwords{Memory: 32 * 1024, Time: 1, Threads: 1}})
	if r := rawDo(t, jarClient(), srv.URL, "POST", "/api/signup", map[string]any{"email": "known@example.com", "password": "correct horse", "first_name": "K"}, nil); r.status != 201 {
		t.Fatalf("signup = %d", r.status)
	}
	// Alternate the two, so that whatever else the machine is doing weighs on both alike.
	var known, unknown []time.Duration
	var knownBody, unknownBody string
	for i := range 7 {
		for _, email := range []string{"known@example.com", "nobody@example.com"} {
			start := time.Now()
			r := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": email, "password": fmt.Sprintf("wrong password %d", i)}, nil)
			d := time.Since(start)
			r.wantError(401, "authentication_error", "authentication_failed", "")
			if email == "known@example.com" {
				known, knownBody = append(known, d), r.raw
			} else {
				unknown, unknownBody = append(unknown, d), r.raw
			}
		}
	}
	median := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	if knownBody != unknownBody {
		t.Errorf("answers differ: known %s, unknown %s", knownBody, unknownBody)
	}
	k, u := median(known), median(unknown)
	if u < k/2 || k < u/2 {
		t.Errorf("login takes %v for a known email and %v for an unknown one: the difference reveals accounts", k, u)
	}
	t.Logf("median login: known email %v, unknown email %v", k, u)
}

// TestSecretsStoredHashed: a personal API key's value and a session's token appear nowhere
// in the database: only their SHA-256 is kept, with a mask of the key's last four
// characters; the key is shown once and never listed again.
func TestSecretsStoredHashed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		srv, raw := secureServer(t, dialect, server.Config{Passwords: testPasswords})
		hc := jarClient()
		signup := rawDo(t, hc, srv.URL, "POST", "/api/signup", map[string]any{"email": "owner@example.com", "password": "correct horse", "first_name": "O"}, nil)
		token := sessionCookie(t, signup.header).Value
		key := rawDo(t, hc, srv.URL, "POST", "/api/personal_api_keys", map[string]any{"label": "ci"}, nil)
		value := key.str("value")
		if !strings.HasPrefix(value, "phx_") || len(value) < 40 {
			t.Fatalf("key value = %q", value)
		}
		bearer := http.Header{"Authorization": {"Bearer " + value}}
		if r := rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, bearer); r.status != 200 {
			t.Fatalf("bearer = %d", r.status)
		}
		dump := dumpDatabase(t, raw)
		random := strings.TrimPrefix(value, "phx_")
		for name, secret := range map[string]string{"API key": value, "API key's random part": random[:20], "session token": token} {
			if strings.Contains(dump, secret) {
				t.Errorf("the %s is in the database", name)
			}
		}
		var valueHash, mask string
		if err := raw.QueryRow("SELECT value_hash, mask_value FROM api_keys").Scan(&valueHash, &mask); err != nil {
			t.Fatal(err)
		}
		if valueHash != sha256Hex(value) {
			t.Errorf("value_hash = %q, want the key's SHA-256", valueHash)
		}
		if !strings.HasSuffix(mask, value[len(value)-4:]) || strings.Contains(mask, random[:len(random)-4]) {
			t.Errorf("mask_value = %q shows more than the last four characters", mask)
		}
		var tokenHash string
		if err := raw.QueryRow("SELECT token_hash FROM sessions").Scan(&tokenHash); err != nil {
			t.Fatal(err)
		}
		if tokenHash != sha256Hex(token) {
			t.Errorf("token_hash = %q, want the token's SHA-256", tokenHash)
		}
		list := rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/personal_api_keys", nil, bearer)
		if strings.Contains(list.raw, random[:20]) || strings.Contains(list.raw, `"value"`) {
			t.Errorf("key list shows the value: %s", list.raw)
		}
		// A key that differs in one character is refused like any other.
		last := "A"
		if strings.HasSuffix(value, "A") {
			last = "B"
		}
		forged := value[:len(value)-1] + last
		rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, http.Header{"Authorization": {"Bearer " + forged}}).
			wantError(401, "authentication_error", "authentication_failed", "")
	})
}

// TestSessionCookie: the session cookie is HttpOnly, SameSite=Lax, for the whole site,
// Secure when the server is told it is behind HTTPS; logging out clears it and ends the
// session on the server, and a session ends by itself after 14 days.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	for _, secure := range []bool{false, true} {
		srv, _ := secureServer(t, "sqlite", server.Config{Now: clock, SecureCookies: secure, OpenSignup: true, Passwords: testPasswords})
		r := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/signup", map[string]any{"email": "o@example.com", "password": "correct horse", "first_name": "O"}, nil)
		c := sessionCookie(t, r.header)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure {
			t.Errorf("secure=%v: cookie = %q, want HttpOnly, SameSite=Lax, Path=/, Secure=%v", secure, r.header.Get("Set-Cookie"), secure)
		}
		if ttl := c.Expires.Sub(now); ttl < 13*24*time.Hour || ttl > 15*24*time.Hour {
			t.Errorf("cookie expires in %v, want 14 days", ttl)
		}
		login := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": "o@example.com", "password": "correct horse"}, nil)
		c2 := sessionCookie(t, login.header)
		if c2.Value == c.Value || !c2.HttpOnly || c2.SameSite != http.SameSiteLaxMode {
			t.Errorf("login cookie = %q, want a new HttpOnly SameSite=Lax session", login.header.Get("Set-Cookie"))
		}
		withCookie := func(c *http.Cookie) http.Header { return http.Header{"Cookie": {c.Name + "=" + c.Value}} }
		if r := rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, withCookie(c)); r.status != 200 {
			t.Fatalf("session = %d", r.status)
		}
		out := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/logout", nil, withCookie(c))
		if cleared := sessionCookie(t, out.header); cleared.MaxAge >= 0 || cleared.Value != "" || !cleared.HttpOnly {
			t.Errorf("logout cookie = %q, want it cleared", out.header.Get("Set-Cookie"))
		}
		rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, withCookie(c)).wantError(401, "authentication_error", "not_authenticated", "")
		// The other session lives until it expires.
		if r := rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, withCookie(c2)); r.status != 200 {
			t.Errorf("the other session after logout = %d, want 200", r.status)
		}
		mu.Lock()
		now = now.Add(14*24*time.Hour + time.Minute)
		mu.Unlock()
		rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, withCookie(c2)).wantError(401, "authentication_error", "not_authenticated", "")
		mu.Lock()
		now = time.Now()
		mu.Unlock()
	}
}

// TestCSRF: a write authenticated by the session cookie is refused (403) when the browser
// says it comes from another site (Sec-Fetch-Site: cross-site, or a foreign Origin), and
// nothing is written; same-origin writes, scripts that send neither header, reads, and
// bearer requests (no ambient credential) pass. Logging in from another site is refused
// too, so a page cannot sign a visitor into the attacker's account.
func TestCSRF(t *testing.T) {
	t.Parallel()
	srv, raw := secureServer(t, "sqlite", server.Config{Passwords: testPasswords})
	hc := jarClient()
	signup := rawDo(t, hc, srv.URL, "POST", "/api/signup", map[string]any{"email": "o@example.com", "password": "correct horse", "first_name": "O"}, nil)
	cookie := sessionCookie(t, signup.header)
	proj := fmt.Sprintf("/api/projects/%d", int64(signup.num("team.id")))
	key := rawDo(t, hc, srv.URL, "POST", "/api/personal_api_keys", map[string]any{"label": "k"}, nil).str("value")

	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	foreign := http.Header{"Origin": {"https://evil.example"}}
	sameSite := http.Header{"Sec-Fetch-Site": {"same-site"}}
	sameOrigin := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	ownOrigin := http.Header{"Origin": {srv.URL}}
	with := func(h http.Header, auth string) http.Header {
		out := h.Clone()
		if out == nil {
			out = http.Header{}
		}
		if auth == "cookie" {
			out.Set("Cookie", cookie.Name+"="+cookie.Value)
		} else if auth == "bearer" {
			out.Set("Authorization", "Bearer "+key)
		}
		return out
	}
	n := 0
	flag := func() map[string]any { n++; return map[string]any{"key": fmt.Sprintf("csrf-%d", n)} }
	tests := []struct {
		name   string
		auth   string
		header http.Header
		method string
		path   string
		body   func() map[string]any
		want   int
	}{
		{"cookie write, cross-site", "cookie", cross, "POST", proj + "/feature_flags", flag, 403},
		{"cookie write, foreign Origin", "cookie", foreign, "POST", proj + "/feature_flags", flag, 403},
		{"cookie write, same-site subdomain", "cookie", sameSite, "POST", proj + "/feature_flags", flag, 403},
		{"cookie delete, cross-site", "cookie", cross, "DELETE", "/api/personal_api_keys/x", nil, 403},
		{"cookie key creation, cross-site", "cookie", cross, "POST", "/api/personal_api_keys", func() map[string]any { return map[string]any{"label": "stolen"} }, 403},
		{"cookie write, same origin", "cookie", sameOrigin, "POST", proj + "/feature_flags", flag, 201},
		{"cookie write, own Origin", "cookie", ownOrigin, "POST", proj + "/feature_flags", flag, 201},
		{"cookie write, no browser headers", "cookie", nil, "POST", proj + "/feature_flags", flag, 201},
		{"cookie read, cross-site", "cookie", cross, "GET", proj + "/feature_flags", nil, 200},
		{"bearer write, cross-site", "bearer", cross, "POST", proj + "/feature_flags", flag, 201},
		{"bearer write, foreign Origin", "bearer", foreign, "POST", proj + "/feature_flags", flag, 201},
		{"login, cross-site", "", cross, "POST", "/api/login", func() map[string]any { return map[string]any{"email": "o@example.com", "password": "correct horse"} }, 403},
		{"login, foreign Origin", "", foreign, "POST", "/api/login", func() map[string]any { return map[string]any{"email": "o@example.com", "password": "correct horse"} }, 403},
		{"login, same origin", "", sameOrigin, "POST", "/api/login", func() map[string]any { return map[string]any{"email": "o@example.com", "password": "correct horse"} }, 200},
		{"logout, cross-site", "cookie", cross, "POST", "/api/logout", nil, 403},
	}
	for _, tt := range tests {
		var body any
		if tt.body != nil {
			body = tt.body()
		}
		before := fingerprint(t, raw)
		r := rawDo(t, http.DefaultClient, srv.URL, tt.method, tt.path, body, with(tt.header, tt.auth))
		if r.status != tt.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tt.name, tt.method, tt.path, r.status, r.raw, tt.want)
			continue
		}
		if tt.want == 403 {
			r.wantError(403, "authentication_error", "permission_denied", "")
			unchanged(t, raw, before, tt.name)
			if c := r.header.Get("Set-Cookie"); c != "" {
				t.Errorf("%s: refused, yet set a cookie: %q", tt.name, c)
			}
		}
	}
}

// TestLoginRateLimit: after 10 failed logins for an account from one address, that
// account is refused to that address (429, even with the right password, however its
// email is spelt) for 15 minutes, and not to others; after 50 failures from one address,
// every login from it is; other accounts and addresses are unaffected, and
// X-Forwarded-For (set by the client, no proxy trusted) changes nothing. Both replicas
// count every failure.
func TestLoginRateLimit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) { testLoginRateLimit(t, dialect) })
}

func testLoginRateLimit(t *testing.T, dialect string) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// Two servers on one database take turns answering, so that the limits
	// hold only if they share the counts: on PostgreSQL two replicas with a
	// store each; on SQLite, whose file one process holds, two servers on
	// the one store.
	var handlers []*server.Server
	for _, store := range replicaStores(t, dialect) {
		handlers = append(handlers, server.New(server.Config{Store: store, Now: clock, Plan: license.Enterprise, OpenSignup: true, Passwords: testPasswords}))
	}
	turn := 0
	login := func(addr, email, password string, header http.Header) *result {
		t.Helper()
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
		req := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
		req.RemoteAddr = addr + ":5000"
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		handlers[turn%2].ServeHTTP(rec, req)
		turn++
		return &result{t: t, status: rec.Code, raw: rec.Body.String(), body: decodeJSON(t, rec.Body.Bytes()), header: rec.Header()}
	}
	for _, email := range []string{"victim@example.com", "bystander@example.com"} {
		req := httptest.NewRequest("POST", "/api/signup", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":"correct horse","first_name":"V"}`, email)))
		rec := httptest.NewRecorder()
		handlers[0].ServeHTTP(rec, req)
		if rec.Code != 201 {
			t.Fatalf("signup = %d %s", rec.Code, rec.Body)
		}
	}

	// Per account.
	for i := range 10 {
		login("198.51.100.1", "victim@example.com", fmt.Sprintf("guess %d", i), nil).wantError(401, "authentication_error", "authentication_failed", "")
	}
	for _, spelling := range []string{"victim@example.com", "VICTIM@example.com", " victim@example.com", "victim@example.com "} {
		r := login("198.51.100.1", spelling, "correct horse", http.Header{"X-Forwarded-For": {"203.0.113.99"}})
		r.wantError(429, "throttled_error", "throttled", "")
	}
	if r := login("203.0.113.7", "victim@example.com", "correct horse", nil); r.status != 200 {
		t.Errorf("the same account from another address = %d %s, want 200", r.status, r.raw)
	}
	if r := login("198.51.100.1", "bystander@example.com", "correct horse", nil); r.status != 200 {
		t.Errorf("another account from the same address = %d %s, want 200", r.status, r.raw)
	}

	// Per address: 50 failures, spread over accounts (most of them unknown).
	for i := range 49 {
		login("192.0.2.50", fmt.Sprintf("spray%d@example.com", i), "guess", nil).wantError(401, "authentication_error", "authentication_failed", "")
	}
	login("192.0.2.50", "bystander@example.com", "guess", nil).wantError(401, "authentication_error", "authentication_failed", "")
	login("192.0.2.50", "bystander@example.com", "correct horse", nil).wantError(429, "throttled_error", "throttled", "")
	login("192.0.2.50", "bystander@example.com", "correct horse", http.Header{"X-Forwarded-For": {"203.0.113.99"}, "X-Real-Ip": {"203.0.113.99"}}).
		wantError(429, "throttled_error", "throttled", "")
	if r := login("192.0.2.51", "bystander@example.com", "correct horse", nil); r.status != 200 {
		t.Errorf("the same account from another address = %d %s, want 200", r.status, r.raw)
	}

	// The window passes.
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	for _, addr := range []string{"198.51.100.1", "192.0.2.50"} {
		if r := login(addr, "victim@example.com", "correct horse", nil); r.status != 200 {
			t.Errorf("after the window, login from %s = %d %s, want 200", addr, r.status, r.raw)
		}
	}
}

func decodeJSON(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("answer is not JSON: %q", data)
		}
	}
	return v
}

// TestNoSecretsInLogs runs a whole flow (signup, failed and successful logins, API keys,
// bearer and cookie requests, invites, a refused forged key, logout) against a server
// logging everything at debug level, and checks that no password, API key, session token,
// invite id or hash of them appears in any log line.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, _ := secureServer(t, "sqlite", server.Config{Logger: logger, Passwords: testPasswords})
	secrets := map[string]string{}
	const ownerPassword, memberPassword, wrongPassword = "owner-Secret-Pass-1", "member-Secret-Pass-2", "wrong-Secret-Pass-3"
	secrets["owner password"], secrets["member password"], secrets["wrong password"] = ownerPassword, memberPassword, wrongPassword

	hc := jarClient()
	signup := rawDo(t, hc, srv.URL, "POST", "/api/signup", map[string]any{"email": "o@example.com", "password": ownerPassword, "first_name": "O"}, nil)
	secrets["signup session"] = sessionCookie(t, signup.header).Value
	rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": "o@example.com", "password": wrongPassword}, nil)
	rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": "nobody@example.com", "password": wrongPassword}, nil)
	login := rawDo(t, hc, srv.URL, "POST", "/api/login", map[string]any{"email": "o@example.com", "password": ownerPassword}, nil)
	secrets["login session"] = sessionCookie(t, login.header).Value
	key := rawDo(t, hc, srv.URL, "POST", "/api/personal_api_keys", map[string]any{"label": "k"}, nil).str("value")
	secrets["API key"] = key
	secrets["API key hash"] = sha256Hex(key)
	bearer := http.Header{"Authorization": {"Bearer " + key}}
	org := signup.str("organization.id")
	inv := rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/organizations/"+org+"/invites", map[string]any{"target_email": "m@example.com"}, bearer).str("id")
	secrets["invite id"] = inv
	member := jarClient()
	accepted := rawDo(t, member, srv.URL, "POST", "/api/signup/"+inv, map[string]any{"first_name": "M", "password": memberPassword}, nil)
	secrets["member session"] = sessionCookie(t, accepted.header).Value
	rawDo(t, member, srv.URL, "PATCH", "/api/users/@me", map[string]any{"first_name": "Em"}, nil)
	rawDo(t, member, srv.URL, "PATCH", "/api/users/@me", map[string]any{"first_name": "Em"}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	forged := "phx_" + strings.Repeat("Z", 43)
	secrets["forged key"] = forged
	rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, http.Header{"Authorization": {"Bearer " + forged}})
	rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/users/@me", nil, http.Header{"Authorization": {"Basic " + strings.Repeat("Y", 20)}})
	proj := fmt.Sprintf("/api/projects/%d", int64(signup.num("team.id")))
	rawDo(t, http.DefaultClient, srv.URL, "POST", proj+"/feature_flags", map[string]any{"key": "f"}, bearer)
	rawDo(t, http.DefaultClient, srv.URL, "POST", proj+"/feature_flags", "{not json", bearer)
	rawDo(t, http.DefaultClient, srv.URL, "GET", "/api/nothing", nil, bearer)
	for range 11 {
		rawDo(t, http.DefaultClient, srv.URL, "POST", "/api/login", map[string]any{"email": "m@example.com", "password": wrongPassword}, nil)
	}
	rawDo(t, member, srv.URL, "POST", "/api/logout", nil, nil)
	rawDo(t, hc, srv.URL, "DELETE", "/api/personal_api_keys/x", nil, nil)

	mu.Lock()
	text := logs.String()
	mu.Unlock()
	if strings.Count(text, "\n") < 20 {
		t.Fatalf("only %d log lines: is the server logging requests?\n%s", strings.Count(text, "\n"), text)
	}
	for name, secret := range secrets {
		if strings.Contains(text, secret) {
			t.Errorf("the %s appears in the log", name)
		}
	}
	for _, word := range []string{"Bearer ", "phx_", "gatehouse_session=", "$argon2id$"} {
		if strings.Contains(text, word) {
			t.Errorf("the log contains %q", word)
		}
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)

// TestPasswordsStandalone: a Passwords that no server set up still hashes
// and checks (it used to block for ever on its unset concurrency bound).
func TestPasswordsStandalone(t *testing.T) {
	var p server.Passwords
	h := p.Hash("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") {
		t.Fatalf("Hash = %q, want argon2id with the default parameters", h)
	}
	if !p.Check(h, "correct horse") || p.Check(h, "wrong horse") {
		t.Fatal("Check does not tell the right password from a wrong one")
	}
}

// TestCanonicalIDs: one object has one URL; "+1" and "01" name nothing.
func TestCanonicalIDs(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	obj := e.owner.create(0)
	id := obj[strings.LastIndex(obj, "/")+1:]
	e.owner.must("GET", e.projPath("/feature_flags/"+id), nil, 200)
	for _, bad := range []string{"+" + id, "0" + id} {
		e.owner.do("GET", e.projPath("/feature_flags/"+bad), nil).wantError(404, "invalid_request", "not_found", "")
	}
	e.owner.do("GET", fmt.Sprintf("/api/projects/+%d/feature_flags", e.proj), nil).wantError(404, "invalid_request", "not_found", "")
}

// TestLoginBurst sends many wrong passwords for one account from one address all at
// once: no more of them may be checked (401) than the bound allows one after another
// (10), on either replica; the rest are refused (429). Logins let in do not count: the
// account's owner logs in more often than the bound from one address.
func TestLoginBurst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		var handlers []*server.Server
		for _, store := range replicaStores(t, dialect) {
			handlers = append(handlers, server.New(server.Config{Store: store, Now: time.Now, Plan: license.Enterprise, Passwords: testPasswords}))
		}
		var bodies sync.Map
		login := func(i int, addr, password string) int {
			req := httptest.NewRequest("POST", "/api/login", strings.NewReader(fmt.Sprintf(`{"email":"victim@example.com","password":%q}`, password)))
			req.RemoteAddr = addr + ":5000"
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			handlers[i%2].ServeHTTP(rec, req)
			if rec.Code >= 500 {
				bodies.Store(i, rec.Body.String())
			}
			return rec.Code
		}
		rec := httptest.NewRecorder()
		handlers[0].ServeHTTP(rec, httptest.NewRequest("POST", "/api/signup", strings.NewReader(`{"email":"victim@example.com","password":"correct horse","first_name":"V"}`)))
		if rec.Code != 201 {
			t.Fatalf("signup = %d %s", rec.Code, rec.Body)
		}
		for i := range 15 {
			if st := login(i, "198.51.100.1", "correct horse"); st != 200 {
				t.Fatalf("login %d let in before = %d, want 200", i+1, st)
			}
		}

		const burst = 40
		status := make([]int, burst)
		fs := make([]func(), burst)
		for i := range fs {
			fs[i] = func() { status[i] = login(i, "198.51.100.1", fmt.Sprintf("guess %d", i)) }
		}
		race(fs...)
		checked := 0
		for _, st := range status {
			switch st {
			case 401:
				checked++
			case 429:
			default:
				var errs []any
				bodies.Range(func(_, b any) bool { errs = append(errs, b); return true })
				t.Fatalf("burst answers %v, want 401s and 429s; errors %v", status, errs)
			}
		}
		if checked > 10 {
			t.Errorf("%d of %d wrong passwords sent at once were checked (401), want at most 10: %v", checked, burst, status)
		}
		if st := login(0, "198.51.100.1", "correct horse"); st != 429 {
			t.Errorf("the right password after the burst = %d, want 429", st)
		}
		if st := login(0, "203.0.113.7", "correct horse"); st != 200 {
			t.Errorf("the account from another address = %d, want 200", st)
		}
	})
}
