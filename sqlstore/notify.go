package sqlstore

import (
	"context"
	"time"
)

// rulesChannel is the PostgreSQL notification channel of rule changes; the
// payload is the organization id.
const rulesChannel = "gatehouse_rules"

// notifyRules tells every replica, when tx commits, that orgID's rules changed.
// PostgreSQL delivers a NOTIFY only if its transaction commits, so a change
// and its notice cannot part.
func (db *DB) notifyRules(ctx context.Context, tx querier, orgID string) error {
	if db.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, rulesChannel, orgID)
	return err
}

// WatchRules calls changed with the id of each organization whose rules
// change through any replica, and with "" whenever it (re)connects, since
// notices sent while it was away are lost. It keeps one connection of its
// own, reconnects after failures, and returns when ctx ends. On SQLite it
// returns at once: the replicas of a SQLite file are processes on one
// machine, and every request reads the revision anyway.
func (db *DB) WatchRules(ctx context.Context, changed func(orgID string)) error {
	if db.dialect != Postgres {
		return nil
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := db.watchOnce(ctx, changed); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	return nil
}

func (db *DB) watchOnce(ctx context.Context, changed func(orgID string)) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A listening connection must not go back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+rulesChannel); err != nil {
		return err
	}
	changed("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		changed(n.Payload)
	}
}
