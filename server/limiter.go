package server

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// loginLimiter slows password guessing: after too many failures in a window
// from one address or against one account, logins are refused for the rest
// of the window. The counts live in the database (Store.LoginFailures), so
// that every replica sees every failure: N replicas allow no more guesses
// than one, and a restart forgets nothing.
type loginLimiter struct {
	store      gatehouse.Store
	window     time.Duration
	perAddress int
	perAccount int
}

func newLoginLimiter(store gatehouse.Store) *loginLimiter {
	return &loginLimiter{store: store, window: 15 * time.Minute, perAddress: 50, perAccount: 10}
}

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func limiterKeys(r *http.Request, account string) []string {
	return []string{"a:" + clientAddress(r), "u:" + account}
}

// allow refuses a login attempt when its address or account is over the limit.
func (l *loginLimiter) allow(r *http.Request, account string, now time.Time) error {
	keys := limiterKeys(r, account)
	n, err := l.store.LoginFailures(r.Context(), keys, now, l.window)
	if err != nil {
		return err
	}
	if n[keys[0]] >= l.perAddress || n[keys[1]] >= l.perAccount {
		return gatehouse.Errorf(gatehouse.EThrottled, "Too many failed login attempts. Try again in %s.", strconv.Itoa(int(l.window.Minutes()))+" minutes")
	}
	return nil
}

// fail records a failed attempt.
func (l *loginLimiter) fail(r *http.Request, account string, now time.Time) error {
	return l.store.RecordLoginFailure(r.Context(), limiterKeys(r, account), now, l.window)
}
