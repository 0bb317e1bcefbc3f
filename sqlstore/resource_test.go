package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestResourceHeadsPlan pins that SQLite answers ResourceHeads from the index alone, in
// its order, without sorting: list endpoints call it over every object of a kind.
func TestResourceHeadsPlan(t *testing.T) {
	db := sqltest.Open(t, sqlstore.SQLite)
	rows, err := db.SQL().QueryContext(t.Context(), `EXPLAIN QUERY PLAN
		SELECT id, created_by FROM resources
		WHERE project_id = $1 AND kind = $2 AND deleted = $3
		ORDER BY created_at DESC, id DESC`, 1, "feature_flags", false)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "COVERING INDEX resources_heads") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("ResourceHeads plan = %q, want a covering scan of resources_heads and no sort", got)
	}
}

// seedResources inserts n feature flags into project in one statement.
func seedResources(b *testing.B, db *sqlstore.DB, project int64, n int) {
	b.Helper()
	_, err := db.SQL().ExecContext(b.Context(), `
		WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1)
		INSERT INTO resources (project_id, kind, key, created_at, updated_at, deleted, data)
		SELECT $2, 'feature_flags', 'flag-' || i, $3, $3, i % 10 = 0, '{}' FROM seq`,
		n, project, time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	if err != nil {
		b.Fatalf("seed %d resources: %v", n, err)
	}
}

// BenchmarkResourceHeads lists 100,000 flags (90,000 live), as a list endpoint does.
func BenchmarkResourceHeads(b *testing.B) {
	for _, dialect := range sqltest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			if dialect == sqlstore.Postgres {
				sqltest.PostgresURL(b)
			}
			db := sqltest.Open(b, dialect)
			ctx := b.Context()
			u := &gatehouse.User{Email: "bench@example.com"}
			if err := db.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			org, p := &gatehouse.Organization{Name: "Bench"}, &gatehouse.Project{Name: "Bench"}
			if err := db.CreateOrganization(ctx, org, u.ID, p); err != nil {
				b.Fatal(err)
			}
			seedResources(b, db, p.ID, 100_000)
			if dialect == sqlstore.Postgres {
				if _, err := db.SQL().ExecContext(ctx, `VACUUM ANALYZE resources`); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				heads, err := db.ResourceHeads(ctx, p.ID, access.FeatureFlags)
				if err != nil || len(heads) != 90_000 {
					b.Fatalf("ResourceHeads() = %d objects, %v, want 90000", len(heads), err)
				}
			}
		})
	}
}

// BenchmarkCreateResource creates flags from 8 goroutines at once: each
// create commits with its change notice, which PostgreSQL serialises.
func BenchmarkCreateResource(b *testing.B) {
	for _, dialect := range sqltest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			db := sqltest.Open(b, dialect)
			ctx := b.Context()
			u := &gatehouse.User{Email: "a@example.com", FirstName: "A"}
			if err := db.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			org, p := &gatehouse.Organization{Name: "O"}, &gatehouse.Project{Name: "P"}
			if err := db.CreateOrganization(ctx, org, u.ID, p); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(4) // 8 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := db.CreateResource(ctx, &gatehouse.Resource{ProjectID: p.ID, Kind: access.FeatureFlags, CreatedBy: u.ID}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}
