// Package sqlstore implements gatehouse.Store on SQLite (modernc.org/sqlite, pure Go) and on
// PostgreSQL (pgx), with one SQL text for both wherever the engines agree.
//
// Both engines see the same values: UUID ids are text, timestamps are UTC with microsecond
// precision (text in SQLite, timestamptz in PostgreSQL), a resource's Data and an activity's
// changes are JSON kept as text, so they come back byte for byte as written.
//
// Every method that changes who may do what runs in one transaction that first locks the
// organization's row, writes the change and its activity-log row, and bumps the
// organization's rules_revision. Locking first serialises the permission changes of one
// organization, so each can read the state it changes ("before") without racing another.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// The dialects Dialect reports.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// DB is a gatehouse.Store on a SQLite or PostgreSQL database.
type DB struct {
	db *sql.DB
	// w is where writes go: db itself on PostgreSQL; on SQLite a pool of one connection
	// of its own (see open).
	w *sql.DB
	// writeTurn orders write transactions on SQLite's one writer first come, first
	// served (nil on PostgreSQL, where row locks queue in order): database/sql hands
	// a freed connection to a random waiter, and with eight writers queued some
	// waited five times the median (gatehouse-load --ops rules, p99 60 ms at p50
	// 11 ms). Blocked senders on a channel are woken in the order they came.
	writeTurn chan struct{}
	pool      *pgxpool.Pool // PostgreSQL only
	dialect   string
	now       func() time.Time
	// forUpdate ends a SELECT that locks the rows it reads. SQLite has no row locks and
	// needs none: every write transaction begins IMMEDIATE and so holds the one write lock.
	forUpdate string
	// forShare ends a SELECT that keeps the rows it reads from changing until the
	// transaction ends, while letting other readers share them (PostgreSQL only, as above).
	forShare string
	stmts    stmts

	cache  *cache
	recent recentChanges // the rule changes this process committed lately
	// pending holds each open write transaction's notices (see notify), and
	// committed what each does once it has committed (see afterCommit).
	barriers  barriers
	pendingMu sync.Mutex
	pending   map[*sql.Tx][]notice
	committed map[*sql.Tx][]func()
	ended     map[*sql.Tx][]func() // what each does once it has ended, committed or not
	watchMu   sync.Mutex
	watchers  []*watcher
	// stopListening ends the PostgreSQL listener; listenDone closes when it has.
	stopListening context.CancelFunc
	listenDone    chan struct{}
	// unlock releases the SQLite file's lock.
	unlock func() error
	// log receives what the store does on its own (the PostgreSQL listener,
	// which runs from Open on); nil: nothing.
	log atomic.Pointer[slog.Logger]
}

// SetLogger makes the store report what it does on its own, such as losing and
// regaining its PostgreSQL change notices.
func (db *DB) SetLogger(l *slog.Logger) { db.log.Store(l) }

var _ gatehouse.Store = (*DB)(nil)

// sqliteReaders bounds the SQLite reader pool: reads run in parallel in WAL
// mode, but past a few per core they only queue inside the engine.
const sqliteReaders = 16

// Open connects to databaseURL, applies any pending migrations and returns the store.
//
// databaseURL is "sqlite:PATH" (PATH may be ":memory:", one connection then) or a
// PostgreSQL URL ("postgres://…" or "postgresql://…"). now is the clock for every
// timestamp the store sets; nil means time.Now.
func Open(ctx context.Context, databaseURL string, now func() time.Time) (*DB, error) {
	db, err := open(ctx, databaseURL, now)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.dialect == Postgres {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		db.stopListening = cancel
		db.startListening(lctx)
	} else if db.unlock != nil || db.w == db.db {
		// One process has the file (lockFile), or the database is in memory:
		// every change is made here.
		db.cache.liveUntil.Store(alwaysLive)
	}
	return db, nil
}

// Migrate applies any pending migrations to the database at databaseURL and disconnects.
// Several processes may run it at once against PostgreSQL: they migrate one at a time.
func Migrate(ctx context.Context, databaseURL string) error {
	db, err := open(ctx, databaseURL, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.migrate(ctx)
}

func open(ctx context.Context, databaseURL string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	db := &DB{now: now, cache: newCache(), pending: map[*sql.Tx][]notice{}, committed: map[*sql.Tx][]func(){}, ended: map[*sql.Tx][]func(){}}
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(databaseURL, "sqlite:")
		path = strings.TrimPrefix(path, "//") // sqlite:///abs/path
		if path == "" {
			return nil, fmt.Errorf("sqlstore: %q names no file", databaseURL)
		}
		dsn, memory := sqliteDSN(path)
		if memory {
			sqlDB, err := sql.Open("sqlite", dsn)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
			}
			// Every connection to :memory: is a database of its own: keep one, forever.
			sqlDB.SetMaxOpenConns(1)
			sqlDB.SetConnMaxLifetime(0)
			sqlDB.SetConnMaxIdleTime(0)
			db.db, db.w = sqlDB, sqlDB
		} else {
			// Writes get one connection of their own. SQLite has one writer at a time
			// anyway; with writers spread over several connections they queue inside
			// SQLite's busy handler, which is not fair, and under load some waited past
			// busy_timeout and failed with SQLITE_BUSY (TestConcurrentClients with
			// GATEHOUSE_SOAK=1 and -race). Transactions take turns on the one writer
			// first come, first served (writeTurn), honouring the request's context; readers keep
			// their own pool and, in WAL mode, never wait for the writer. The readers
			// are query_only, so a write sent to the wrong pool fails loudly.
			// busy_timeout still covers other processes on the same file.
			file, _, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?") // the file, without URI parameters
			unlock, err := lockFile(file)
			if err != nil {
				return nil, err
			}
			db.unlock = unlock
			w, err := sql.Open("sqlite", dsn)
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
			}
			w.SetMaxOpenConns(1)
			r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
			if err != nil {
				w.Close()
				db.Close()
				return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
			}
			// Keep the connections a busy server uses: each new SQLite connection
			// opens the file and prepares its statements again. database/sql keeps
			// only two idle ones by default, so eight concurrent requests churned.
			w.SetMaxIdleConns(1)
			r.SetMaxOpenConns(sqliteReaders)
			r.SetMaxIdleConns(sqliteReaders)
			db.db, db.w = r, w
			db.writeTurn = make(chan struct{}, 1)
		}
		db.dialect = SQLite
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
		}
		db.db, db.pool, db.dialect = stdlib.OpenDBFromPool(pool), pool, Postgres
		db.w = db.db
		db.forUpdate, db.forShare = " FOR UPDATE", " FOR SHARE"
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database URL %q: want sqlite:PATH or postgres://…", redact(databaseURL))
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", db.dialect, err)
	}
	return db, nil
}

// sqliteDSN returns modernc's DSN for path: WAL so that readers never wait for the writer,
// a busy timeout so that writers queue instead of failing, foreign keys (off by default in
// SQLite) for the cascades, and IMMEDIATE write transactions so that a transaction that
// reads and then writes takes the write lock up front and cannot fail to upgrade.
//
// synchronous=FULL: in WAL mode NORMAL syncs only at checkpoints, so a power cut or an
// operating-system crash can roll back the last acknowledged commits, and for an
// access-control product that is a revocation that silently comes back. FULL syncs the WAL
// at every commit, so whatever the API acknowledged survives.
func sqliteDSN(path string) (dsn string, memory bool) {
	params := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	memory = path == ":memory:" || strings.Contains(path, "mode=memory")
	if !memory {
		params = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&" + params
	}
	path = strings.TrimPrefix(path, "file:")
	if strings.Contains(path, "?") {
		return "file:" + path + "&" + params, memory
	}
	return "file:" + path + "?" + params, memory
}

// redact hides a password in a URL-looking string for error messages.
func redact(s string) string {
	if i, j := strings.Index(s, "://"), strings.LastIndex(s, "@"); i >= 0 && j > i {
		return s[:i+3] + "…" + s[j:]
	}
	return s
}

// migrate applies the embedded migrations of db's dialect with goose. On PostgreSQL a
// session-level advisory lock makes replicas that start together migrate one at a time.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateTo(ctx, 0)
}

// migrateTo is migrate up to version (0: every migration), for tests of a migration.
func (db *DB) migrateTo(ctx context.Context, version int64) error {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	// Besides the SQL files, migrations written in Go: what SQL cannot compute alike on
	// both engines.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(foldRoleNames)}
	if db.dialect == Postgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
		// Retry every second for up to five minutes: a replica waits for another's migration.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("sqlstore: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Close closes the database.
func (db *DB) Close() error {
	if db.stopListening != nil {
		db.stopListening()
		<-db.listenDone
	}
	db.stmts.close()
	var err error
	if db.db != nil {
		err = db.db.Close()
	}
	if db.w != nil && db.w != db.db {
		if werr := db.w.Close(); err == nil {
			err = werr
		}
	}
	if db.pool != nil {
		db.pool.Close()
	}
	if db.unlock != nil {
		if uerr := db.unlock(); err == nil {
			err = uerr
		}
	}
	return err
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// clock returns the current time as the store keeps it: UTC, to the microsecond.
func (db *DB) clock() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs fn in a read-write transaction, committing when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.inTx(ctx, nil, fn)
}

// readTx runs fn in a read-only transaction that sees one snapshot throughout: REPEATABLE
// READ on PostgreSQL; on SQLite a deferred transaction, whose WAL snapshot is fixed at its
// first read.
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.inTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

func (db *DB) inTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	if opts != nil && db.dialect == SQLite {
		// modernc ignores the isolation level; ReadOnly alone makes the BEGIN deferred.
		opts = &sql.TxOptions{ReadOnly: true}
	}
	conn := db.db
	if opts == nil {
		conn = db.w
		if db.writeTurn != nil {
			select {
			case db.writeTurn <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { <-db.writeTurn }()
		}
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer db.settle(tx)
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.pendingMu.Lock()
	after := db.committed[tx]
	delete(db.committed, tx)
	db.pendingMu.Unlock()
	for _, f := range after {
		f()
	}
	return nil
}

// afterCommit runs f once tx has committed; not at all if it does not.
func (db *DB) afterCommit(tx *sql.Tx, f func()) {
	db.pendingMu.Lock()
	db.committed[tx] = append(db.committed[tx], f)
	db.pendingMu.Unlock()
}

// newID returns a new UUID for a row. Version 7 UUIDs grow with time, which keeps the
// primary-key indexes append-mostly and makes "created_at, id" a stable order.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// affected turns "no row changed" into ENotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.NotFound()
	}
	return nil
}

// notFound turns sql.ErrNoRows into ENotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.NotFound()
	}
	return err
}

// lockOrganization locks the organization's row for the rest of tx (see the package
// comment) and returns ENotFound when it does not exist. When ctx's request was
// authorized on the organization's rules at another revision than the one tx now holds,
// and those rules no longer allow it alike, it returns gatehouse.ErrStaleDecision
// (gatehouse.HoldsDecision): the request must be authorized again before it changes
// anything.
func (db *DB) lockOrganization(ctx context.Context, tx *sql.Tx, orgID string) error {
	var rev int64
	err := tx.QueryRowContext(ctx, `SELECT rules_revision FROM organizations WHERE id = $1`+db.forUpdate, orgID).Scan(&rev)
	if err != nil {
		return notFound(err)
	}
	return db.holds(ctx, tx, orgID, rev)
}

// holdDecision is lockOrganization for a write that changes no permission (an object, a
// project, an invite): when ctx's request was authorized on its organization's rules, it
// reads their revision in tx and checks the decision still holds there. On PostgreSQL the
// row is read FOR SHARE, so a permission change (which locks it FOR UPDATE) waits for tx,
// and tx for it, while such writes do not wait for each other; on SQLite tx holds the
// write lock already. Without a decision in ctx it reads nothing.
func (db *DB) holdDecision(ctx context.Context, tx *sql.Tx) error {
	orgID, _, ok := gatehouse.DecidedRevision(ctx)
	if !ok {
		return nil
	}
	var rev int64
	err := tx.QueryRowContext(ctx, `SELECT rules_revision FROM organizations WHERE id = $1`+db.forShare, orgID).Scan(&rev)
	if err != nil {
		return notFound(err)
	}
	return db.holds(ctx, tx, orgID, rev)
}

// holds asks gatehouse.HoldsDecision, reading the rules in tx when it needs them: a
// transaction holding the organization's row must not wait for another connection.
func (db *DB) holds(ctx context.Context, tx *sql.Tx, orgID string, rev int64) error {
	return gatehouse.HoldsDecision(ctx, orgID, rev, gatehouse.RulesAt{
		Facts: func() (access.Facts, error) {
			f, _, err := db.accessFacts(ctx, tx, orgID)
			return f, err
		},
		Changes: func(from int64) ([]access.RuleChange, bool, error) {
			changes, _, ok, err := db.ruleChanges(ctx, tx, orgID, from, rev)
			return changes, ok, err
		},
	})
}

// placeholders returns "$from, $from+1, …" for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}
