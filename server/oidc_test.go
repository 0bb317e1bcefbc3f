package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/server/oidctest"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// ssoEnv is a Gatehouse server whose operator configured a real OpenID
// provider (running in-process), with its owner signed up by password.
type ssoEnv struct {
	*env
	idp *oidctest.Provider
	db  *sqlstore.DB
}

func newSSOEnv(t testing.TB, dialect string, opts ...func(*server.Config)) *ssoEnv {
	t.Helper()
	idp := oidctest.New(t)
	db := sqltest.Open(t, dialect)
	cfg := testConfig(db, license.Enterprise)
	cfg.OIDC = &server.OIDCConfig{Issuer: idp.URL, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret, Name: "Test IdP"}
	for _, o := range opts {
		o(&cfg)
	}
	srv := httptest.NewServer(validated(t, server.New(cfg)))
	t.Cleanup(srv.Close)
	idp.AllowRedirect(srv.URL + server.OIDCCallbackPath)
	return &ssoEnv{env: newEnvFor(t, srv), idp: idp, db: db}
}

// domain gives the owner's organization the domain name, verified unless
// unverified, with these settings.
func (e *ssoEnv) domain(name string, verified bool, set func(d *gatehouse.Domain)) *gatehouse.Domain {
	e.t.Helper()
	ctx := context.Background()
	d := &gatehouse.Domain{OrganizationID: e.orgID, Domain: name}
	if err := e.db.CreateDomain(ctx, d, e.owner.id); err != nil {
		e.t.Fatalf("CreateDomain(%q) = %v", name, err)
	}
	if verified {
		if _, err := e.db.VerifyDomain(ctx, e.orgID, d.ID, e.owner.id); err != nil {
			e.t.Fatalf("VerifyDomain(%q) = %v", name, err)
		}
	}
	if set != nil {
		set(d)
		if err := e.db.UpdateDomain(ctx, d, e.owner.id); err != nil {
			e.t.Fatalf("UpdateDomain(%q) = %v", name, err)
		}
	}
	return d
}

// signIn drives the whole redirect flow in a fresh browser (a cookie jar)
// as the provider's user email, starting at /login/oidc?next=next. It returns
// the browser and the page it landed on.
func (e *ssoEnv) signIn(email, next string) (*http.Client, *url.URL, string) {
	e.t.Helper()
	hc := jarClient()
	resp, body := e.idp.SignIn(e.t, hc, e.srv.URL+"/login/oidc?next="+url.QueryEscape(next), email)
	return hc, resp.Request.URL, body
}

// signedInAs reports the email of hc's session, "" when it has none.
func (e *ssoEnv) signedInAs(hc *http.Client) string {
	e.t.Helper()
	me := rawDo(e.t, hc, e.srv.URL, "GET", "/api/users/@me", nil, nil)
	if me.status != http.StatusOK {
		return ""
	}
	return me.str("email")
}

// wantRefused checks that a sign-in landed on the login page with reason.
func wantRefused(t testing.TB, landed *url.URL, reason string) {
	t.Helper()
	if landed.Path != "/login" || landed.Query().Get("sso_error") != reason {
		t.Fatalf("landed on %s, want /login?sso_error=%s", landed, reason)
	}
}

func TestOIDCSignIn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newSSOEnv(t, dialect)
		e.idp.AddUser(oidctest.User{Email: "Owner@Example.com", EmailVerified: true, Name: "Olive"})

		hc, landed, _ := e.signIn("owner@example.com", "/projects")
		if landed.Path != "/projects" {
			t.Fatalf("landed on %s, want /projects", landed)
		}
		if got := e.signedInAs(hc); got != "owner@example.com" {
			t.Fatalf("session of %q, want owner@example.com", got)
		}
		// The session is an ordinary cookie session: its writes pass the same
		// cross-origin check as a password login's.
		res := rawDo(t, hc, e.srv.URL, "POST", "/api/organizations", map[string]any{"name": "Second"},
			http.Header{"Sec-Fetch-Site": {"cross-site"}})
		if res.status != http.StatusForbidden {
			t.Errorf("cross-site write with the session = %d %s, want 403", res.status, res.raw)
		}
		if got := e.idp.CodeChallengeMethods(); len(got) != 1 || got[0] != "S256" {
			t.Errorf("PKCE methods sent = %v, want [S256]", got)
		}
	})
}

func TestOIDCNextStaysLocal(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	e.idp.AddUser(oidctest.User{Email: "owner@example.com", EmailVerified: true})
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""} {
		_, landed, _ := e.signIn("owner@example.com", next)
		if landed.Host != strings.TrimPrefix(e.srv.URL, "http://") || landed.Path != "/" {
			// "/" sends a signed-in browser on to its project.
			if !strings.HasPrefix(landed.String(), e.srv.URL+"/projects") {
				t.Errorf("next=%q landed on %s, want this server's /", next, landed)
			}
		}
	}
}

func TestOIDCRefusesBadTokens(t *testing.T) {
	cases := []struct {
		name  string
		setup func(idp *oidctest.Provider)
		user  oidctest.User
		want  string
	}{
		{name: "signature broken by a tampered claim", user: oidctest.User{Email: "mallory@example.com", EmailVerified: true},
			setup: func(idp *oidctest.Provider) {
				idp.TamperIDToken(func(c map[string]any) { c["email"] = "owner@example.com" })
			}, want: "failed"},
		{name: "wrong audience", user: oidctest.User{Email: "owner@example.com", EmailVerified: true},
			setup: func(idp *oidctest.Provider) { idp.SetAudience("another-client") }, want: "failed"},
		{name: "expired token", user: oidctest.User{Email: "owner@example.com", EmailVerified: true},
			setup: func(idp *oidctest.Provider) { idp.SetIDTokenLifetime(-time.Minute) }, want: "failed"},
		{name: "nonce of another sign-in", user: oidctest.User{Email: "owner@example.com", EmailVerified: true},
			setup: func(idp *oidctest.Provider) {
				idp.ReissueIDToken(func(c map[string]any) { c["nonce"] = "replayed" })
			}, want: "failed"},
		{name: "unverified email", user: oidctest.User{Email: "owner@example.com", EmailVerified: false}, want: "email_unverified"},
		{name: "no email", user: oidctest.User{Email: "owner@example.com", OmitEmail: true}, want: "email_unverified"},
		{name: "unknown user", user: oidctest.User{Email: "stranger@example.com", EmailVerified: true}, want: "no_account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSSOEnv(t, "sqlite")
			e.idp.AddUser(tc.user)
			if tc.setup != nil {
				tc.setup(e.idp)
			}
			hc, landed, _ := e.signIn(tc.user.Email, "/")
			wantRefused(t, landed, tc.want)
			if got := e.signedInAs(hc); got != "" {
				t.Fatalf("refused sign-in left a session of %q", got)
			}
		})
	}
}

// callbackOf runs the flow up to the provider's redirect back to Gatehouse
// and returns that URL unvisited, with the browser that holds the flow's
// cookie.
func (e *ssoEnv) callbackOf(email string) (*http.Client, string) {
	e.t.Helper()
	hc := jarClient()
	var callback string
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == server.OIDCCallbackPath {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	e.idp.SignIn(e.t, hc, e.srv.URL+"/login/oidc", email)
	if callback == "" {
		e.t.Fatal("the provider did not send the browser back")
	}
	hc.CheckRedirect = nil
	return hc, callback
}

func TestOIDCStateIsSingleUseAndBound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newSSOEnv(t, dialect)
		e.idp.AddUser(oidctest.User{Email: "owner@example.com", EmailVerified: true})

		// Another browser holding the callback URL (leaked through a log or
		// a referrer) cannot finish the sign-in.
		_, callback := e.callbackOf("owner@example.com")
		other := jarClient()
		resp, err := other.Get(callback)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantRefused(t, resp.Request.URL, "expired")
		if got := e.signedInAs(other); got != "" {
			t.Fatalf("another browser got a session of %q", got)
		}

		// The browser that started it finishes it once; replayed, with the
		// flow's cookie put back, the state is refused.
		hc, callback := e.callbackOf("owner@example.com")
		flow := hc.Jar.Cookies(mustURL(t, e.srv.URL+server.OIDCCallbackPath))
		if to := firstRedirect(t, hc, callback); to != "/" {
			t.Fatalf("first callback redirected to %q, want /", to)
		}
		if got := e.signedInAs(hc); got != "owner@example.com" {
			t.Fatalf("first callback: session of %q, want owner@example.com", got)
		}
		replay := jarClient()
		replay.Jar.SetCookies(mustURL(t, e.srv.URL+server.OIDCCallbackPath), flow)
		if to := firstRedirect(t, replay, callback); to != "/login?sso_error=expired" {
			t.Fatalf("replayed callback redirected to %q, want /login?sso_error=expired", to)
		}
		if got := e.signedInAs(replay); got != "" {
			t.Fatalf("replayed callback gave a session of %q", got)
		}
	})
}

func TestOIDCProvidersAnswer(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	res := rawDo(t, http.DefaultClient, e.srv.URL, "GET", "/api/login/providers", nil, nil)
	if res.status != 200 || res.str("oidc.name") != "Test IdP" || res.str("oidc.login_url") != "/login/oidc" {
		t.Fatalf("GET /api/login/providers = %d %s", res.status, res.raw)
	}
	page := roundTrip(t, http.DefaultClient, e.srv.URL, "GET", "/login?next=/projects", nil, nil, false)
	if !strings.Contains(page.raw, "Sign in with Test IdP") || !strings.Contains(page.raw, `href="/login/oidc?next=%2Fprojects"`) {
		t.Errorf("login page without the sign-in button going back to next:\n%s", page.raw)
	}
	plain := newEnv(t, "sqlite", license.Enterprise)
	page = roundTrip(t, http.DefaultClient, plain.srv.URL, "GET", "/login", nil, nil, false)
	if strings.Contains(page.raw, "Sign in with") {
		t.Errorf("login page offers single sign-on on an instance without it")
	}
	res = rawDo(t, http.DefaultClient, plain.srv.URL, "GET", "/api/login/providers", nil, nil)
	if res.status != 200 || res.get("oidc") != nil {
		t.Fatalf("without OIDC: GET /api/login/providers = %d %s, want oidc null", res.status, res.raw)
	}
	res = roundTrip(t, http.DefaultClient, plain.srv.URL, "GET", "/login/oidc", nil, nil, false)
	if res.status != http.StatusNotFound {
		t.Fatalf("without OIDC: GET /login/oidc = %d, want 404", res.status)
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// firstRedirect GETs target with hc without following its redirect, and
// returns where it redirects to.
func firstRedirect(t testing.TB, hc *http.Client, target string) string {
	t.Helper()
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}
