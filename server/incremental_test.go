package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// readCounter records the store reads whose cost grows with the organization: its
// member list, all its facts, and rule lists not narrowed to one object, kind or project.
type readCounter struct {
	gatehouse.Store
	mu          sync.Mutex
	members     int
	facts       int
	wideRules   []gatehouse.RuleFilter
	ruleChanges int
}

func (s *readCounter) Members(ctx context.Context, orgID string) ([]gatehouse.Membership, error) {
	s.mu.Lock()
	s.members++
	s.mu.Unlock()
	return s.Store.Members(ctx, orgID)
}

func (s *readCounter) AccessFacts(ctx context.Context, orgID string) (access.Facts, int64, error) {
	s.mu.Lock()
	s.facts++
	s.mu.Unlock()
	return s.Store.AccessFacts(ctx, orgID)
}

func (s *readCounter) RuleChanges(ctx context.Context, orgID string, from int64) ([]access.RuleChange, int64, bool, error) {
	s.mu.Lock()
	s.ruleChanges++
	s.mu.Unlock()
	return s.Store.RuleChanges(ctx, orgID, from)
}

func (s *readCounter) Rules(ctx context.Context, f gatehouse.RuleFilter) ([]gatehouse.Rule, error) {
	if f.OptionalScope == nil || f.OptionalProject == nil || *f.OptionalScope == access.ScopeObject && f.OptionalObject == nil {
		s.mu.Lock()
		s.wideRules = append(s.wideRules, f)
		s.mu.Unlock()
	}
	return s.Store.Rules(ctx, f)
}

func (s *readCounter) reset() {
	s.mu.Lock()
	s.members, s.facts, s.wideRules, s.ruleChanges = 0, 0, nil, 0
	s.mu.Unlock()
}

// TestRuleWritesReadWhatTheyChange pins that a permission change through the v2 API
// (put, change of level, delete with access_level null, on an object, a kind and a
// project) reads neither the organization's member list nor a list of its rules wider
// than the one object, kind or project, and that the snapshots every next request needs
// are brought up to date from the logged rule changes, never by reading all the facts.
func TestRuleWritesReadWhatTheyChange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		store, e, bob, ms := countingEnv(t, dialect)
		flag := e.owner.create(0)
		for range 20 { // rules elsewhere, which none of the writes may read
			e.owner.must("PUT", e.owner.create(0)+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": ms}, 200)
		}
		bob.must("GET", flag, nil, 200)
		store.reset()

		writes := []struct {
			path string
			body map[string]any
			want int
		}{
			{flag + "/access_controls", map[string]any{"access_level": "none", "organization_member": ms}, 200},
			{flag + "/access_controls", map[string]any{"access_level": "editor", "organization_member": ms}, 200},
			{flag + "/access_controls", map[string]any{"access_level": "none"}, 200},
			{flag + "/access_controls", map[string]any{"access_level": nil, "organization_member": ms}, 204},
			{flag + "/access_controls", map[string]any{"access_level": nil}, 204},
			{e.projPath("/resource_access_controls"), map[string]any{"access_level": "viewer", "resource": "feature_flag", "organization_member": ms}, 200},
			{e.projPath("/resource_access_controls"), map[string]any{"access_level": nil, "resource": "feature_flag", "organization_member": ms}, 204},
			{fmt.Sprintf("/api/projects/%d/access_controls", e.proj), map[string]any{"access_level": "admin", "organization_member": ms}, 200},
			{fmt.Sprintf("/api/projects/%d/access_controls", e.proj), map[string]any{"access_level": nil, "organization_member": ms}, 204},
		}
		wantLevel := []string{"none", "editor", "editor", "none", "editor", "viewer", "editor", "manager", "editor"}
		for i, w := range writes {
			e.owner.must("PUT", w.path, w.body, w.want)
			// Bob's next decision sees the change at once.
			got := bob.do("GET", flag, nil)
			if lvl := fmt.Sprint(got.get("user_access_level")); got.status == 200 && lvl != wantLevel[i] {
				t.Errorf("after write %d (%v): bob's level %s, want %s", i, w.body, lvl, wantLevel[i])
			}
			if wantLevel[i] == "none" && got.status != 404 && got.status != 403 {
				t.Errorf("after write %d: bob reads the flag (%d), want refused", i, got.status)
			}
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		if store.members != 0 || len(store.wideRules) != 0 {
			t.Errorf("rule writes read the member list %d times and rule lists %+v, want neither", store.members, store.wideRules)
		}
		if store.facts != 0 || store.ruleChanges == 0 {
			t.Errorf("snapshots after rule writes: %d reads of all the facts, %d of the rule changes; want only the changes", store.facts, store.ruleChanges)
		}
	})
}

// TestMembershipChangeBetweenRuleChangesRebuilds pins the fallback: when a change that is
// not a rule's (a member removed) comes between rule changes, a replica holding an older
// snapshot reads all the facts again, and decides on them.
func TestMembershipChangeBetweenRuleChangesRebuilds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		store := &readCounter{Store: sqltest.Open(t, dialect)}
		e := newEnvOn(t, store, license.Enterprise)
		bob, carol := e.member(access.MemberLevel), e.member(access.MemberLevel)
		msBob, msCarol := e.membershipID(bob), e.membershipID(carol)
		flag := e.owner.create(0)
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "none"}, 200)
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "editor", "organization_member": msBob}, 200)
		store.reset()
		// A rule change, a membership change, a rule change: the log cannot replay the
		// middle one.
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "viewer", "organization_member": msCarol}, 200)
		e.owner.must("DELETE", e.orgPath("/members/"+bob.uuid), nil, 204)
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "manager", "organization_member": msCarol}, 200)
		if got := carol.must("GET", flag, nil, 200).get("user_access_level"); got != "manager" {
			t.Errorf("carol's level = %v, want manager", got)
		}
		bob.must("GET", flag, nil, 404)
		store.mu.Lock()
		defer store.mu.Unlock()
		if store.facts == 0 {
			t.Error("a membership change between rule changes was replayed from the log, want the facts read again")
		}
	})
}

// TestReplicasConverge writes rules on two servers over one PostgreSQL database, in turn
// and then at once, and checks that each server's decisions follow every change of the
// other, from the logged rule changes, and that both end deciding alike.
func TestReplicasConverge(t *testing.T) {
	sqltest.PostgresURL(t)
	url := sqltest.NewDatabaseURL(t, sqlstore.Postgres)
	var stores []*readCounter
	for range 2 {
		db, err := sqlstore.Open(context.Background(), url, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stores = append(stores, &readCounter{Store: db})
	}
	a := newEnvFor(t, newWatchingServerOn(t, stores[0]))
	b := a.on(newWatchingServerOn(t, stores[1]))
	waitForListeners(t, url, 2)
	bob := a.member(access.MemberLevel)
	ms := a.membershipID(bob)
	var flags []string
	for range 4 {
		flags = append(flags, a.owner.create(0))
	}
	levels := []string{"none", "viewer", "editor", "manager"}
	level := func(e *env, flag string) string {
		got := bob.as(e).do("GET", flag, nil)
		if got.status != 200 {
			return "none"
		}
		return fmt.Sprint(got.get("user_access_level"))
	}
	for _, e := range []*env{a, b} {
		level(e, flags[0]) // warm both snapshots
	}
	for _, st := range stores {
		st.reset()
	}
	envs := []*env{a, b}
	var slowest time.Duration
	for i := range 24 {
		w, other := envs[i%2], envs[1-i%2]
		flag, lvl := flags[i%len(flags)], levels[(i/2)%4]
		w.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": lvl, "organization_member": ms}, 200)
		acked := time.Now()
		if got := level(w, flag); got != lvl {
			t.Fatalf("write %d: bob's level on the writing replica = %s, want %s", i, got, lvl)
		}
		for level(other, flag) != lvl {
			if time.Since(acked) > 5*time.Second {
				t.Fatalf("write %d: the other replica never decided on it", i)
			}
			time.Sleep(time.Millisecond)
		}
		slowest = max(slowest, time.Since(acked))
	}
	t.Logf("slowest propagation to the other replica: %v", slowest)
	for i, st := range stores {
		st.mu.Lock()
		if st.facts != 0 || st.ruleChanges == 0 {
			t.Errorf("replica %d: %d reads of all the facts, %d of the rule changes; want only the changes", i, st.facts, st.ruleChanges)
		}
		st.mu.Unlock()
	}
	// At once from both: whatever order they commit in, both replicas agree after.
	var wg sync.WaitGroup
	for i, w := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				w.owner.do("PUT", flags[j%len(flags)]+"/access_controls", map[string]any{"access_level": levels[(i+j)%4], "organization_member": ms})
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, flag := range flags {
		for level(a, flag) != level(b, flag) {
			if time.Now().After(deadline) {
				t.Fatalf("replicas disagree on %s: %s and %s", flag, level(a, flag), level(b, flag))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// newWatchingServerOn is newWatchingServer on any store.
func newWatchingServerOn(t testing.TB, db gatehouse.Store) *httptest.Server {
	h := server.New(testConfig(db, license.Enterprise))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.WatchRules(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(validated(t, h))
	t.Cleanup(srv.Close)
	return srv
}

// TestSnapshotsCompactInTheBackground: rule changes on more objects than an overlay holds
// leave the folding to a goroutine of the server (gatehouse_snapshot_compactions_total
// moves), which reads no facts, and every decision afterwards is the rule's.
func TestSnapshotsCompactInTheBackground(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		store, e, bob, ms := countingEnv(t, dialect)
		levels := []string{"viewer", "editor", "manager"}
		var flags []string
		for range 100 { // more than the smallest overlay's limit (64)
			flags = append(flags, e.owner.create(0))
		}
		bob.must("GET", flags[0], nil, 200)
		store.reset()
		for i, f := range flags {
			e.owner.must("PUT", f+"/access_controls", map[string]any{"access_level": levels[i%3], "organization_member": ms}, 200)
		}
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, e, "gatehouse_snapshot_compactions_total") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no snapshot compacted after 100 object rule changes")
			}
			time.Sleep(10 * time.Millisecond)
		}
		for i, f := range flags {
			if got := fmt.Sprint(bob.must("GET", f, nil, 200).get("user_access_level")); got != levels[i%3] {
				t.Fatalf("flag %d: bob's level %s after the compaction, want %s", i, got, levels[i%3])
			}
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		if store.facts != 0 {
			t.Errorf("%d reads of all the facts; the compaction must replay changes only", store.facts)
		}
	})
}

// metric returns the value of an unlabelled counter or gauge from e's /metrics.
func metric(t *testing.T, e *env, name string) float64 {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for l := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", name, body)
	return 0
}

// countingEnv starts a server on a store that counts its reads, with one plain member,
// bob, and bob's membership id.
func countingEnv(t *testing.T, dialect string) (*readCounter, *env, *client, string) {
	t.Helper()
	store := &readCounter{Store: sqltest.Open(t, dialect)}
	e := newEnvOn(t, store, license.Enterprise)
	bob := e.member(access.MemberLevel)
	return store, e, bob, e.membershipID(bob)
}
