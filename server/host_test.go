package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// hostClient sends requests straight to h with a chosen Host header.
type hostClient struct {
	t      *testing.T
	h      http.Handler
	cookie string
}

func (c *hostClient) do(method, host, path, body string, header http.Header) *httptest.ResponseRecorder {
	c.t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Host = host
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

func mustParsePublicURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := server.ParsePublicURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHostPinning: with a public URL, a request naming another host (DNS
// rebinding: a hostile page whose name resolves to this server) is refused
// with 421 before anything runs, so it can neither take the first-run signup
// nor read /metrics; the health probes answer any host; every spelling of the
// public host is accepted; and links are built on the public URL whatever the
// request says about its host.
func TestHostPinning(t *testing.T) {
	const signup = `{"email":"owner@example.com","password":"correct horse","first_name":"O"}`
	pub := mustParsePublicURL(t, "https://gatehouse.example.com/")
	h := server.New(server.Config{Store: sqltest.Open(t, "sqlite"), Now: time.Now, PublicURL: pub,
		Passwords: server.Passwords{Memory: 64, Time: 1, Threads: 1}})
	c := &hostClient{t: t, h: validated(t, h)}

	for _, host := range []string{"evil.example", "127.0.0.1", "127.0.0.1:8000", "gatehouse.example.com:80", "gatehouse.example.com:8443",
		"gatehouse.example.com.evil.example", "xgatehouse.example.com", "gatehouse.example.com:", ""} {
		for _, path := range []string{"/api/signup", "/api/signup/"} {
			rec := c.do("POST", host, path, signup, nil)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusMisdirectedRequest || body["code"] != "misdirected_request" || body["type"] != "invalid_request" {
				t.Errorf("POST %s with Host %q = %d %s, want 421 misdirected_request", path, host, rec.Code, rec.Body)
			}
		}
		if rec := c.do("GET", host, "/metrics", "", nil); rec.Code != http.StatusMisdirectedRequest {
			t.Errorf("GET /metrics with Host %q = %d, want 421", host, rec.Code)
		}
		if rec := c.do("GET", host, "/signup", "", nil); rec.Code != http.StatusMisdirectedRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("GET /signup (a page) with Host %q = %d %q, want 421 in plain text", host, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, path := range []string{"/_health", "/_ready"} {
			if rec := c.do("GET", host, path, "", nil); rec.Code != http.StatusOK {
				t.Errorf("GET %s with Host %q = %d, want 200 (load-balancer probes use any host)", path, host, rec.Code)
			}
		}
	}

	// None of that signed anybody up: the first user is still to come.
	rec := c.do("POST", "gatehouse.example.com", "/api/signup", signup, nil)
	if rec.Code != http.StatusCreated {
		t.Fatalf("signup with the public host = %d %s, want 201", rec.Code, rec.Body)
	}
	c.cookie = strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]
	for _, host := range []string{"gatehouse.example.com", "GateHouse.Example.COM", "gatehouse.example.com:443", "gatehouse.example.com."} {
		if rec := c.do("POST", host, "/api/personal_api_keys", `{"label":"k"}`, nil); rec.Code != http.StatusCreated {
			t.Errorf("POST /api/personal_api_keys with Host %q = %d %s, want 201", host, rec.Code, rec.Body)
		}
	}
	if rec := c.do("GET", "gatehouse.example.com", "/metrics", "", nil); rec.Code != http.StatusOK {
		t.Errorf("GET /metrics with the public host = %d, want 200", rec.Code)
	}

	// Links: on the public URL, whatever the request says about its host or scheme.
	for _, hdr := range []http.Header{nil, {"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"http"}}} {
		for _, host := range []string{"gatehouse.example.com:443", "GATEHOUSE.example.com"} {
			rec := c.do("GET", host, "/api/personal_api_keys?limit=1&offset=1", "", hdr)
			var page struct{ Next, Previous string }
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != 200 {
				t.Fatalf("list = %d %s", rec.Code, rec.Body)
			}
			for _, link := range []string{page.Next, page.Previous} {
				if !strings.HasPrefix(link, "https://gatehouse.example.com/api/personal_api_keys?") {
					t.Errorf("Host %q, headers %v: link %q, want it on https://gatehouse.example.com/", host, hdr, link)
				}
			}
		}
	}
	req := httptest.NewRequest("GET", "http://evil.example/x", nil)
	req.Header.Set("X-Forwarded-Proto", "http")
	if got, want := h.AbsoluteURL(req, "/invite/abc"), "https://gatehouse.example.com/invite/abc"; got != want {
		t.Errorf("AbsoluteURL for a request to evil.example = %q, want %q", got, want)
	}
}

// TestHostPinningMetricsToken: a metrics token guards /metrics on its own, so
// scrapers that address a replica by its IP keep working: any host, but the token.
func TestHostPinningMetricsToken(t *testing.T) {
	h := server.New(server.Config{Store: sqltest.Open(t, "sqlite"), PublicURL: mustParsePublicURL(t, "https://gatehouse.example.com"), MetricsToken: "scrape-secret"})
	c := &hostClient{t: t, h: validated(t, h)}
	if rec := c.do("GET", "10.1.2.3:8000", "/metrics", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /metrics by IP without the token = %d, want 401", rec.Code)
	}
	if rec := c.do("GET", "10.1.2.3:8000", "/metrics", "", http.Header{"Authorization": {"Bearer scrape-secret"}}); rec.Code != http.StatusOK {
		t.Errorf("GET /metrics by IP with the token = %d, want 200", rec.Code)
	}
	if rec := c.do("POST", "10.1.2.3:8000", "/api/signup", `{"email":"a@example.com","password":"correct horse"}`, nil); rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("POST /api/signup by IP = %d, want 421", rec.Code)
	}
}

// TestNoPublicURL: without a public URL every host is served, as before, and
// links are on the host the request named.
func TestNoPublicURL(t *testing.T) {
	h := server.New(server.Config{Store: sqltest.Open(t, "sqlite"), Now: time.Now, Passwords: server.Passwords{Memory: 64, Time: 1, Threads: 1}})
	c := &hostClient{t: t, h: validated(t, h)}
	rec := c.do("POST", "anything.example:8000", "/api/signup", `{"email":"owner@example.com","password":"correct horse","first_name":"O"}`, nil)
	if rec.Code != http.StatusCreated {
		t.Fatalf("signup = %d %s, want 201", rec.Code, rec.Body)
	}
	c.cookie = strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]
	for i := range 2 {
		if rec := c.do("POST", "other.example", "/api/personal_api_keys", fmt.Sprintf(`{"label":"k%d"}`, i), nil); rec.Code != http.StatusCreated {
			t.Fatalf("create key = %d %s", rec.Code, rec.Body)
		}
	}
	rec = c.do("GET", "other.example", "/api/personal_api_keys?limit=1", "", nil)
	var page struct{ Next string }
	_ = json.Unmarshal(rec.Body.Bytes(), &page)
	if !strings.HasPrefix(page.Next, "http://other.example/api/personal_api_keys?") {
		t.Errorf("next = %q, want it on the request's host", page.Next)
	}
	req := httptest.NewRequest("GET", "http://other.example/x", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if got, want := h.AbsoluteURL(req, "/invite/abc"), "https://other.example/invite/abc"; got != want {
		t.Errorf("AbsoluteURL = %q, want %q", got, want)
	}
}
