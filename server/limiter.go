package server

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// loginLimiter slows password guessing: after too many failures in a window
// from one address or against one account, logins are refused for the rest
// of the window. Keys are kept in memory; a restart forgets them, which
// only ever helps the legitimate user.
type loginLimiter struct {
	mu         sync.Mutex
	window     time.Duration
	perAddress int
	perAccount int
	failures   map[string]*failureCount
}

type failureCount struct {
	n     int
	start time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{window: 15 * time.Minute, perAddress: 50, perAccount: 10, failures: map[string]*failureCount{}}
}

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (l *loginLimiter) count(key string, now time.Time) int {
	f := l.failures[key]
	if f == nil || now.Sub(f.start) > l.window {
		return 0
	}
	return f.n
}

// allow refuses a login attempt when its address or account is over the limit.
func (l *loginLimiter) allow(r *http.Request, account string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count("a:"+clientAddress(r), now) >= l.perAddress || l.count("u:"+account, now) >= l.perAccount {
		return gatehouse.Errorf(gatehouse.EThrottled, "Too many failed login attempts. Try again in %s.", strconv.Itoa(int(l.window.Minutes()))+" minutes")
	}
	return nil
}

// fail records a failed attempt.
func (l *loginLimiter) fail(r *http.Request, account string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 100_000 {
		// Bound memory under a spray of distinct keys: drop expired entries.
		for k, f := range l.failures {
			if now.Sub(f.start) > l.window {
				delete(l.failures, k)
			}
		}
	}
	for _, key := range []string{"a:" + clientAddress(r), "u:" + account} {
		f := l.failures[key]
		if f == nil || now.Sub(f.start) > l.window {
			f = &failureCount{start: now}
			l.failures[key] = f
		}
		f.n++
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
