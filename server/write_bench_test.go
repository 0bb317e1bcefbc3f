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
	// As after any bulk load: the planner must know the rule table is large.
	if err := db.Analyze(ctx); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkReplicaPropagation runs two servers on one PostgreSQL database whose
// organization holds 100,000 object rules, and measures, for each rule change written
// through A, the time from A's answer until B decides on the change (B polled every half
// millisecond): its change notice, the logged change read and replayed onto B's snapshot.
//
//	eval "$(.ci/start-postgres)" && go test ./server -run '^$' -bench ReplicaPropagation -benchtime 200x -timeout 30m
func BenchmarkReplicaPropagation(b *testing.B) {
	sqltest.PostgresURL(b)
	dbURL := sqltest.NewDatabaseURL(b, sqlstore.Postgres)
	var stores []*sqlstore.DB
	for range 2 {
		db, err := sqlstore.Open(context.Background(), dbURL, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		stores = append(stores, db)
	}
	a := newEnvFor(b, newWatchingServerOn(b, stores[0]))
	rb := a.on(newWatchingServerOn(b, stores[1]))
	waitForListeners(b, dbURL, 2)
	bob := a.member(access.MemberLevel)
	ms := a.membershipID(bob)
	seedRules(b, stores[0], a, 100_000)
	flag := a.owner.create(0)
	level := func(e *env) string {
		got := bob.as(e).do("GET", flag, nil)
		if got.status != 200 {
			return "none"
		}
		return fmt.Sprint(got.get("user_access_level"))
	}
	level(a)
	level(rb)
	levels := []string{"viewer", "editor", "none", "manager"}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		lvl := levels[i%4]
		a.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": lvl, "organization_member": ms}, 200)
		acked := time.Now()
		for level(rb) != lvl {
			if time.Since(acked) > 10*time.Second {
				b.Fatalf("write %d never reached the other replica", i)
			}
			time.Sleep(500 * time.Microsecond)
		}
		took = append(took, time.Since(acked))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}
