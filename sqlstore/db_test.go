package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

func TestOpen(t *testing.T) {
	for _, dialect := range sqltest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			if dialect == sqlstore.Postgres {
				sqltest.PostgresURL(t)
			}
			db := sqltest.Open(t, dialect)
			if got := db.Dialect(); got != dialect {
				t.Errorf("Dialect() = %q, want %q", got, dialect)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping() = %v", err)
			}
		})
	}
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url     string
		dialect string // "" = refused
	}{
		{"sqlite:" + filepath.Join(dir, "a.db"), sqlstore.SQLite},
		{"sqlite://" + filepath.Join(dir, "b.db"), sqlstore.SQLite},
		{"sqlite::memory:", sqlstore.SQLite},
		{"sqlite:", ""},
		{"mysql://root@localhost/gatehouse", ""},
		{"gatehouse.db", ""},
	}
	for _, tt := range tests {
		db, err := sqlstore.Open(t.Context(), tt.url, nil)
		if tt.dialect == "" {
			if err == nil {
				db.Close()
				t.Errorf("Open(%q) = nil error, want it refused", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q) = %v", tt.url, err)
			continue
		}
		if got := db.Dialect(); got != tt.dialect {
			t.Errorf("Open(%q).Dialect() = %q, want %q", tt.url, got, tt.dialect)
		}
		db.Close()
		// Migrating twice is a no-op.
		if err := sqlstore.Migrate(t.Context(), tt.url); err != nil && tt.url != "sqlite::memory:" {
			t.Errorf("Migrate(%q) after Open = %v", tt.url, err)
		}
	}
}

// TestSQLiteOneProcess: a second store on a file that one already serves is
// refused (its cache would miss the first one's changes), and the file is
// free again once the first closes.
func TestSQLiteOneProcess(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	first, err := sqlstore.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := sqlstore.Open(t.Context(), url, nil); err == nil {
		second.Close()
		t.Fatal("a second Open of a served SQLite file succeeded, want it refused")
	} else if !strings.Contains(err.Error(), "in use by another gatehouse process") {
		t.Errorf("second Open = %v, want it to say the file is in use", err)
	}
	if err := sqlstore.Migrate(t.Context(), url); err == nil {
		t.Error("Migrate of a served SQLite file succeeded, want it refused")
	}
	// The same file named with URI parameters is the same file.
	if second, err := sqlstore.Open(t.Context(), url+"?cache=private", nil); err == nil {
		second.Close()
		t.Error("a second Open of the file with URI parameters succeeded, want it refused")
	}
	first.Close()
	again, err := sqlstore.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("Open after the first store closed = %v", err)
	}
	again.Close()
}

// TestSQLiteSyncsEveryCommit: every connection of a file database syncs the WAL at each
// commit (synchronous=FULL, 2), so an acknowledged write survives a power cut, not only a
// killed process.
func TestSQLiteSyncsEveryCommit(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "g.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, conn := range map[string]*sql.DB{"writer": db.Writer(), "reader": db.SQL()} {
		var mode, journal string
		if err := conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if mode != "2" || journal != "wal" {
			t.Errorf("%s: synchronous = %s, journal_mode = %s; want 2 (FULL) and wal", name, mode, journal)
		}
	}
}
