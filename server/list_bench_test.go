package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// BenchmarkListRestricted is issue 3's list target: 100,000 flags in one
// project, 2,000 object rules hiding flags from everyone, and a plain member
// asking for the first page of 100 (and a page deep inside the list).
//
//	go test ./server -run '^$' -bench ListRestricted -benchtime 50x
func BenchmarkListRestricted(b *testing.B) {
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			db := sqltest.Open(b, dialect)
			e := newEnvOn(b, db, license.Enterprise)
			m := e.member(1)
			const objects, rules = 100_000, 2_000
			batch := make([]gatehouse.Resource, objects)
			start := time.Now().Add(-time.Duration(objects) * time.Millisecond)
			for i := range batch {
				batch[i] = gatehouse.Resource{Kind: access.FeatureFlags, ProjectID: e.proj, Key: fmt.Sprintf("flag-%d", i),
					CreatedBy: e.owner.id, CreatedAt: start.Add(time.Duration(i) * time.Millisecond), Data: []byte(`{"name":"","filters":{"groups":[{"properties":[],"rollout_percentage":null}]},"active":true,"ensure_experience_continuity":false}`)}
			}
			ctx := context.Background()
			if err := db.ImportResources(ctx, batch); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range rules {
				obj := batch[rng.IntN(objects)].ID
				rl := &gatehouse.Rule{OrganizationID: e.orgID, Rule: access.Rule{Scope: access.ScopeObject, Project: e.proj, Kind: access.FeatureFlags, Object: obj, Level: access.None}}
				if err := db.PutRule(ctx, rl, e.owner.id); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Analyze(ctx); err != nil {
				b.Fatal(err)
			}
			first := m.must("GET", e.projPath("/feature_flags?limit=100"), nil, 200)
			if n := first.num("count"); n >= objects || n < objects-rules {
				b.Fatalf("member sees %v flags, want fewer than %d", n, objects)
			}
			for _, page := range []struct{ name, query string }{{"first", "limit=100"}, {"deep", "limit=100&offset=50000"}} {
				b.Run(page.name, func(b *testing.B) {
					req, _ := http.NewRequest("GET", e.srv.URL+e.projPath("/feature_flags?"+page.query), nil)
					req.Header.Set("Authorization", "Bearer "+m.token)
					for b.Loop() {
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != 200 {
							b.Fatalf("list: %v %v", resp, err)
						}
						resp.Body.Close()
					}
				})
			}
			// after-create: each page follows a new flag, so the kind's list is
			// read from the database again (the cache's worst case).
			b.Run("after-create", func(b *testing.B) {
				req, _ := http.NewRequest("GET", e.srv.URL+e.projPath("/feature_flags?limit=100"), nil)
				req.Header.Set("Authorization", "Bearer "+m.token)
				n := 0
				for b.Loop() {
					b.StopTimer()
					n++
					e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": fmt.Sprintf("new-%d", n)}, 201)
					b.StartTimer()
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != 200 {
						b.Fatalf("list: %v %v", resp, err)
					}
					resp.Body.Close()
				}
			})
		})
	}
}
