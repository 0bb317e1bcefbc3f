package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmts caches prepared statements of the fixed queries that every request
// runs (authentication, the project and organization, the object): parsing
// them anew each time was a third of a single check's CPU on SQLite (pgx
// keeps such a cache per connection already, so PostgreSQL skips this). A
// *sql.Stmt prepares itself on each pooled connection once and is safe for
// concurrent use. Only texts that do not vary with the arguments belong here.
type stmts struct {
	mu sync.Mutex
	m  map[*sql.DB]map[string]*sql.Stmt
}

func (c *stmts) get(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[pool][query]; ok {
		return st, nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[*sql.DB]map[string]*sql.Stmt{}
	}
	if c.m[pool] == nil {
		c.m[pool] = map[string]*sql.Stmt{}
	}
	c.m[pool][query] = st
	return st, nil
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, byQuery := range c.m {
		for _, st := range byQuery {
			st.Close()
		}
	}
	c.m = nil
}

// queryRowHot runs a fixed read query through its cached statement.
func (db *DB) queryRowHot(ctx context.Context, query string, args ...any) *sql.Row {
	if db.dialect == Postgres {
		return db.db.QueryRowContext(ctx, query, args...) // pgx caches statements per connection itself
	}
	st, err := db.stmts.get(ctx, db.db, query)
	if err != nil {
		// Let the plain path report the error the way callers expect.
		return db.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// queryHot runs a fixed read query through its cached statement.
func (db *DB) queryHot(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.dialect == Postgres {
		return db.db.QueryContext(ctx, query, args...)
	}
	st, err := db.stmts.get(ctx, db.db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// idArgs turns a chunk of ids into arguments padded to a power of two (the
// last id repeated: duplicates change nothing in an IN list), so that an IN
// query has one of a few texts and its statement can be cached.
func idArgs(chunk []int64) []any { return inArgs(chunk) }

// inArgs is idArgs for values of any type (uuids, say).
func inArgs[T any](chunk []T) []any {
	n := 1
	for n < len(chunk) {
		n *= 2
	}
	n = min(n, idsPerQuery)
	args := make([]any, n)
	for i := range args {
		args[i] = chunk[min(i, len(chunk)-1)]
	}
	return args
}
