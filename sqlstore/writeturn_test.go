package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/sqlstore"
)

// TestSQLiteWritersTakeTurnsInOrder: write transactions queued behind a long one get
// SQLite's one writer in the order they came, not at random (database/sql hands a freed
// connection to a random waiter, which let some writers wait many turns).
func TestSQLiteWritersTakeTurnsInOrder(t *testing.T) {
	db := openSQLiteFile(t)
	held, release := make(chan struct{}), make(chan struct{})
	go db.WriteTx(context.Background(), func(*sql.Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	const writers = 6
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range writers {
		wg.Go(func() {
			err := db.WriteTx(context.Background(), func(*sql.Tx) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
		time.Sleep(30 * time.Millisecond) // writer i queues before writer i+1
	}
	close(release)
	wg.Wait()
	if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(order, want) {
		t.Fatalf("writers got the writer in the order %v, want %v", order, want)
	}
}

// TestSQLiteQueuedWriterHonoursItsContext: a write waiting for its turn gives up when its
// request does.
func TestSQLiteQueuedWriterHonoursItsContext(t *testing.T) {
	db := openSQLiteFile(t)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.WriteTx(context.Background(), func(*sql.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := db.WriteTx(ctx, func(*sql.Tx) error { ran = true; return nil })
	close(release)
	<-done
	if err == nil || ran {
		t.Fatalf("a queued write whose context ended: err %v, ran %v; want an error, not run", err, ran)
	}
}

func openSQLiteFile(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "g.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
