package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestLoginLimitBehindProxy: behind a trusted load balancer every request's
// peer is the balancer. One attacker's failures must not lock out another
// client, nor another account; the per-client limit must still hold; and a
// peer that is not a trusted proxy cannot pick a fresh identity per attempt
// by writing X-Forwarded-For.
func TestLoginLimitBehindProxy(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) { testLoginLimitBehindProxy(t, dialect) })
}

func testLoginLimitBehindProxy(t *testing.T, dialect string) {
	trusted, err := server.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	h := validated(t, server.New(server.Config{Store: sqltest.Open(t, dialect), Now: time.Now, OpenSignup: true, TrustedProxies: trusted,
		Passwords: server.Passwords{Memory: 64, Time: 1, Threads: 1}}))
	for _, email := range []string{"victim@example.com", "bystander@example.com"} {
		req := httptest.NewRequest("POST", "/api/signup", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":"correct horse","first_name":"V"}`, email)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 {
			t.Fatalf("signup = %d %s", rec.Code, rec.Body)
		}
	}
	// login sends one attempt from peer; xff, when set, is the X-Forwarded-For it arrives with.
	login := func(peer, xff, email, password string) int {
		t.Helper()
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/api/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
		req.RemoteAddr = peer + ":40000"
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	want := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	const balancer = "10.0.0.1"

	// An attacker guesses the victim's password through the balancer,
	// putting a false address of its own in front of the real one.
	for i := range 10 {
		want(fmt.Sprintf("attacker's guess %d", i), login(balancer, "192.0.2.1, 203.0.113.66", "victim@example.com", fmt.Sprintf("guess %d", i)), 401)
	}
	want("attacker, right password, after 10 failures", login(balancer, "203.0.113.66", "victim@example.com", "correct horse"), 429)
	want("attacker, under another claimed address", login(balancer, "198.51.100.200, 203.0.113.66", "victim@example.com", "correct horse"), 429)
	want("the victim from their own address", login(balancer, "198.51.100.7", "victim@example.com", "correct horse"), 200)
	want("another account from another address", login(balancer, "198.51.100.8", "bystander@example.com", "correct horse"), 200)
	want("another account from the attacker's address", login(balancer, "203.0.113.66", "bystander@example.com", "correct horse"), 200)

	// The attacker sprays other accounts: 50 failures in all refuse the
	// attacker everywhere, and nobody else.
	for i := range 39 {
		want(fmt.Sprintf("spray %d", i), login(balancer, "203.0.113.66", fmt.Sprintf("spray%d@example.com", i), "guess"), 401)
	}
	want("attacker's 50th failure", login(balancer, "203.0.113.66", "bystander@example.com", "guess"), 401)
	want("attacker after 50 failures, right password", login(balancer, "203.0.113.66", "bystander@example.com", "correct horse"), 429)
	want("another client after the attacker's 50", login(balancer, "198.51.100.9", "bystander@example.com", "correct horse"), 200)
	want("a request with no forwarded address (the balancer itself)", login(balancer, "", "bystander@example.com", "correct horse"), 200)

	// A peer that is not a trusted proxy is the client, whatever it claims.
	for i := range 10 {
		want(fmt.Sprintf("direct guess %d", i), login("192.0.2.99", fmt.Sprintf("198.51.100.%d", i+50), "bystander@example.com", "guess"), 401)
	}
	want("direct client with a fresh X-Forwarded-For", login("192.0.2.99", "198.51.100.250", "bystander@example.com", "correct horse"), 429)

	// Many clients guessing at one account: 100 failures refuse it to everyone.
	for c := range 10 {
		for i := range 10 {
			code := login(balancer, fmt.Sprintf("198.18.0.%d", c), "victim@example.com", fmt.Sprintf("guess %d", i))
			if c*10+i < 90 {
				want(fmt.Sprintf("distributed guess %d", c*10+i), code, 401)
			}
		}
	}
	want("the victim after 100 distributed failures at the account", login(balancer, "198.51.100.7", "victim@example.com", "correct horse"), 429)
	want("another account after them", login(balancer, "198.51.100.7", "bystander@example.com", "correct horse"), 200)
}
