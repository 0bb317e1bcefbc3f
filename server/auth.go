package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

const (
	sessionCookie = "gatehouse_session"
	sessionTTL    = 14 * 24 * time.Hour // PostHog's default session age
	apiKeyPrefix  = "phx_"
)

// randomToken returns n random bytes as URL-safe text.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how session tokens and API keys are stored: they carry 256
// bits of randomness, so a fast hash is enough and lookups stay indexed.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// authenticate finds the caller: a personal API key as a Bearer token, or
// a session cookie. It returns (nil, false, nil) for an anonymous request.
// An in-process call of the web UI (Do) carries no credentials: its caller
// is the one its page's Authenticate found, and counts as cookie-borne, so
// its writes pass the same cross-origin check.
func (s *Server) authenticate(r *http.Request) (u *gatehouse.User, viaCookie bool, err error) {
	if in := inProcessCaller(r.Context()); in != nil {
		return in.user, in.user != nil, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, apiKeyPrefix) {
			return nil, false, gatehouse.Errorf(gatehouse.EAuthenticationFailed, "Invalid personal API key.")
		}
		u, err := s.store.APIKeyUser(r.Context(), hashToken(token), s.now())
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			return nil, false, gatehouse.Errorf(gatehouse.EAuthenticationFailed, "Invalid personal API key.")
		}
		return u, false, err
	}
	u, _, err = s.sessionUser(r)
	return u, u != nil, err
}

// sessionUser looks up r's session cookie: the user and the session's
// token, or nil for none. An expired or revoked session is the same as
// none: the browser is sent to log in again rather than shown an error.
func (s *Server) sessionUser(r *http.Request) (*gatehouse.User, string, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, "", nil
	}
	u, err := s.store.SessionUser(r.Context(), hashToken(c.Value), s.now())
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return nil, "", nil
	case err != nil:
		return nil, "", err
	}
	return u, c.Value, nil
}

// startSession creates a session for u and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *gatehouse.User) error {
	token := randomToken(32)
	now := s.now()
	err := s.store.CreateSession(r.Context(), gatehouse.Session{TokenHash: hashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(sessionTTL)})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure, Expires: now.Add(sessionTTL),
	})
	return nil
}

// endSession deletes r's session (the cookie's, or an in-process call's
// page's) and clears its cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	token := ""
	if in := inProcessCaller(r.Context()); in != nil {
		token = in.token
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		token = c.Value
	}
	if token != "" {
		if err := s.store.DeleteSession(r.Context(), hashToken(token)); err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure, MaxAge: -1})
	return nil
}
