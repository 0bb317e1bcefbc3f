package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// changesChannel is the PostgreSQL notification channel of committed changes;
// a payload is a notice's kind byte, ':' and what it names ("r:<org uuid>",
// "u:42"), or "ping".
const changesChannel = "gatehouse_changes"

const (
	// pingEvery is how often each replica sends a ping through its own channel.
	pingEvery = time.Second
	// pingTimeout is how long the listener waits for any notice, its own
	// pings included, before it stops trusting its connection: the bound on
	// how stale a cache gets when a connection dies without a word.
	pingTimeout = 3 * time.Second
)

func (n notice) payload() string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch n.what {
	case noticeRules, noticeOrg:
		return string(n.what) + ":" + n.org
	case noticeCreated:
		return string(n.what) + ":" + i(n.id) + ":" + i(n.project) + ":" + n.kind.String() + ":" + i(n.creator) + ":" + i(n.at)
	case noticeObject, noticeHidden, noticeResource:
		return string(n.what) + ":" + i(n.id) + ":" + i(n.project)
	}
	return string(n.what) + ":" + i(n.id)
}

func parseNotice(s string) (notice, bool) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || len(kind) != 1 {
		return notice{}, false
	}
	n := notice{what: noticeKind(kind[0])}
	args := strings.Split(rest, ":")
	ints := func(dst ...*int64) bool {
		if len(args) < len(dst) {
			return false
		}
		for i, d := range dst {
			v, err := strconv.ParseInt(args[i], 10, 64)
			if err != nil {
				return false
			}
			*d = v
		}
		return true
	}
	switch n.what {
	case noticeRules, noticeOrg:
		n.org = rest
		return n, rest != ""
	case noticeUser, noticeProject, noticeProjectGone, noticeList:
		return n, len(args) == 1 && ints(&n.id)
	case noticeObject, noticeHidden, noticeResource:
		return n, len(args) == 2 && ints(&n.id, &n.project)
	case noticeCreated:
		if len(args) != 5 {
			return notice{}, false
		}
		k, ok := access.KindFromPath(args[2])
		n.kind = k
		args = append(args[:2], args[3:]...)
		return n, ok && ints(&n.id, &n.project, &n.creator, &n.at)
	}
	return notice{}, false
}

// notify records that tx changes what n names. On PostgreSQL the notice goes
// out in tx, so other replicas hear of it exactly when it commits; this
// process invalidates its own cache as tx ends (see inTx), before the writer
// answers anyone.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, n notice) error {
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changesChannel, n.payload()); err != nil {
			return err
		}
	}
	db.pend(tx, n)
	return nil
}

// pend keeps n for this process to apply once tx has ended (settle).
func (db *DB) pend(tx *sql.Tx, n notice) {
	db.pendingMu.Lock()
	db.pending[tx] = append(db.pending[tx], n)
	db.pendingMu.Unlock()
}

// settle applies tx's notices to this process once tx has ended, committed
// or not: an invalidation too many costs a miss, one too few a stale answer.
func (db *DB) settle(tx *sql.Tx) {
	db.pendingMu.Lock()
	ns := db.pending[tx]
	delete(db.pending, tx)
	delete(db.committed, tx) // rolled back: what was to follow its commit does not
	ended := db.ended[tx]
	delete(db.ended, tx)
	db.pendingMu.Unlock()
	for _, n := range ns {
		db.cache.invalidate(n)
		if n.what == noticeRules && db.dialect != Postgres {
			db.rulesChanged(n.org)
		}
	}
	for _, f := range ended {
		f()
	}
}

// rulesChanged tells the WatchRules callbacks of this process.
func (db *DB) rulesChanged(orgID string) {
	db.watchMu.Lock()
	defer db.watchMu.Unlock()
	for _, w := range db.watchers {
		w.add(orgID)
	}
}

// WatchRules calls changed with the id of each organization whose rules
// change through any replica, and with "" whenever changes may have been
// missed (the listener reconnected), until ctx ends. Calls come from one
// goroutine of their own, so a slow callback delays only later callbacks,
// never the cache's invalidations; organizations named again while a call
// runs are coalesced.
func (db *DB) WatchRules(ctx context.Context, changed func(orgID string)) error {
	w := &watcher{wake: make(chan struct{}, 1), pending: map[string]struct{}{}}
	db.watchMu.Lock()
	db.watchers = append(db.watchers, w)
	db.watchMu.Unlock()
	defer func() {
		db.watchMu.Lock()
		for i, x := range db.watchers {
			if x == w {
				db.watchers = append(db.watchers[:i], db.watchers[i+1:]...)
				break
			}
		}
		db.watchMu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		}
		for _, org := range w.take() {
			changed(org)
		}
	}
}

type watcher struct {
	wake    chan struct{}
	mu      sync.Mutex
	pending map[string]struct{}
}

func (w *watcher) add(orgID string) {
	w.mu.Lock()
	w.pending[orgID] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns the pending organizations, "" (everything) first.
func (w *watcher) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.pending))
	if _, all := w.pending[""]; all {
		out = append(out, "")
		delete(w.pending, "")
	}
	for org := range w.pending {
		out = append(out, org)
	}
	clear(w.pending)
	return out
}

// startListening keeps a PostgreSQL connection listening for notices until
// ctx ends: it invalidates the cache, tells the WatchRules callbacks, and
// keeps the cache trusted only while its pings come back.
func (db *DB) startListening(ctx context.Context) {
	db.listenDone = make(chan struct{})
	go func() {
		defer close(db.listenDone)
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			heard, err := db.listenOnce(ctx)
			db.cache.reset(0)
			if ctx.Err() != nil {
				return
			}
			if heard {
				backoff = 100 * time.Millisecond
			}
			if l := db.log.Load(); l != nil {
				l.Warn("listening for change notices stopped; hot reads go to the database until it is back", "err", err, "retry_in", backoff)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
}

// listenOnce listens on one connection until it fails; heard reports whether
// anything arrived on it.
func (db *DB) listenOnce(ctx context.Context) (heard bool, err error) {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// A listening connection must not go back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return false, err
	}
	pingCtx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	go func() {
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			// Errors need no handling here: a ping that does not arrive is
			// what makes the listener give up on its connection.
			_, _ = db.pool.Exec(pingCtx, `SELECT pg_notify($1, 'ping')`, changesChannel)
			select {
			case <-pingCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// Whatever was sent while nobody listened is lost: start from empty.
	db.cache.reset(time.Now().Add(pingTimeout).UnixNano())
	if l := db.log.Load(); l != nil {
		l.Info("listening for change notices", "channel", changesChannel)
	}
	db.rulesChanged("")
	for {
		waitCtx, cancel := context.WithTimeout(ctx, pingTimeout)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil {
			return heard, err
		}
		heard = true
		db.cache.liveUntil.Store(time.Now().Add(pingTimeout).UnixNano())
		if n.Payload == "ping" || db.barrierNotice(ctx, n.Payload) {
			continue
		}
		if no, ok := parseNotice(n.Payload); ok {
			db.cache.invalidate(no)
			if no.what == noticeRules {
				db.rulesChanged(no.org)
			}
		}
	}
}

// alwaysLive is liveUntil for a cache nothing can bypass.
const alwaysLive = math.MaxInt64
