package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// loginLimiter slows password guessing without letting one client lock out
// others: failures are counted per (client, account) pair, per client, and
// per account, and a login is refused for the rest of the window once any of
// its three counts reaches its bound. The counts live in the database
// (Store.LoginFailures), so that every replica sees every failure: N replicas
// allow no more guesses than one, and a restart forgets nothing.
//
// Clients are told apart by clientAddress, which believes X-Forwarded-For
// only from a configured trusted proxy: behind a load balancer every peer is
// the balancer, and counting the balancer would let 50 failures anywhere
// refuse everyone.
type loginLimiter struct {
	store  gatehouse.Store
	window time.Duration
	// perPair bounds one client's guesses at one account: room for a person
	// who mistypes, and all an attacker at one address gets against a victim.
	// It refuses only that client: the account's owner elsewhere still logs in.
	perPair int
	// perClient bounds one client's guesses over all accounts (spraying one
	// common password at many accounts). Well above perPair, because many
	// people may share an address (an office behind NAT).
	perClient int
	// perAccount bounds guesses at one account from everywhere (a botnet,
	// each address under perPair). Reaching it takes at least perAccount /
	// perPair distinct clients, so no single client can lock an account; a
	// distributed attack that can is refused everyone for the window, since
	// then capping guesses matters more than the account's availability.
	perAccount int
}

func newLoginLimiter(store gatehouse.Store) *loginLimiter {
	return &loginLimiter{store: store, window: 15 * time.Minute, perPair: 10, perClient: 50, perAccount: 100}
}

// limiterKeys are the counts a login attempt from client at account touches:
// pair, client, account. A client (an IP address or an IPv6 /64) never
// contains "|", so the pair key is unambiguous. The "a:" (address) and "u:"
// (account) prefixes are those of the counts before pairs were kept.
func limiterKeys(client, account string) []string {
	return []string{"p:" + client + "|" + account, "a:" + client, "u:" + account}
}

// allow refuses a login attempt when its pair, client or account is already at its
// bound, before attempt counts it: a client refused here adds nothing to the counts.
func (l *loginLimiter) allow(r *http.Request, account string, now time.Time) error {
	keys := limiterKeys(requestClient(r), account)
	n, err := l.store.LoginFailures(r.Context(), keys, now, l.window)
	if err != nil {
		return err
	}
	if n[keys[0]] >= l.perPair || n[keys[1]] >= l.perClient || n[keys[2]] >= l.perAccount {
		return l.refusal()
	}
	return nil
}

// attempt counts a login as failed before its password is checked, and refuses it when
// that count passes a bound. Counting first is what bounds guesses sent all at once: each
// concurrent attempt sees a count of its own (Store.RecordLoginFailure), so only the
// bound's number of them reach the password check, where checking the counts and
// recording a failure after the check let a whole burst through. A refused attempt, and
// a login let in (succeeded), take their count back.
func (l *loginLimiter) attempt(r *http.Request, account string, now time.Time) error {
	keys := limiterKeys(requestClient(r), account)
	n, err := l.store.RecordLoginFailure(r.Context(), keys, now, l.window)
	if err != nil {
		return err
	}
	if n[keys[0]] > l.perPair || n[keys[1]] > l.perClient || n[keys[2]] > l.perAccount {
		if err := l.store.ForgiveLoginFailure(r.Context(), keys, now, l.window); err != nil {
			return err
		}
		return l.refusal()
	}
	return nil
}

// succeeded takes back the count attempt made for a login that was let in.
func (l *loginLimiter) succeeded(r *http.Request, account string, now time.Time) error {
	return l.store.ForgiveLoginFailure(r.Context(), limiterKeys(requestClient(r), account), now, l.window)
}

func (l *loginLimiter) refusal() error {
	return gatehouse.Errorf(gatehouse.EThrottled, "Too many failed login attempts. Try again in %s.", strconv.Itoa(int(l.window.Minutes()))+" minutes")
}
