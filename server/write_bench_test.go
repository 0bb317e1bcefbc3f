package server_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// BenchmarkRuleWrites measures permission changes through the API as rules pile up: an
// organization holding 100, 10,000 or 100,000 object rules (seeded in bulk, one per
// object, for 100 members and everyone) takes writes from 8 clients on loopback, each
// operation a change of one object rule of one member (put at a new level, or removed
// with access_level null), each its own transaction with its activity row, revision bump
// and logged rule change. It reports the rate, the median and the 99th percentile latency;
// the rate at 100,000 rules over the rate at 100 is what must stay near 1.
//
//	eval "$(.ci/start-postgres)" && go test ./server -run '^$' -bench RuleWrites -benchtime 2000x -timeout 30m
func BenchmarkRuleWrites(b *testing.B) {
	for _, dialect := range dialects {
		for _, rules := range []int{100, 10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/%d-rules", dialect, rules), func(b *testing.B) {
				db := sqltest.Open(b, dialect)
				e := newEnvOn(b, db, license.Enterprise)
				ms := e.membershipID(e.member(1))
				seedRules(b, db, e, rules)
				var paths []string
				for range 64 {
					paths = append(paths, e.owner.create(0))
				}
				levels := []string{`"viewer"`, `"editor"`, `"none"`, `null`}
				e.owner.must("GET", paths[0], nil, 200) // the snapshot is compiled before the clock starts
				var (
					n       atomic.Int64
					mu      sync.Mutex
					latency []time.Duration
				)
				b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var mine []time.Duration
					for pb.Next() {
						i := n.Add(1)
						// Each object's rule goes viewer, editor, none, removed, in turn: every
						// write changes a rule.
						body := fmt.Sprintf(`{"access_level":%s,"organization_member":%q}`, levels[(i/64)%4], ms)
						req, _ := http.NewRequest("PUT", e.srv.URL+paths[i%64]+"/access_controls", strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+e.owner.token)
						start := time.Now()
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != 200 && resp.StatusCode != 204 {
							b.Errorf("PUT access_controls: %v %v", resp, err)
							return
						}
						resp.Body.Close()
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					latency = append(latency, mine...)
					mu.Unlock()
				})
				b.StopTimer()
				slices.Sort(latency)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
				if len(latency) > 0 {
					b.ReportMetric(float64(latency[len(latency)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}

// seedRules gives e's organization n feature flags in its project, each with one object
// rule (for one of 100 members, or for everyone), written in bulk.
func seedRules(tb testing.TB, db *sqlstore.DB, e *env, n int) {
	tb.Helper()
	ctx := context.Background()
	users := make([]gatehouse.User, 100)
	for i := range users {
		users[i] = gatehouse.User{Email: "seed" + strconv.Itoa(i) + "@example.com", FirstName: "Seed"}
	}
	if err := db.ImportMembers(ctx, e.orgID, users, access.MemberLevel); err != nil {
		tb.Fatal(err)
	}
	objs := make([]gatehouse.Resource, n)
	for i := range objs {
		objs[i] = gatehouse.Resource{Kind: access.FeatureFlags, ProjectID: e.proj, Key: "seed-" + strconv.Itoa(i), Data: []byte(`{"name":"Seed ` + strconv.Itoa(i) + `"}`)}
	}
	if err := db.ImportResources(ctx, objs); err != nil {
		tb.Fatal(err)
	}
	rules := make([]gatehouse.Rule, n)
	for i, o := range objs {
		r := access.Rule{Scope: access.ScopeObject, Project: e.proj, Kind: access.FeatureFlags, Object: o.ID, Level: access.Level(i % 4)}
		if i%5 != 0 {
			r.User = users[i%len(users)].ID
		}
		rules[i] = gatehouse.Rule{Rule: r}
	}
	if err := db.ImportRules(ctx, e.orgID, rules); err != nil {
		tb.Fatal(err)
	}
}
