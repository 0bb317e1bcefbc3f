package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server/oidctest"
)

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve starts `gatehouse serve` in-process and waits for /_health.
func serve(t *testing.T, vars map[string]string) (base string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	stderr = &syncBuffer{}
	done := make(chan error, 1)
	args := []string{"serve", "--addr", addr, "--database-url", "sqlite:" + filepath.Join(t.TempDir(), "gh.db")}
	go func() { done <- run(ctx, args, env(vars), strings.NewReader(""), io.Discard, stderr) }()
	base = "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/_health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy in time: %s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("serve did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return base, stderr, stop
}

func post(t *testing.T, url string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func TestServeEndToEnd(t *testing.T) {
	base, stderr, stop := serve(t, nil)
	status, body, hdr := post(t, base+"/api/signup", map[string]any{"email": "a@example.com", "password": "correct horse", "first_name": "A"})
	if status != 201 {
		t.Fatalf("signup = %d %v", status, body)
	}
	cookie := hdr.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("session cookie = %q, want HttpOnly and SameSite", cookie)
	}
	resp, err := http.Get(base + "/_ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/_ready = %v %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after shutdown, want nil", err)
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in log: %s", stderr)
	}
	if strings.Contains(stderr.String(), "correct horse") {
		t.Error("the password reached the log")
	}
}

func TestLicence(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"license", "keygen", "--out", dir}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"license", "keygen", "--out", dir}, env(nil), nil, io.Discard, io.Discard); err == nil {
		t.Fatal("keygen overwrote an existing private key")
	}
	out.Reset()
	if err := run(t.Context(), []string{"license", "issue", "--private-key", filepath.Join(dir, "license.key"), "--plan", "enterprise", "--valid-until", "2038-01-19"}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	pubPath := filepath.Join(dir, "license.pub")

	plan := func(vars map[string]string) (string, string) {
		t.Helper()
		base, stderr, stop := serve(t, vars)
		defer stop()
		status, body, hdr := post(t, base+"/api/signup", map[string]any{"email": "a@example.com", "password": "correct horse", "first_name": "A"})
		if status != 201 {
			t.Fatalf("signup = %d", status)
		}
		req, _ := http.NewRequest("GET", base+"/api/organizations/@current", nil)
		req.Header.Set("Cookie", strings.Split(hdr.Get("Set-Cookie"), ";")[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var org map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&org)
		_ = body
		return fmt.Sprint(org["plan"]), stderr.String()
	}
	if got, _ := plan(map[string]string{"GATEHOUSE_LICENSE_KEY": key, "GATEHOUSE_LICENSE_PUBLIC_KEY": pubPath}); got != "enterprise" {
		t.Errorf("plan with a valid licence = %q, want enterprise", got)
	}
	if got, _ := plan(nil); got != "free" {
		t.Errorf("plan without licence = %q, want free", got)
	}
	// A key signed by someone else, and an expired one: free, with one clear log line.
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	forged, _ := license.Issue(otherPriv, license.License{Plan: license.Enterprise, IssuedAt: time.Now(), ValidUntil: time.Now().Add(time.Hour)})
	text, _ := os.ReadFile(filepath.Join(dir, "license.key"))
	priv, err := license.ParsePrivateKey(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := license.Issue(priv, license.License{Plan: license.Enterprise, IssuedAt: time.Now().Add(-48 * time.Hour), ValidUntil: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]string{"forged": forged, "expired": expired} {
		got, log := plan(map[string]string{"GATEHOUSE_LICENSE_KEY": k, "GATEHOUSE_LICENSE_PUBLIC_KEY": pubPath})
		if got != "free" {
			t.Errorf("%s licence: plan = %q, want free", name, got)
		}
		if n := strings.Count(log, "licence rejected"); n != 1 {
			t.Errorf("%s licence: %d 'licence rejected' log lines, want 1:\n%s", name, n, log)
		}
		if strings.Contains(log, k) {
			t.Errorf("%s licence: the key reached the log", name)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		wantErr  bool
		wantText string
	}{
		{[]string{"version"}, false, "gatehouse"},
		{[]string{"serve", "--help"}, false, "-database-url"},
		{[]string{"migrate", "--help"}, false, "-database-url"},
		{[]string{"license", "keygen", "--help"}, false, "-out"},
		{[]string{"license", "issue", "--help"}, false, "-private-key"},
		{[]string{"license", "--help"}, false, "keygen"},
		{[]string{}, true, "Usage"},
		{[]string{"frobnicate"}, true, "Usage"},
		{[]string{"serve", "--no-such-flag"}, true, ""},
		{[]string{"serve", "--trusted-proxies", "10.0.0.1/8"}, true, "did you mean 10.0.0.0/8"},
		{[]string{"serve", "--trusted-proxies", "10.0.0.1, proxy.internal"}, true, "--trusted-proxies"},
		{[]string{"serve", "--public-url", "gatehouse.example.com"}, true, "--public-url"},
		{[]string{"serve", "--public-url", "https://example.com/gatehouse"}, true, "no path"},
		{[]string{"license", "issue"}, true, ""},
		{[]string{"serve", "--oidc-issuer", "https://idp.example.com"}, true, "GATEHOUSE_OIDC_CLIENT_SECRET"},
		{[]string{"serve", "--oidc-client-id", "gatehouse"}, true, "--oidc-issuer"},
		{[]string{"serve", "--help"}, false, "-oidc-groups-claim"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(t.Context(), tt.args, env(nil), nil, &out, &errOut)
		if (err != nil) != tt.wantErr {
			t.Errorf("run(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
		}
		if err != nil {
			errOut.WriteString(err.Error())
		}
		if !strings.Contains(out.String()+errOut.String(), tt.wantText) {
			t.Errorf("run(%q) printed %q, want %q in it", tt.args, out.String()+errOut.String(), tt.wantText)
		}
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"migrate", "--database-url", "sqlite:" + filepath.Join(dir, "m.db")}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.db")); err != nil {
		t.Fatalf("migrate made no database: %v", err)
	}
}

// TestLicenceFile: GATEHOUSE_LICENSE_KEY_FILE is read at start and again on each
// reload, so a licence written over it replaces the running one; a bad rewrite
// keeps the licence in force (reload errs); setting both the key and the file is
// a usage error.
func TestLicenceFile(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pubText := base64.StdEncoding.EncodeToString(pub)
	issue := func(id string, until time.Time) string {
		k, err := license.Issue(priv, license.License{Plan: license.Enterprise, ID: id, IssuedAt: time.Now().Add(-time.Hour), ValidUntil: until})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	file := filepath.Join(dir, "licence")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(issue("first", time.Now().Add(time.Hour)))
	vars := map[string]string{"GATEHOUSE_LICENSE_PUBLIC_KEY": pubText, "GATEHOUSE_LICENSE_KEY_FILE": file}
	logger := slog.New(slog.DiscardHandler)

	lic, reload, err := loadLicence(env(vars), logger)
	if err != nil || lic.ID != "first" || lic.Plan != license.Enterprise || reload == nil {
		t.Fatalf("loadLicence = %+v, reload %v, %v; want the first licence and a reload", lic, reload != nil, err)
	}
	if l, err := reload(time.Now()); err != nil || l.ID != "first" {
		t.Errorf("reload of the same file = %+v, %v, want the first licence", l, err)
	}
	write(issue("renewed", time.Now().AddDate(1, 0, 0)))
	if l, err := reload(time.Now()); err != nil || l.ID != "renewed" {
		t.Errorf("reload after renewal = %+v, %v, want the renewed licence", l, err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	forged, _ := license.Issue(otherPriv, license.License{Plan: license.Enterprise, IssuedAt: time.Now()})
	for name, text := range map[string]string{"forged": forged, "garbage": "not a licence"} {
		write(text)
		if l, err := reload(time.Now()); err == nil {
			t.Errorf("reload of a %s licence = %+v, want an error (the running licence stays)", name, l)
		}
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := reload(time.Now()); err == nil {
		t.Error("reload of a missing file succeeded")
	}
	if _, _, err := loadLicence(env(vars), logger); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_LICENSE_KEY_FILE") {
		t.Errorf("loadLicence with a missing file: %v, want an error naming GATEHOUSE_LICENSE_KEY_FILE", err)
	}
	both := map[string]string{"GATEHOUSE_LICENSE_PUBLIC_KEY": pubText, "GATEHOUSE_LICENSE_KEY_FILE": file, "GATEHOUSE_LICENSE_KEY": forged}
	if _, _, err := loadLicence(env(both), logger); exitCode(err) != 2 {
		t.Errorf("loadLicence with both key and file: %v, want a usage error", err)
	}
}

// TestServePublicURL: GATEHOUSE_PUBLIC_URL pins the host end to end, and a
// bad GATEHOUSE_TRUSTED_PROXIES stops the start with a usage error.
func TestServePublicURL(t *testing.T) {
	base, _, _ := serve(t, map[string]string{"GATEHOUSE_PUBLIC_URL": "https://gatehouse.example.com", "GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8"})
	if status, body, _ := post(t, base+"/api/signup", map[string]any{"email": "a@example.com", "password": "correct horse", "first_name": "A"}); status != http.StatusMisdirectedRequest {
		t.Errorf("signup by the listening address = %d %v, want 421", status, body)
	}
	req, _ := http.NewRequest("POST", base+"/api/signup", strings.NewReader(`{"email":"a@example.com","password":"correct horse","first_name":"A"}`))
	req.Host = "gatehouse.example.com"
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("signup with the public host = %d, want 201", resp.StatusCode)
	}
	err = run(t.Context(), []string{"serve", "--addr", freeAddr(t)}, env(map[string]string{
		"GATEHOUSE_OIDC_ISSUER": "idp.example.com", "GATEHOUSE_OIDC_CLIENT_ID": "gh", "GATEHOUSE_OIDC_CLIENT_SECRET": "s"}), nil, io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "GATEHOUSE_OIDC_ISSUER") {
		t.Errorf("serve with an issuer that is no URL: %v, want a usage error naming GATEHOUSE_OIDC_ISSUER", err)
	}
	err = run(t.Context(), []string{"serve", "--addr", freeAddr(t)}, env(map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/33"}), nil, io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "GATEHOUSE_TRUSTED_PROXIES") {
		t.Errorf("serve with a bad GATEHOUSE_TRUSTED_PROXIES: %v, want a usage error naming it", err)
	}
}

// TestServeFailedStartLeavesNoFiles: a start that cannot listen (port in use,
// bad address) fails before the default SQLite database, or its lock file, is
// created, so retrying with a corrected address starts from nothing.
func TestServeFailedStartLeavesNoFiles(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name, addr, wantErr string
	}{
		{"port in use", busy.Addr().String(), "address already in use"},
		{"bad address", "127.0.0.1:notaport", "--addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // the default database is gatehouse.db in the working directory
			var stderr syncBuffer
			err := run(t.Context(), []string{"serve", "--addr", tt.addr}, env(nil), nil, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("serve --addr %s: error = %v, want one containing %q", tt.addr, err, tt.wantErr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("failed start left %s behind", e.Name())
			}
		})
	}
}

// TestServeOIDC: the operator's OIDC settings reach the server, whose
// redirect URI is built from the request's host when no public URL is set.
func TestServeOIDC(t *testing.T) {
	idp := oidctest.New(t)
	base, stderr, _ := serve(t, map[string]string{
		"GATEHOUSE_OIDC_ISSUER": idp.URL, "GATEHOUSE_OIDC_CLIENT_ID": idp.ClientID,
		"GATEHOUSE_OIDC_CLIENT_SECRET": idp.ClientSecret, "GATEHOUSE_OIDC_NAME": "Acme SSO",
	})
	idp.AllowRedirect(base + "/login/oidc/callback")
	if status, body, _ := post(t, base+"/api/signup", map[string]any{"email": "a@example.com", "password": "correct horse", "first_name": "A"}); status != 201 {
		t.Fatalf("signup = %d %v", status, body)
	}
	resp, err := http.Get(base + "/api/login/providers")
	if err != nil {
		t.Fatal(err)
	}
	var providers struct {
		OIDC struct{ Name string } `json:"oidc"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&providers)
	resp.Body.Close()
	if providers.OIDC.Name != "Acme SSO" {
		t.Errorf("GET /api/login/providers named %q, want Acme SSO", providers.OIDC.Name)
	}
	idp.AddUser(oidctest.User{Email: "a@example.com", EmailVerified: true})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	idp.SignIn(t, hc, base+"/login/oidc", "a@example.com")
	resp, err = hc.Get(base + "/api/users/@me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("@me after signing in through the provider = %d, want 200", resp.StatusCode)
	}
	if strings.Contains(stderr.String(), idp.ClientSecret) {
		t.Error("the client secret reached the log")
	}
}
