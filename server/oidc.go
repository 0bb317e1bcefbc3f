package server

// Single sign-on with OpenID Connect: the authorization-code flow with PKCE,
// state and nonce, the provider found by discovery from its issuer, and the
// ID token verified by go-oidc (signature, issuer, audience, expiry) before
// its nonce and email are read. docs/identity.md walks an operator through it.

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// OIDCConfig is the instance's OpenID Connect provider, set by its operator.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// from Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name labels the login page's button ("Sign in with Name").
	Name string
	// GroupsClaim is the ID token's claim listing the user's groups.
	GroupsClaim string
	// Scopes are asked for besides "openid"; nil is email, profile and
	// groups (a provider that has no groups scope, as Microsoft Entra ID,
	// needs them without it).
	Scopes []string
	// HTTPClient talks to the provider; nil is a client with a 10 s timeout.
	HTTPClient *http.Client
}

const (
	defaultOIDCName        = "single sign-on"
	defaultOIDCGroupsClaim = "groups"
	// oidcLoginTTL is how long a person has at the provider's login page.
	oidcLoginTTL = 10 * time.Minute
	// oidcCookie binds a sign-in to the browser that started it: a callback
	// carrying its state from any other browser is refused.
	oidcCookie     = "gatehouse_oidc"
	oidcCookiePath = "/login/oidc"
	oidcLoginPath  = "/login/oidc"
	// OIDCCallbackPath is where the provider sends the browser back: the
	// redirect URI to register is the server's URL with this path.
	OIDCCallbackPath = "/login/oidc/callback"
)

// Reasons a sign-in is refused, as the login page's sso_error parameter.
const (
	ssoNoAccount  = "no_account"
	ssoUnverified = "email_unverified"
	ssoDisabled   = "disabled"
	ssoExpired    = "expired"
	ssoFailed     = "failed"
)

// oidcSignIn is the configured provider, discovered at its first use: the
// provider need not be up when the server starts.
type oidcSignIn struct {
	cfg  OIDCConfig
	http *http.Client
	mux  *http.ServeMux

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCSignIn(cfg OIDCConfig) *oidcSignIn {
	if cfg.Name == "" {
		cfg.Name = defaultOIDCName
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = defaultOIDCGroupsClaim
	}
	if cfg.Scopes == nil {
		// Okta, Keycloak and Dex release the groups claim for the groups scope.
		cfg.Scopes = []string{"email", "profile", "groups"}
	}
	o := &oidcSignIn{cfg: cfg, http: cfg.HTTPClient}
	if o.http == nil {
		o.http = &http.Client{Timeout: 10 * time.Second}
	}
	return o
}

// clientContext carries the client that talks to the provider, for go-oidc
// and oauth2 alike, without ctx's deadline: the key set it fetches is kept
// for later requests.
func (o *oidcSignIn) clientContext(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), o.http)
	return context.WithValue(ctx, oauth2.HTTPClient, o.http)
}

// discover returns the provider, reading its discovery document the first
// time; a failure is tried again at the next sign-in.
func (o *oidcSignIn) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.clientContext(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery of %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcSignIn) oauth2Config(p *oidc.Provider, redirect string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, sc := range o.cfg.Scopes {
		if sc != oidc.ScopeOpenID {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: scopes,
	}
}

// registerOIDC serves the two sign-in paths beside the pages, when the
// operator configured a provider.
func (s *Server) registerOIDC(cfg *OIDCConfig) {
	if cfg == nil {
		return
	}
	s.oidc = newOIDCSignIn(*cfg)
	s.oidc.mux = http.NewServeMux()
	s.oidc.mux.HandleFunc("GET "+oidcLoginPath, s.handleOIDCLogin)
	s.oidc.mux.HandleFunc("GET "+OIDCCallbackPath, s.handleOIDCCallback)
}

// oidcRoute returns the sign-in handler for r and its pattern ("" for none).
func (s *Server) oidcRoute(r *http.Request) (http.Handler, string) {
	if s.oidc == nil || !strings.HasPrefix(r.URL.Path, oidcLoginPath) {
		return nil, ""
	}
	return s.oidc.mux.Handler(r)
}

// loginProviders is GET /api/login/providers's answer.
type loginProviders struct {
	// OIDC is the instance's OpenID Connect sign-in; null when there is none.
	OIDC *oidcProviderBody `json:"oidc"`
}

type oidcProviderBody struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
}

// handleLoginProviders serves GET /api/login/providers: the sign-in the
// login page offers besides a password.
func (s *Server) handleLoginProviders(w http.ResponseWriter, r *http.Request, c *call) error {
	var out loginProviders
	if s.oidc != nil {
		out.OIDC = &oidcProviderBody{Name: s.oidc.cfg.Name, LoginURL: oidcLoginPath}
	}
	encode(w, http.StatusOK, out)
	return nil
}

// handleOIDCLogin serves GET /login/oidc?next=…: it records the sign-in
// (state, nonce, PKCE verifier, where to land), binds it to this browser by
// a cookie, and sends the browser to the provider.
func (s *Server) handleOIDCLogin(w http.ResponseWriter, r *http.Request) {
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	state, nonce, browser := randomToken(32), randomToken(32), randomToken(32)
	verifier := oauth2.GenerateVerifier()
	now := s.now()
	err = s.store.CreateOIDCLogin(r.Context(), gatehouse.OIDCLogin{
		StateHash: hashToken(state), BrowserHash: hashToken(browser), Nonce: nonce, Verifier: verifier,
		Next: localPath(r.URL.Query().Get("next")), ExpiresAt: now.Add(oidcLoginTTL),
	})
	if err != nil {
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	// Lax: the provider's redirect back is a top-level GET from its site.
	http.SetCookie(w, &http.Cookie{
		Name: oidcCookie, Value: browser, Path: oidcCookiePath, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure, MaxAge: int(oidcLoginTTL.Seconds()),
	})
	to := s.oidc.oauth2Config(p, s.AbsoluteURL(r, OIDCCallbackPath)).AuthCodeURL(state,
		oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, to, http.StatusFound)
}

// handleOIDCCallback serves GET /login/oidc/callback: the provider's answer.
// The state must name a sign-in this browser started and nobody finished;
// the code is exchanged with its PKCE verifier; the ID token must verify and
// carry the sign-in's nonce and a verified email. Then the user is signed in
// as a password login signs them in.
func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// Cleared whatever happens: the sign-in it bound is over.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcCookiePath, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure, MaxAge: -1})
	login, err := s.store.TakeOIDCLogin(r.Context(), hashToken(q.Get("state")), s.now())
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			s.oidcFail(w, r, ssoExpired, errors.New("unknown, used or expired state"))
			return
		}
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(hashToken(c.Value)), []byte(login.BrowserHash)) != 1 {
		s.oidcFail(w, r, ssoExpired, errors.New("state from another browser"))
		return
	}
	if e := q.Get("error"); e != "" {
		s.oidcFail(w, r, ssoFailed, fmt.Errorf("provider answered %s: %s", truncateText(e, 100), truncateText(q.Get("error_description"), 200)))
		return
	}
	claims, err := s.oidcClaims(r, login, q.Get("code"))
	if err != nil {
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	if claims.email == "" || !validEmail(claims.email) || !claims.emailVerified {
		s.oidcFail(w, r, ssoUnverified, fmt.Errorf("email %q verified=%v", truncateText(claims.email, 254), claims.emailVerified))
		return
	}
	u, joined, refusal, err := s.oidcUser(r, claims, login.Next)
	if err != nil {
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	if refusal != "" {
		s.oidcFail(w, r, refusal, fmt.Errorf("%s: %s", refusal, claims.email))
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.oidcFail(w, r, ssoFailed, err)
		return
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.userID = u.ID
	}
	next := login.Next
	if joined {
		next = "/" // the invite it came from is used: home is the organization joined
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcIdentity is what sign-in reads from a verified ID token.
type oidcIdentity struct {
	email         string
	emailVerified bool
	name          string
	groups        []string
	// hasGroups: the token carries the groups claim (possibly empty).
	hasGroups bool
}

// oidcClaims exchanges code for tokens and verifies the ID token: signature
// by the provider's published keys, issuer, audience (this client), expiry by
// the server's clock, and the nonce this sign-in sent.
func (s *Server) oidcClaims(r *http.Request, login *gatehouse.OIDCLogin, code string) (*oidcIdentity, error) {
	if code == "" {
		return nil, errors.New("callback without a code")
	}
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		return nil, err
	}
	ctx := s.oidc.clientContext(r.Context())
	tok, err := s.oidc.oauth2Config(p, s.AbsoluteURL(r, OIDCCallbackPath)).Exchange(ctx, code, oauth2.VerifierOption(login.Verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("token answer without an id_token")
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(login.Nonce)) != 1 {
		return nil, errors.New("id token: nonce is not the sign-in's")
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	id := &oidcIdentity{}
	id.email, _ = all["email"].(string)
	id.email = strings.TrimSpace(id.email)
	id.emailVerified = claimTrue(all["email_verified"])
	if _, ok := all["email_verified"]; !ok {
		// Microsoft Entra ID sends no email_verified; its optional claim
		// xms_edov says the email's domain is verified by the tenant that
		// owns it, which is what email_verified promises.
		id.emailVerified = claimTrue(all["xms_edov"])
	}
	for _, k := range []string{"given_name", "name", "preferred_username"} {
		if v, _ := all[k].(string); strings.TrimSpace(v) != "" {
			id.name = strings.TrimSpace(v)
			break
		}
	}
	switch v := all[s.oidc.cfg.GroupsClaim].(type) {
	case []any:
		id.hasGroups = true
		for _, g := range v {
			if g, ok := g.(string); ok {
				id.groups = append(id.groups, g)
			}
		}
	case string:
		id.hasGroups = true
		id.groups = []string{v}
	}
	return id, nil
}

// claimTrue reads a boolean claim, which some providers send as a string.
func claimTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true") || v == "1"
	}
	return false
}

// oidcUser finds or provisions the user a verified identity names. A known
// user (same email, any case) is theirs. An unknown one who came from an
// invite addressed to their email (next is its page) is created and accepts
// it (joined); else one is created and joins the organization of their
// email's verified domain as a plain member when that domain provisions
// just in time; otherwise refusal says why not. Then, when the domain leaves
// roles to sign-in (SCIM off), the groups claim sets the roles a sign-in
// added.
func (s *Server) oidcUser(r *http.Request, id *oidcIdentity, next string) (u *gatehouse.User, joined bool, refusal string, err error) {
	ctx := r.Context()
	d, err := s.ssoDomain(ctx, id.email)
	if err != nil {
		return nil, false, "", err
	}
	u, err = s.store.UserByEmail(ctx, id.email)
	switch {
	case err == nil:
		if u.DisabledAt != nil {
			return nil, false, ssoDisabled, nil
		}
		orgs, err := s.store.OrganizationsOf(ctx, u.ID)
		if err != nil {
			return nil, false, "", err
		}
		if len(orgs) == 0 {
			// Left in no organization (SCIM deactivation, or removed by hand):
			// a sign-in must not bring them back.
			return nil, false, ssoDisabled, nil
		}
	case gatehouse.ErrorCode(err) != gatehouse.ENotFound:
		return nil, false, "", err
	default:
		if u, err = s.acceptInviteAtSignIn(r, id, next); err != nil {
			return nil, false, "", err
		}
		if u != nil {
			joined = true
			break
		}
		if d == nil || !d.JIT {
			return nil, false, ssoNoAccount, nil
		}
		if u, err = s.provisionUser(r, d, id); err != nil {
			return nil, false, "", err
		}
	}
	if d != nil && !d.SCIM {
		if err := s.syncGroups(ctx, d, u, id); err != nil {
			return nil, false, "", err
		}
	}
	return u, joined, "", nil
}

// acceptInviteAtSignIn creates the user of id and accepts the invite whose
// page the sign-in came from (next, "/invite/{id}"), when the invite is
// addressed to id's email: on a domain that enforces single sign-on this is
// how an invited newcomer joins, since a password is refused. nil when next
// names no such invite, or it is no longer honoured.
func (s *Server) acceptInviteAtSignIn(r *http.Request, id *oidcIdentity, next string) (*gatehouse.User, error) {
	inviteID, ok := strings.CutPrefix(next, "/invite/")
	if !ok || inviteID == "" || strings.ContainsAny(inviteID, "/?#") {
		return nil, nil
	}
	inv, err := s.store.Invite(r.Context(), inviteID)
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return nil, nil
	case err != nil:
		return nil, err
	case !strings.EqualFold(inv.TargetEmail, id.email):
		return nil, nil
	}
	u := &gatehouse.User{Email: inv.TargetEmail, FirstName: firstName(id)}
	if _, err := s.store.AcceptInviteAsNewUser(r.Context(), inv.ID, u); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			return nil, nil
		}
		return nil, err
	}
	oc := &call{user: u}
	if err := s.resolveOrg(r.Context(), oc, inv.OrganizationID); err != nil {
		return nil, err
	}
	current, err := s.firstProject(r.Context(), oc)
	if err != nil {
		return nil, err
	}
	return s.setCurrent(r, u, inv.OrganizationID, current)
}

// firstName is what a new user created at sign-in is called: the token's
// name, else their email's local part.
func firstName(id *oidcIdentity) string {
	name := id.name
	if name == "" {
		name, _, _ = strings.Cut(id.email, "@")
	}
	if r := []rune(name); len(r) > 150 {
		name = string(r[:150])
	}
	return name
}

// provisionUser creates the user of id (without a password: they sign in
// through the provider) as a member of d's organization, landing in its
// first project they may enter.
func (s *Server) provisionUser(r *http.Request, d *ssoDomain, id *oidcIdentity) (*gatehouse.User, error) {
	u := &gatehouse.User{Email: id.email, FirstName: firstName(id)}
	if _, err := s.store.JoinOrganization(r.Context(), d.OrganizationID, u, access.MemberLevel); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EUnique {
			// Signed in twice at once: the other sign-in created them.
			return s.store.UserByEmail(r.Context(), id.email)
		}
		return nil, err
	}
	oc := &call{user: u}
	if err := s.resolveOrg(r.Context(), oc, d.OrganizationID); err != nil {
		return nil, err
	}
	current, err := s.firstProject(r.Context(), oc)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(r.Context(), "oidc: user provisioned", "user_id", u.ID, "organization", d.OrganizationID, "domain", d.Name)
	return s.setCurrent(r, u, d.OrganizationID, current)
}

// syncGroups makes the roles a sign-in added follow the groups claim. A
// token without the claim names no group: the roles it added before go, as
// they would when the provider stopped naming them.
func (s *Server) syncGroups(ctx context.Context, d *ssoDomain, u *gatehouse.User, id *oidcIdentity) error {
	joined, left, err := s.store.SyncSSORoles(ctx, d.OrganizationID, u.ID, id.groups)
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return nil // not a member of the domain's organization: nothing of theirs to sync
	case err != nil:
		return err
	}
	if len(joined)+len(left) > 0 {
		s.log.InfoContext(ctx, "oidc: roles synced from the groups claim", "user_id", u.ID, "organization", d.OrganizationID,
			"joined", len(joined), "left", len(left))
	}
	return nil
}

// ssoDomain is what sign-in needs of the verified domain of an email.
type ssoDomain struct {
	OrganizationID string
	Name           string
	JIT            bool // jit_provisioning_enabled
	Enforced       bool // sso_enforcement "oidc"
	SCIM           bool // scim_enabled: SCIM alone manages roles
}

// ssoDomain returns the verified domain of email, nil when there is none.
func (s *Server) ssoDomain(ctx context.Context, email string) (*ssoDomain, error) {
	return s.domainLookup(ctx, emailDomain(email))
}

// emailDomain is the DNS name after an email's "@", lowercased.
func emailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(email[i+1:])), ".")
}

// passwordRefused refuses a password for email when its verified domain
// enforces single sign-on and the instance offers it. As PostHog does, an
// enforcement the instance cannot honour (no provider configured) is not
// applied: it would lock the domain's members out.
func (s *Server) passwordRefused(ctx context.Context, email string) error {
	if s.oidc == nil || email == "" {
		return nil
	}
	d, err := s.ssoDomain(ctx, email)
	if err != nil || d == nil || !d.Enforced {
		return err
	}
	return gatehouse.Errorf(gatehouse.ESSOEnforced,
		"Your organization requires single sign-on for %s: use \"Sign in with %s\" on the login page.", d.Name, s.oidc.cfg.Name)
}

// oidcFail ends a sign-in that did not succeed: the login page says why
// (reason), and the operator's log has the cause. Without pages the API's
// own error answers.
func (s *Server) oidcFail(w http.ResponseWriter, r *http.Request, reason string, cause error) {
	if reason == ssoFailed {
		s.log.WarnContext(r.Context(), "oidc: sign-in failed", "err", cause)
	} else {
		s.log.InfoContext(r.Context(), "oidc: sign-in refused", "reason", reason, "err", cause)
	}
	if s.pages == nil {
		s.writeError(w, r, gatehouse.Errorf(gatehouse.EAuthenticationFailed, "Single sign-on failed (%s).", reason))
		return
	}
	http.Redirect(w, r, "/login?sso_error="+url.QueryEscape(reason), http.StatusSeeOther)
}

// localPath is next when it is a path on this server, else "/": a sign-in
// must not end on another site (an open redirect).
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
		return "/"
	}
	return next
}

// domainLookup returns the verified organization domain named name, nil
// when there is none. Domains take part in sign-in only under a plan with
// the sso feature, as their settings can be written only then: after the
// licence lapses, known users still sign in, but nobody is provisioned,
// no password is refused for a domain and no role follows a claim.
func (s *Server) domainLookup(ctx context.Context, name string) (*ssoDomain, error) {
	if name == "" || !s.currentPlan().Has(license.FeatureSSO) {
		return nil, nil
	}
	d, ok, err := s.store.VerifiedDomain(ctx, name)
	if err != nil || !ok {
		return nil, err
	}
	return &ssoDomain{
		OrganizationID: d.OrganizationID, Name: d.Domain, JIT: d.JITProvisioningEnabled,
		Enforced: d.SSOEnforcement == gatehouse.SSOOIDC, SCIM: d.SCIMEnabled,
	}, nil
}

// hasOIDC reports whether the instance offers sign-in with OpenID Connect
// (a domain's has_oidc).
func (s *Server) hasOIDC() bool { return s.oidc != nil }
