package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
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

// TestPostgresReplicaCaches: two replicas on one database, each serving
// keys, projects and heads from memory. What one changes reaches the other's
// reads through the change notice, and after the listeners' connections are
// cut the changes made meanwhile are not missed.
func TestPostgresReplicaCaches(t *testing.T) {
	url, a, b := twoReplicas(t)
	ctx, now := t.Context(), time.Now()
	u := &gatehouse.User{Email: "r@example.com", FirstName: "R", PasswordHash: "h"}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	org := &gatehouse.Organization{Name: "O"}
	p := &gatehouse.Project{Name: "P"}
	if err := a.CreateOrganization(ctx, org, u.ID, p); err != nil {
		t.Fatal(err)
	}
	key := &gatehouse.APIKey{UserID: u.ID, Label: "k", ValueHash: "replica-hash", MaskValue: "phx_…h"}
	if err := a.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	// eventually polls b until cond holds, and reports how long it took.
	eventually := func(what string, cond func() bool) {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("replica b never saw %s", what)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("replica b saw %s after %v", what, time.Since(start))
	}
	warm := func() {
		t.Helper()
		for range 2 {
			if _, err := b.APIKeyUser(ctx, "replica-hash", now); err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.ProjectOrganization(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	warm()
	org.Name = "O renamed"
	if err := a.UpdateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	eventually("the organization's new name", func() bool {
		_, o, err := b.ProjectOrganization(ctx, p.ID)
		return err == nil && o.Name == "O renamed"
	})

	// Cut every listener: b's cache must not serve what changes before it
	// listens again.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	warm()
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN gatehouse_changes%' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	u.FirstName = "R renamed"
	if err := a.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	eventually("the user's new name after its listener was cut", func() bool {
		got, err := b.APIKeyUser(ctx, "replica-hash", now)
		return err == nil && got.FirstName == "R renamed"
	})

	list := func(db *sqlstore.DB) int {
		heads, err := db.ResourceHeads(ctx, p.ID, access.FeatureFlags)
		if err != nil {
			t.Fatal(err)
		}
		return len(heads)
	}
	list(b)
	list(b)
	if err := a.CreateResource(ctx, &gatehouse.Resource{ProjectID: p.ID, Kind: access.FeatureFlags, Key: "new", CreatedBy: u.ID}); err != nil {
		t.Fatal(err)
	}
	eventually("the new flag in its list", func() bool { return list(b) == 1 })
	heads, err := a.ResourceHeads(ctx, p.ID, access.FeatureFlags)
	if err != nil || len(heads) != 1 {
		t.Fatalf("ResourceHeads() through a = %v, %v", heads, err)
	}
	row := func(db *sqlstore.DB) string {
		rs, err := db.ResourcesByID(ctx, []int64{heads[0].ID})
		if err != nil || len(rs) != 1 {
			t.Fatalf("ResourcesByID() = %v, %v", rs, err)
		}
		return rs[0].Key
	}
	row(b)
	row(b) // from b's memory now
	if _, err := a.UpdateResourceFunc(ctx, p.ID, access.FeatureFlags, heads[0].ID, func(r *gatehouse.Resource) error {
		r.Key = "renamed"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := row(a); got != "renamed" {
		t.Errorf("a reads its own update as key %q", got)
	}
	eventually("the flag's new key", func() bool { return row(b) == "renamed" })
	if err := a.DeleteResource(ctx, p.ID, access.FeatureFlags, heads[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually("the flag gone from its list", func() bool { return list(b) == 0 })

	warm()
	if err := a.DeleteAPIKey(ctx, u.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	eventually("the key revoked", func() bool {
		_, err := b.APIKeyUser(ctx, "replica-hash", now)
		return gatehouse.ErrorCode(err) == gatehouse.ENotFound
	})
}

// TestPostgresDeprovisionBarrier: deprovisioning through one replica returns only once the
// other has dropped the user's key and the organization's cached revision, so that the
// very next read there is refused, with no polling. Without the barrier replica b answers
// from memory until its listener catches up.
func TestPostgresDeprovisionBarrier(t *testing.T) {
	_, a, b := twoReplicas(t)
	ctx, now := gatehouse.WithActorName(t.Context(), "SCIM (acme.test)"), time.Now()
	owner := &gatehouse.User{Email: "o@example.com", FirstName: "O", PasswordHash: "h"}
	if err := a.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	org := &gatehouse.Organization{Name: "O"}
	if err := a.CreateOrganization(ctx, org, owner.ID, &gatehouse.Project{Name: "P"}); err != nil {
		t.Fatal(err)
	}
	d := &gatehouse.Domain{OrganizationID: org.ID, Domain: "acme.test"}
	if err := a.CreateDomain(ctx, d, owner.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !a.CacheLive() || !b.CacheLive(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replicas' listeners never came up")
		}
	}
	for i := range 20 {
		su := &gatehouse.SCIMUser{DomainID: d.ID, UserName: fmt.Sprintf("u%d@acme.test", i), Active: true}
		if err := a.ProvisionSCIMUser(ctx, org.ID, su); err != nil {
			t.Fatal(err)
		}
		hash := fmt.Sprintf("key-%d", i)
		if err := a.CreateAPIKey(ctx, &gatehouse.APIKey{UserID: su.User.ID, Label: "k", ValueHash: hash, MaskValue: "m"}); err != nil {
			t.Fatal(err)
		}
		// b holds the key and the organization in memory.
		for range 2 {
			if _, err := b.APIKeyUser(ctx, hash, now); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Organization(ctx, org.ID); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := b.Organization(ctx, org.ID)
		deprovision := func() error {
			_, err := a.UpdateSCIMUser(ctx, org.ID, d.ID, su.User.ID, func(su *gatehouse.SCIMUser) error { su.Active = false; return nil })
			return err
		}
		if i%2 == 1 {
			deprovision = func() error { return a.DeleteSCIMUser(ctx, org.ID, d.ID, su.User.ID) }
		}
		if err := deprovision(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.APIKeyUser(ctx, hash, now); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			t.Fatalf("round %d: replica b let the deprovisioned user's key in right after: %v", i, err)
		}
		if after, _ := b.Organization(ctx, org.ID); after.RulesRevision <= before.RulesRevision {
			t.Fatalf("round %d: replica b decides on revision %d right after the deprovisioning, want past %d", i, after.RulesRevision, before.RulesRevision)
		}
	}
}

// twoReplicas opens two stores on one fresh PostgreSQL database, as two replicas would,
// and returns the database's URL with them.
func twoReplicas(t *testing.T) (url string, a, b *sqlstore.DB) {
	t.Helper()
	url = sqltest.NewDatabaseURL(t, sqlstore.Postgres)
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return url, open(), open()
}
