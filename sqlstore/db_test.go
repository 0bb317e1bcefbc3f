package sqlstore_test

import (
	"path/filepath"
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
		// Migrating twice is a no-op.
		if err := sqlstore.Migrate(t.Context(), tt.url); err != nil && tt.url != "sqlite::memory:" {
			t.Errorf("Migrate(%q) after Open = %v", tt.url, err)
		}
		db.Close()
	}
}
