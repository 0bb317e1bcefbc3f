package bench

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/gatehouse/gatehouse/access"
)

// The organization of the comparison: 1,000 members, 50 roles, 10,000 feature flags and
// 2,000 per-object role grants, PostHog's 2023 feature set.
const (
	members = 1_000
	roles   = 50
	objects = 10_000
	grants  = 2_000
)

type fixture struct {
	w      *Workspace
	snap   *access.Snapshot
	plain  *casbin.Enforcer
	pairs  []pair // random (user, object), 2% strangers
	lister int64  // a plain member in roles, not an admin: the user whose list is filtered
}

type pair struct {
	user int64
	o    access.Object
}

var loadFixture = sync.OnceValues(func() (*fixture, error) {
	f := &fixture{w: NewWorkspace(1, members, roles, objects, grants)}
	f.snap = access.Compile(f.w.Facts())
	m, err := model.NewModelFromString(CasbinModel)
	if err != nil {
		return nil, err
	}
	if f.plain, err = casbin.NewEnforcer(m); err != nil {
		return nil, err
	}
	policies, groupings := f.w.CasbinPolicies()
	if _, err := f.plain.AddPolicies(policies); err != nil {
		return nil, err
	}
	if _, err := f.plain.AddGroupingPolicies(groupings); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for range 1 << 12 {
		f.pairs = append(f.pairs, pair{int64(rng.IntN(members+members/50) + 1), f.w.Objects[rng.IntN(len(f.w.Objects))]})
	}
	for u := int64(2); f.lister == 0; u++ {
		if len(f.snap.RolesOf(u)) >= 2 && f.snap.MembershipLevel(u) == access.MemberLevel {
			f.lister = u
		}
	}
	return f, nil
})

func mustFixture(tb testing.TB) *fixture {
	tb.Helper()
	f, err := loadFixture()
	if err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return f
}

// allowed is Gatehouse's answer to "may user act on o".
func allowed(s *access.Snapshot, user int64, o access.Object, act string) bool {
	d := s.Decide(user, o)
	if act == "edit" {
		return d.CanEdit()
	}
	return d.CanView()
}

// TestCasbinAgrees checks, before any figure is taken, that the Casbin model answers as
// Gatehouse does on a sample of decisions (view and edit, members, admins, creators and
// strangers), so that the comparison is between two engines deciding the same thing.
func TestCasbinAgrees(t *testing.T) {
	f := mustFixture(t)
	n := 2000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(4, 5))
	edits, denied := 0, 0
	for i, p := range f.pairs[:n] {
		act := "edit"
		if i%4 == 0 {
			act = "view"
		}
		o := p.o
		if i%10 == 0 {
			o.Creator = p.user // the user's own object
		}
		if i%7 == 0 {
			o = access.Object{ID: int64(rng.IntN(objects) + 1), Kind: access.Kinds[rng.IntN(int(access.NumKinds))], Project: 1} // other kinds: type levels only
		}
		want := allowed(f.snap, p.user, o, act)
		got, err := f.plain.Enforce(CasbinRequest(p.user, o, act)...)
		if err != nil {
			t.Fatalf("Enforce: %v", err)
		}
		if got != want {
			t.Fatalf("Casbin Enforce(%d, %+v, %s) = %v, Gatehouse Decide = %+v", p.user, o, act, got, f.snap.Decide(p.user, o))
		}
		if act == "edit" {
			edits++
			if !want {
				denied++
			}
		}
	}
	// The sample must exercise both answers, or agreement proves little.
	if denied == 0 || denied == edits {
		t.Fatalf("%d of %d edit checks denied: the sample does not exercise both answers", denied, edits)
	}
	t.Logf("%d decisions agree (%d edit checks, %d denied)", n, edits, denied)
}

var sink bool

// timePerOp times n runs of op after one warm-up run: a plain loop, because a benchmark
// cannot start another (testing.Benchmark would wait for the running one to finish).
func timePerOp(n int, op func(i int)) float64 {
	op(0)
	start := time.Now()
	for i := range n {
		op(i)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// gatehouseDecideNs is Gatehouse's time per decision over the same pairs, measured once
// per run so that the Casbin benchmark can report the ratio beside its own figure.
var gatehouseDecideNs = sync.OnceValue(func() float64 {
	f, _ := loadFixture()
	mask := len(f.pairs) - 1
	return timePerOp(1<<24, func(i int) {
		p := &f.pairs[i&mask]
		sink = f.snap.Decide(p.user, p.o).CanEdit()
	})
})

func benchmarkGatehouseDecide(b *testing.B) {
	f := mustFixture(b)
	mask := len(f.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &f.pairs[i&mask]
		sink = f.snap.Decide(p.user, p.o).CanEdit()
	}
}

// BenchmarkDecision decides "may this user edit this flag" for random (user, flag) pairs:
// Gatehouse's Decide, then Casbin's Enforce with the ratio of the two (x-gatehouse: how
// many times longer Casbin takes).
func BenchmarkDecision(b *testing.B) {
	b.Run("gatehouse", benchmarkGatehouseDecide)
	b.Run("casbin", func(b *testing.B) {
		f := mustFixture(b)
		gh := gatehouseDecideNs()
		mask := len(f.pairs) - 1
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			p := &f.pairs[i&mask]
			ok, err := f.plain.Enforce(CasbinRequest(p.user, p.o, "edit")...)
			if err != nil {
				b.Fatal(err)
			}
			sink = ok
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/gh, "x-gatehouse")
	})
}

var filterOut = make([]uint64, (objects+63)/64)

// gatehouseListNs is Gatehouse's time for the whole listing, measured once per run.
var gatehouseListNs = sync.OnceValue(func() float64 {
	f, _ := loadFixture()
	return timePerOp(10_000, func(int) { f.snap.Filter(f.lister, f.w.Objects, access.Editor, filterOut) })
})

func benchmarkGatehouseList(b *testing.B) {
	f := mustFixture(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f.snap.Filter(f.lister, f.w.Objects, access.Editor, filterOut)
	}
}

// listSample is how many of the 10,000 objects one Casbin iteration decides: Enforce in a
// loop over all of them takes seconds, so each iteration decides this many (spread over
// the list) and the figure is extrapolated linearly to the whole list.
const listSample = 100

// BenchmarkList answers "which of these 10,000 flags may this user edit": Gatehouse's
// Filter over all 10,000, then Casbin's Enforce over a 100-object sample of them, whose
// time is extrapolated to 10,000 (ns/list, x-gatehouse).
func BenchmarkList(b *testing.B) {
	b.Run("gatehouse", benchmarkGatehouseList)
	b.Run("casbin-sampled", func(b *testing.B) {
		f := mustFixture(b)
		gh := gatehouseListNs()
		step := len(f.w.Objects) / listSample
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			for i := 0; i < len(f.w.Objects); i += step {
				ok, err := f.plain.Enforce(CasbinRequest(f.lister, f.w.Objects[i], "edit")...)
				if err != nil {
					b.Fatal(err)
				}
				sink = ok
			}
		}
		perList := float64(b.Elapsed().Nanoseconds()) / float64(b.N) * float64(len(f.w.Objects)/listSample)
		b.ReportMetric(perList, "ns/list")
		b.ReportMetric(perList/gh, "x-gatehouse")
	})
}
