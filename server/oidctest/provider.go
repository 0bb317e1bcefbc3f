// Package oidctest runs a real OpenID Provider in-process for tests: zitadel's
// OpenID-certified op package over an in-memory storage, with a login page
// that signs in any user it was given by email (no password), and knobs to
// make it misbehave as a broken or hostile provider would (wrong audience,
// expired ID tokens, a token altered in transit).
package oidctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person the provider knows.
type User struct {
	Email         string
	EmailVerified bool
	// OmitEmail leaves the email claims out of the ID token altogether.
	OmitEmail bool
	Name      string
	// Groups, when not nil, is the groups claim (the "groups" scope).
	Groups []string
	// NoEmailVerified leaves email_verified out (as Microsoft Entra ID does).
	NoEmailVerified bool
	// Claims are added to the ID token as they are.
	Claims map[string]any
}

// Provider is a running OpenID Provider. Its issuer is URL.
type Provider struct {
	URL          string
	ClientID     string
	ClientSecret string

	server *httptest.Server
	st     *storage
}

// New starts a provider with one confidential client (ClientID,
// ClientSecret) and no redirect URI yet (AllowRedirect); it stops with the
// test.
func New(t testing.TB) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "gatehouse", ClientSecret: "s3cret-" + uuid.NewString()}
	p.st = &storage{
		p:        p,
		key:      &signingKey{id: uuid.NewString(), key: key},
		users:    map[string]*User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		lifetime: time.Hour,
	}
	var handler http.Handler
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(p.server.Close)
	p.URL = p.server.URL

	cryptoKey := sha256.Sum256([]byte(p.ClientSecret))
	provider, err := op.NewProvider(&op.Config{CryptoKey: cryptoKey, CodeMethodS256: true, AuthMethodPost: true},
		p.st, op.StaticIssuer(p.URL), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	callback := op.AuthCallbackURL(provider)
	login := op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.st.serveLogin(w, r, callback)
	})
	mux := http.NewServeMux()
	mux.Handle("/login", login)
	mux.Handle("/oauth/token", p.st.tampering(provider))
	mux.Handle("/", provider)
	handler = mux
	return p
}

// AllowRedirect registers uri as one of the client's redirect URIs: the
// provider refuses to send a browser anywhere else.
func (p *Provider) AllowRedirect(uri string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.redirects = append(p.st.redirects, uri)
}

// AddUser lets u sign in.
func (p *Provider) AddUser(u User) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	c := u
	p.st.users[strings.ToLower(u.Email)] = &c
}

// SetGroups changes the groups claim of the user with this email.
func (p *Provider) SetGroups(email string, groups ...string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.users[strings.ToLower(email)].Groups = groups
}

// SetAudience makes the provider issue ID tokens to these audiences instead
// of the client, signed as its own: a token another application obtained.
func (p *Provider) SetAudience(aud ...string) {
	p.ReissueIDToken(func(c map[string]any) {
		c["aud"], c["azp"], c["client_id"] = aud, aud[0], aud[0]
	})
}

// ReissueIDToken makes the token endpoint answer with an ID token whose
// claims change rewrote, signed again with the provider's own key.
func (p *Provider) ReissueIDToken(change func(claims map[string]any)) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.tamper, p.st.resign = change, true
}

// SetIDTokenLifetime sets how long an ID token is valid from its issue (one
// hour unless set); a negative lifetime issues tokens already expired.
func (p *Provider) SetIDTokenLifetime(d time.Duration) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.lifetime = d
}

// TamperIDToken makes the token endpoint answer with an ID token whose
// claims change rewrote, its signature left as the provider made it: what an
// attacker altering the token in transit would send.
func (p *Provider) TamperIDToken(change func(claims map[string]any)) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.tamper, p.st.resign = change, false
}

// CodeChallengeMethods lists the PKCE methods of the authorization requests
// received so far, in order ("" for a request without PKCE).
func (p *Provider) CodeChallengeMethods() []string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return append([]string(nil), p.st.challenges...)
}

// Scopes lists the scopes of the ID tokens issued so far, space-separated.
func (p *Provider) Scopes() []string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return append([]string(nil), p.st.scopes...)
}

// SignIn completes the provider's login page as the user with this email
// would, for client (which carries the cookies of the flow): start is the
// URL the flow began at (e.g. Gatehouse's /login/oidc). It returns the last
// response, after following every redirect, with its body read.
func (p *Provider) SignIn(t testing.TB, client *http.Client, start, email string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(start)
	if err != nil {
		t.Fatalf("GET %s: %v", start, err)
	}
	body := readBody(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), p.URL+"/login") {
		return resp, body
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	resp, err = client.PostForm(p.URL+"/login", map[string][]string{"id": {id}, "email": {email}})
	if err != nil {
		t.Fatalf("POST %s/login: %v", p.URL, err)
	}
	return resp, readBody(t, resp)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type storage struct {
	p   *Provider
	key *signingKey

	mu         sync.Mutex
	users      map[string]*User // by lowercased email, which is also the subject
	requests   map[string]*authRequest
	codes      map[string]string // code → request id
	lifetime   time.Duration
	resign     bool
	tamper     func(map[string]any)
	challenges []string
	redirects  []string
	scopes     []string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><title>Test provider: sign in</title></head><body>
<h1>Test identity provider</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label for="email">Email</label> <input id="email" name="email" type="email">
<button id="signin" type="submit">Sign in</button>
</form></body></html>`))

// serveLogin is the provider's login page: GET shows the form, POST signs in
// the user named and sends the browser on to finish the authorization.
func (s *storage) serveLogin(w http.ResponseWriter, r *http.Request, callback func(context.Context, string) string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodGet {
		_ = loginPage.Execute(w, map[string]string{"ID": r.URL.Query().Get("authRequestID")})
		return
	}
	id, email := r.FormValue("id"), strings.ToLower(strings.TrimSpace(r.FormValue("email")))
	s.mu.Lock()
	req, okReq := s.requests[id]
	_, okUser := s.users[email]
	if okReq && okUser {
		req.subject, req.done, req.authTime = email, true, time.Now()
	}
	s.mu.Unlock()
	if !okReq || !okUser {
		w.WriteHeader(http.StatusBadRequest)
		_ = loginPage.Execute(w, map[string]string{"ID": id, "Error": "Unknown user."})
		return
	}
	http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
}

// tampering wraps the token endpoint: with a tamper set, the ID token of its
// answer is rewritten.
func (s *storage) tampering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		change, resign := s.tamper, s.resign
		s.mu.Unlock()
		if change == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var answer map[string]any
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
			if raw, ok := answer["id_token"].(string); ok {
				if parts := strings.Split(raw, "."); len(parts) == 3 {
					var claims map[string]any
					if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(b, &claims) == nil {
						change(claims)
						b, _ = json.Marshal(claims)
						parts[1] = base64.RawURLEncoding.EncodeToString(b)
						answer["id_token"] = strings.Join(parts, ".")
						if resign {
							answer["id_token"] = s.sign(b)
						}
						body, _ = json.Marshal(answer)
					}
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(body))
	})
}

// sign signs payload with the provider's key, as its token endpoint does.
func (s *storage) sign(payload []byte) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key.key, KeyID: s.key.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

type authRequest struct {
	id, clientID, redirect, state, nonce, subject string
	scopes                                        []string
	responseType                                  oidc.ResponseType
	responseMode                                  oidc.ResponseMode
	challenge                                     *oidc.CodeChallenge
	done                                          bool
	authTime                                      time.Time
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirect }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := &authRequest{
		id: uuid.NewString(), clientID: r.ClientID, redirect: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: r.Scopes, responseType: r.ResponseType, responseMode: r.ResponseMode,
	}
	method := ""
	if r.CodeChallenge != "" {
		req.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
		method = string(r.CodeChallengeMethod)
	}
	s.challenges = append(s.challenges, method)
	s.requests[req.id] = req
	return req, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.requests[id]; ok {
		return r, nil
	}
	return nil, errors.New("request not found")
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return uuid.NewString(), time.Now().Add(5 * time.Minute), nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errors.New("refresh tokens are not supported")
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s.key}}, nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.p.ClientID {
		return nil, errors.New("client not found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &client{id: id, lifetime: s.lifetime, redirects: append([]string(nil), s.redirects...)}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.p.ClientID || secret != s.p.ClientSecret {
		return errors.New("wrong client id or secret")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills in the ID token's claims from the user.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return s.userinfo(info, r.GetSubject(), scopes)
}

func (s *storage) userinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[subject]
	if !ok {
		return errors.New("user not found")
	}
	info.Subject = subject
	for k, v := range u.Claims {
		info.AppendClaims(k, v)
	}
	s.scopes = append(s.scopes, strings.Join(scopes, " "))
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			if !u.OmitEmail {
				info.Email = u.Email
				if !u.NoEmailVerified {
					info.EmailVerified = oidc.Bool(u.EmailVerified)
				}
			}
		case oidc.ScopeProfile:
			info.Name, info.GivenName = u.Name, u.Name
		case "groups":
			if u.Groups != nil {
				info.AppendClaims("groups", u.Groups)
			}
		}
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	return s.userinfo(info, subject, []string{oidc.ScopeEmail, oidc.ScopeProfile, "groups"})
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

type client struct {
	id        string
	lifetime  time.Duration
	redirects []string
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string    { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}
func (c *client) IDTokenLifetime() time.Duration { return c.lifetime }
func (c *client) DevMode() bool                  { return true }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return scope == "groups" }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
