//go:build unix

package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on a file beside the database at path, so
// that one process at a time serves it: the cache counts on seeing every
// change. Several replicas need PostgreSQL. The kernel drops the lock when
// the process dies, however it dies.
func lockFile(path string) (unlock func() error, err error) {
	name := path + "-lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlstore: %s is in use by another gatehouse process; one process serves a SQLite database (use PostgreSQL for several replicas)", path)
		}
		return nil, fmt.Errorf("sqlstore: lock %s: %w", name, err)
	}
	return f.Close, nil
}
