package sqlstore

import (
	"context"
	"strings"
	"sync"
	"time"
)

// A barrier makes a change reach every replica's memory before the write that made it
// answers: deprovisioning a user must refuse their very next request, whichever replica
// it reaches, and a replica's cache would otherwise hold their key and their membership
// until its listener applied the change's notice, a little later.
//
// PostgreSQL delivers notices to each listener in commit order, and each replica's
// listener applies them one at a time. So the writer, once its change has committed,
// sends a sync notice and waits until every listening replica has answered it with an
// ack: a replica acks only after applying everything sent before, the change included.
// A replica that does not ack in time is one whose listener is not hearing notices, and
// such a replica stops trusting its memory (pingTimeout), so waiting longer than that
// would add nothing.

const (
	syncPrefix = "s:" // a sync notice: "s:<token>"
	ackPrefix  = "k:" // a replica's ack of one: "k:<token>"
)

// barriers are the syncs this process waits on, by token.
type barriers struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

// Barrier returns once every replica listening on the database has applied the changes
// committed before it was called, or once pingTimeout has passed, after which a replica
// that has not is no longer trusting its memory. On SQLite, whose one process applies its
// changes as they commit, it returns at once.
func (db *DB) Barrier(ctx context.Context) error {
	if db.dialect != Postgres {
		return nil
	}
	var listeners int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query = $1`, `LISTEN `+changesChannel).Scan(&listeners); err != nil {
		return err
	}
	if listeners == 0 {
		return nil
	}
	token := newID()
	acks := make(chan struct{}, listeners)
	db.barriers.mu.Lock()
	if db.barriers.waiting == nil {
		db.barriers.waiting = map[string]chan struct{}{}
	}
	db.barriers.waiting[token] = acks
	db.barriers.mu.Unlock()
	defer func() {
		db.barriers.mu.Lock()
		delete(db.barriers.waiting, token)
		db.barriers.mu.Unlock()
	}()
	if _, err := db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changesChannel, syncPrefix+token); err != nil {
		return err
	}
	timeout := time.NewTimer(pingTimeout)
	defer timeout.Stop()
	for range listeners {
		select {
		case <-acks:
		case <-timeout.C:
			if l := db.log.Load(); l != nil {
				l.Warn("a replica did not confirm a change in time; it stops trusting its memory by now", "waited", pingTimeout)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// barrierNotice handles a sync or ack payload heard by the listener; false for any other.
// A sync is acked from another goroutine, so that the listener goes on applying notices.
func (db *DB) barrierNotice(ctx context.Context, payload string) bool {
	switch {
	case strings.HasPrefix(payload, syncPrefix):
		token := strings.TrimPrefix(payload, syncPrefix)
		go func() {
			// An ack that is lost costs its writer a wait of pingTimeout, nothing more.
			_, _ = db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, changesChannel, ackPrefix+token)
		}()
		return true
	case strings.HasPrefix(payload, ackPrefix):
		db.barriers.mu.Lock()
		acks := db.barriers.waiting[strings.TrimPrefix(payload, ackPrefix)]
		db.barriers.mu.Unlock()
		if acks != nil {
			select {
			case acks <- struct{}{}:
			default:
			}
		}
		return true
	}
	return false
}
