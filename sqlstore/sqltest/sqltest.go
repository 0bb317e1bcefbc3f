// Package sqltest gives tests of any package a fresh, migrated database of either dialect.
//
// SQLite needs nothing: each database is a file in the test's temporary directory.
// PostgreSQL needs a server: GATEHOUSE_TEST_DATABASE_URL names a role that may create
// databases (`eval "$(.ci/start-postgres)"` starts one and sets it). Each test gets a
// database of its own, dropped when it ends. Without the variable the PostgreSQL tests
// are skipped, except under CI (CI non-empty), where they fail: CI must run them.
package sqltest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/sqlstore"
)

// EnvDatabaseURL names the variable holding the PostgreSQL server for tests.
const EnvDatabaseURL = "GATEHOUSE_TEST_DATABASE_URL"

// Dialects lists the dialects a test can ask for, for tests that run on each.
var Dialects = []string{sqlstore.SQLite, sqlstore.Postgres}

// Open returns a store on a fresh, migrated database of the dialect ("sqlite" or
// "postgres"), closed when the test ends. Its clock is time.Now.
func Open(tb testing.TB, dialect string) *sqlstore.DB {
	tb.Helper()
	return OpenWithClock(tb, dialect, nil)
}

// OpenWithClock is Open with the store's clock (nil means time.Now).
func OpenWithClock(tb testing.TB, dialect string, now func() time.Time) *sqlstore.DB {
	tb.Helper()
	u := NewDatabaseURL(tb, dialect)
	db, err := sqlstore.Open(context.Background(), u, now)
	if err != nil {
		tb.Fatalf("sqlstore.Open(%s database) = %v", dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// NewDatabaseURL returns the URL of a fresh, empty database of the dialect (not yet
// migrated), removed when the test ends: for tests that start the whole program.
func NewDatabaseURL(tb testing.TB, dialect string) string {
	tb.Helper()
	switch dialect {
	case sqlstore.SQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "gatehouse.db")
	case sqlstore.Postgres:
		return newPostgresDatabase(tb)
	}
	tb.Fatalf("sqltest: unknown dialect %q", dialect)
	return ""
}

// PostgresURL returns GATEHOUSE_TEST_DATABASE_URL; when it is unset it skips the test, or
// fails it under CI.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u != "" {
		return u
	}
	if os.Getenv("CI") != "" {
		tb.Fatal(EnvDatabaseURL + " not set: CI must start PostgreSQL (see .ci/start-postgres)")
	}
	tb.Skip(EnvDatabaseURL + " not set; to run the PostgreSQL tests too, run: eval \"$(.ci/start-postgres)\"")
	return ""
}

// newPostgresDatabase creates gh_test_<random> on the test server and drops it (closing
// any connection left to it) when the test ends.
func newPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	admin := PostgresURL(tb)
	name := "gh_test_" + strings.ToLower(rand.Text())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("sqltest: connect to %s: %v", EnvDatabaseURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("sqltest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("sqltest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("sqltest: drop database %s: %v", name, err)
		}
	})

	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("sqltest: %s: %v", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}
