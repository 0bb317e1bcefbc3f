package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"
)

// LoginFailures returns the failures counted against each key in windows that began
// after now−window; keys without any are left out.
func (db *DB) LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]int, error) {
	out := map[string]int{}
	if len(keys) == 0 {
		return out, nil
	}
	args := []any{ts(now.Add(-window).UTC().Truncate(time.Microsecond))}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := db.db.QueryContext(ctx, `
		SELECT key, failures FROM login_failures
		WHERE window_start > $1 AND key IN (`+placeholders(2, len(keys))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k string
			n int
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// RecordLoginFailure counts one failure against each key, in one transaction, and returns
// each key's count with it: a key whose window has run out starts a new one at now.
// Windows that have run out are deleted on the way, so that a spray of distinct keys does
// not pile up. The count is the one this transaction wrote (RETURNING), so concurrent
// calls for one key each see a different one.
func (db *DB) RecordLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]int, error) {
	now = now.UTC().Truncate(time.Microsecond)
	expired := ts(now.Add(-window))
	out := make(map[string]int, len(keys))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE window_start <= $1`, expired); err != nil {
			return err
		}
		// Rows are locked in key order, here and in ForgiveLoginFailure, so that
		// concurrent counts and take-backs of the same keys cannot deadlock.
		for _, k := range slices.Sorted(slices.Values(keys)) {
			var n int
			if err := tx.QueryRowContext(ctx, `
				INSERT INTO login_failures (key, window_start, failures) VALUES ($1, $2, 1)
				ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1
				RETURNING failures`,
				k, ts(now)).Scan(&n); err != nil {
				return err
			}
			out[k] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ForgiveLoginFailure takes one failure back from each key whose window is still running,
// and forgets a key left at none, so that its next failure starts a new window. Keys are
// taken in order, as RecordLoginFailure takes them.
func (db *DB) ForgiveLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) error {
	since := ts(now.Add(-window).UTC().Truncate(time.Microsecond))
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range slices.Sorted(slices.Values(keys)) {
			if _, err := tx.ExecContext(ctx, `
				UPDATE login_failures SET failures = failures - 1
				WHERE key = $1 AND window_start > $2 AND failures > 0`, k, since); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE key = $1 AND failures <= 0`, k); err != nil {
				return err
			}
		}
		return nil
	})
}
