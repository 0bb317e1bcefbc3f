package sqlstore_test

import (
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/sqlstore/storetest"
)

// The PostgreSQL tests need GATEHOUSE_TEST_DATABASE_URL: run eval "$(.ci/start-postgres)".

func TestPostgres(t *testing.T) {
	sqltest.PostgresURL(t) // skip (or, under CI, fail) once rather than in every subtest
	storetest.Run(t, func(t *testing.T) gatehouse.Store { return sqltest.Open(t, sqlstore.Postgres) })
}

// TestPostgresConcurrentOpen starts several replicas on one new database at once: the
// migration lock makes them migrate one at a time, so every Open succeeds.
func TestPostgresConcurrentOpen(t *testing.T) {
	url := sqltest.NewDatabaseURL(t, sqlstore.Postgres)
	const replicas = 3
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			db, err := sqlstore.Open(t.Context(), url, nil)
			if err == nil {
				err = db.Ping(t.Context())
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open(replica %d) = %v", i, err)
		}
	}
	if err := sqlstore.Migrate(t.Context(), url); err != nil {
		t.Errorf("Migrate(migrated database) = %v", err)
	}
}
