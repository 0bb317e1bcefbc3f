package access

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

type benchPair struct {
	user   int64
	object Object
}

type benchOrg struct {
	facts Facts
	pairs []benchPair // 1<<16 of them, so that a benchmark can index with i&(len-1)
}

// benchFacts builds a large organization shaped like a busy one: mostly plain members in a
// few roles each, organization defaults on some kinds, a few closed projects and
// project-specific kind rules, and object rules for everyone, roles and members.
func benchFacts(members, roles, objects, objectRules int) benchOrg {
	return benchFactsOf(1, 0, members, roles, objects, objectRules, 1<<16)
}

// benchFactsOf is benchFacts for one of many organizations: seed varies its shape, and its
// user, project and object ids start after base, as they would in one shared database.
func benchFactsOf(seed uint64, base int64, members, roles, objects, objectRules, pairs int) benchOrg {
	rng := rand.New(rand.NewPCG(seed, 2))
	const projects = 20
	var f Facts
	f.Enforced = true
	for i := range members {
		level := MemberLevel
		if i%50 == 0 {
			level = AdminLevel
		}
		f.Members = append(f.Members, Member{User: base + int64(i+1), Level: level})
	}
	randomUser := func() int64 { return base + int64(rng.IntN(members)+1) }
	for i := range roles {
		r := Role{ID: "role-" + strconv.Itoa(i), Name: "Role " + strconv.Itoa(i)}
		for k := range r.Levels {
			r.Levels[k] = Viewer + Level(rng.IntN(2))
		}
		f.Roles = append(f.Roles, r)
	}
	for u := 1; u <= members; u++ {
		for range rng.IntN(4) {
			r := &f.Roles[rng.IntN(roles)]
			r.Members = append(r.Members, base+int64(u))
		}
	}
	randomRole := func() string { return f.Roles[rng.IntN(roles)].ID }
	for _, k := range []Kind{FeatureFlags, Insights, Dashboards} {
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: k, Level: Viewer})
	}
	for range members / 20 {
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: Kind(rng.IntN(int(NumKinds))), User: randomUser(), Level: Editor})
	}
	for p := base + 1; p <= base+3; p++ {
		f.Rules = append(f.Rules,
			Rule{Scope: ScopeProject, Project: p, ProjectLevel: ProjectNone},
			Rule{Scope: ScopeProject, Project: p, Role: randomRole(), ProjectLevel: ProjectMember},
			Rule{Scope: ScopeProject, Project: p, User: randomUser(), ProjectLevel: ProjectAdmin},
			Rule{Scope: ScopeKind, Project: p + 3, Kind: Kind(p - base), Level: None},
			Rule{Scope: ScopeKind, Project: p + 3, Kind: Kind(p - base), Role: randomRole(), Level: Editor},
		)
	}
	object := func(n int64) Object {
		return Object{
			ID:      base*100 + n,
			Kind:    Kind(n % int64(NumKinds)),
			Project: base + 1 + n%projects,
			Creator: base + int64(rng.IntN(members*2)+1), // half the objects were made by people who left
		}
	}
	for range objectRules {
		o := object(int64(rng.IntN(objects) + 1))
		r := Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID, Level: Level(rng.IntN(4))}
		switch n := rng.IntN(10); {
		case n < 2:
		case n < 8:
			r.Role = randomRole()
		default:
			r.User = randomUser()
		}
		f.Rules = append(f.Rules, r)
	}
	org := benchOrg{facts: f, pairs: make([]benchPair, pairs)}
	for i := range org.pairs {
		user := base + int64(rng.IntN(members+members/50)+1) // 2% strangers
		org.pairs[i] = benchPair{user: user, object: object(int64(rng.IntN(objects) + 1))}
	}
	return org
}

var benchSink Decision

// The floors the engine's benchmarks report their ratio to, measured in the same run so
// that the ratio holds on any machine: absolute times move two or three times from one
// machine to the next, ratios to these do not.

var floorSink int

// mapHitRuns are the floors Decide is measured against: one hit in a Go map of n string
// keys, in random order, what a decision would cost if every answer were precomputed and
// looked up by the question, keyed as an application would key a cache of answers (the
// user's uuid, the kind and the object's id: "0b5e…-…:feature_flag:123456"). prebuilt
// looks up keys made beforehand, the least a lookup costs; built makes each key from the
// question (user and object) first, as a caller holding only the question must. Each runs
// the lookups from..from+cnt, as medianTurns asks.
func mapHitRuns(n int) (prebuilt, built func(from, cnt int)) {
	keys := make([]string, n)
	uuids := make([]string, n)
	objects := make([]int64, n)
	m := make(map[string]int, n)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range keys {
		uuids[i] = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x",
			rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Int64N(1<<48))
		objects[i] = int64(100_000 + i*7)
		keys[i] = uuids[i] + ":feature_flag:" + strconv.FormatInt(objects[i], 10)
		m[keys[i]] = i
	}
	order := make([]int32, 1<<16)
	for i := range order {
		order[i] = int32(rng.IntN(n))
	}
	mask := len(order) - 1
	prebuilt = func(from, cnt int) {
		for i := from; i < from+cnt; i++ {
			floorSink += m[keys[order[i&mask]]]
		}
	}
	buf := make([]byte, 0, 64)
	built = func(from, cnt int) {
		for i := from; i < from+cnt; i++ {
			q := order[i&mask]
			buf = append(append(buf[:0], uuids[q]...), ":feature_flag:"...)
			buf = strconv.AppendInt(buf, objects[q], 10)
			floorSink += m[string(buf)] // no allocation: the compiler looks up the bytes
		}
	}
	return prebuilt, built
}

// reportMapHitRatios times decide beside the map-hit floors of n keys (medianTurns) and
// reports its median and its ratios to them.
func reportMapHitRatios(b *testing.B, n int, decide func(from, cnt int)) {
	prebuilt, built := mapHitRuns(n)
	p50 := medianTurns(4001, 64, decide, prebuilt, built)
	b.ReportMetric(p50[0], "p50-ns/op")
	b.ReportMetric(p50[0]/p50[1], "x-map-hit")
	b.ReportMetric(p50[0]/p50[2], "x-map-hit-from-question")
}

// bitsetScanRun is the least a filter over objs can do, as a run for medianTurns (one
// scan a batch): read each object's id and copy one precomputed bit per id into out, as
// if the user's answer for every object were already in a compact bitset.
func bitsetScanRun(objs []Object, out []uint64) func(from, n int) {
	maxID := int64(0)
	for _, o := range objs {
		maxID = max(maxID, o.ID)
	}
	allowed := make([]uint64, maxID/64+1)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range allowed {
		allowed[i] = rng.Uint64()
	}
	return func(_, n int) {
		for range n {
			clear(out)
			for i := range objs {
				id := uint64(objs[i].ID)
				out[i/64] |= (allowed[id/64] >> (id % 64) & 1) << (i % 64)
			}
			floorSink += int(out[0])
		}
	}
}

// heapBytes returns the live heap after a collection.
func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// medianBatch is the median over many batches of the time per operation within a batch,
// the fixed cost of reading the clock around a batch taken off. A batch of 64 keeps the
// clock's own cost (two reads, tens of nanoseconds) under a nanosecond per operation
// after correction, while still being short enough that GC pauses and interrupts hit
// only a few batches, which the median then ignores. It is the median of batch means,
// not of single operations: single operations are too short to time one by one.
func medianBatch(batches, batch int, run func(from, n int)) float64 {
	clock := make([]float64, batches)
	for i := range clock {
		start := time.Now()
		clock[i] = float64(time.Since(start))
	}
	times := make([]float64, batches)
	for i := range times {
		start := time.Now()
		run(i*batch, batch)
		times[i] = float64(time.Since(start))
	}
	slices.Sort(clock)
	slices.Sort(times)
	return (times[batches/2] - clock[batches/2]) / float64(batch)
}

// medianTurns is medianBatch for operations measured side by side, for their ratios: they
// take turns of turnBatches batches each, round after round, so that whatever the machine's
// neighbours do weighs on all of them alike (one measured after the other, a ratio moved by
// a tenth from one run to the next). The first warmBatches of a turn bring that operation's
// memory back into the caches and are not counted, so that each is measured in its own
// steady state, as it would be alone: with 200 of them, Decide's timed batches still
// found part of its tables evicted by the map floor's turn, and its median came out above
// its mean. It returns the medians in the order of runs.
func medianTurns(batches, batch int, runs ...func(from, n int)) []float64 {
	const turnBatches, warmBatches = 400, 2000
	clock := make([]float64, batches)
	for i := range clock {
		start := time.Now()
		clock[i] = float64(time.Since(start))
	}
	slices.Sort(clock)
	times := make([][]float64, len(runs))
	next := make([]int, len(runs)) // each operation's next batch, so that it goes on where its turn ended
	for len(times[0]) < batches {
		for r, run := range runs {
			for range warmBatches {
				run(next[r]*batch, batch)
				next[r]++
			}
			for range min(turnBatches, batches-len(times[r])) {
				start := time.Now()
				run(next[r]*batch, batch)
				times[r] = append(times[r], float64(time.Since(start)))
				next[r]++
			}
		}
	}
	p50 := make([]float64, len(runs))
	for r, ts := range times {
		slices.Sort(ts)
		p50[r] = (ts[len(ts)/2] - clock[batches/2]) / float64(batch)
	}
	return p50
}

// medianCall is the median time of n calls of run, for operations long enough (microseconds)
// to time one by one.
func medianCall(n int, run func(i int)) float64 {
	times := make([]float64, n)
	for i := range times {
		start := time.Now()
		run(i)
		times[i] = float64(time.Since(start))
	}
	slices.Sort(times)
	return times[n/2]
}

// BenchmarkDecide decides random (user, object) pairs of one organization of 1,000 members,
// 50 roles, 100,000 objects and 20,000 object rules (2% of the users are strangers). It
// reports the mean (ns/op), the median (p50-ns/op, see medianBatch) and the memory the
// compiled snapshot holds per 100,000 objects (a snapshot holds rules, not objects: objects
// without rules cost nothing, so this is the cost at one object rule per five objects).
func BenchmarkDecide(b *testing.B) {
	const objects = 100_000
	org := benchFacts(1000, 50, objects, 20_000)
	before := heapBytes()
	s := Compile(org.facts)
	size := heapBytes() - before
	mask := len(org.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &org.pairs[i&mask]
		benchSink = s.Decide(p.user, p.object)
	}
	b.StopTimer()
	reportMapHitRatios(b, 12_000, func(from, n int) {
		for i := from; i < from+n; i++ {
			p := &org.pairs[i&mask]
			benchSink = s.Decide(p.user, p.object)
		}
	})
	b.ReportMetric(float64(size)*100_000/objects, "snapshot-B/100k-objects")
	runtime.KeepAlive(s)
}

// BenchmarkDecide1000Orgs loads 1,000 organizations (100 members, 10 roles, 1,000 objects
// and 200 object rules each: 1,000,000 objects, 200,000 object rules, 100,000 members)
// and decides random (organization, user, object) triples, so that nearly every decision
// starts from memory the previous ones did not touch: it measures cache misses, not code.
func BenchmarkDecide1000Orgs(b *testing.B) {
	const orgs, objects = 1000, 1000
	type triple struct {
		s *Snapshot
		benchPair
	}
	var facts []benchOrg
	for o := range orgs {
		facts = append(facts, benchFactsOf(uint64(o+1), int64(o)*10_000, 100, 10, objects, 200, 1<<8))
	}
	before := heapBytes()
	snaps := make([]*Snapshot, orgs)
	for o := range snaps {
		snaps[o] = Compile(facts[o].facts)
	}
	size := heapBytes() - before
	rng := rand.New(rand.NewPCG(9, 9))
	triples := make([]triple, 1<<18)
	for i := range triples {
		o := rng.IntN(orgs)
		triples[i] = triple{snaps[o], facts[o].pairs[rng.IntN(len(facts[o].pairs))]}
	}
	facts = nil
	mask := len(triples) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t := &triples[i&mask]
		benchSink = t.s.Decide(t.user, t.object)
	}
	b.StopTimer()
	reportMapHitRatios(b, 1_000_000, func(from, n int) {
		for i := from; i < from+n; i++ {
			t := &triples[i&mask]
			benchSink = t.s.Decide(t.user, t.object)
		}
	})
	b.ReportMetric(float64(size)*100_000/(orgs*objects), "snapshot-B/100k-objects")
	runtime.KeepAlive(snaps)
}

func BenchmarkKindLevel(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := Compile(org.facts)
	mask := len(org.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &org.pairs[i&mask]
		benchSink = s.KindLevel(p.user, p.object.Project, p.object.Kind)
	}
}

// BenchmarkCompile compiles the organization of BenchmarkDecide: what a server does, on the
// next request for an organization, after any change to its members, roles or rules.
func BenchmarkCompile(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Compile(org.facts)
	}
}

var filterSink int

// BenchmarkFilter answers "which of these 10,000 objects may this user edit" in the
// organization of BenchmarkDecide, for a plain member in three roles: over 10,000 objects
// of every kind and project (mixed), and over the 10,000 newest objects of one kind in one
// project (a list endpoint's input). ns/object is ns/op divided by 10,000; p50-ns/op is the
// median of 501 calls timed one by one.
func BenchmarkFilter(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := Compile(org.facts)
	const n = 10_000
	mixed := make([]Object, n)
	for i := range mixed {
		mixed[i] = org.pairs[i].object
	}
	oneList := make([]Object, n)
	for i := range oneList {
		oneList[i] = Object{ID: int64(7 * (i + 1)), Kind: FeatureFlags, Project: 8, Creator: int64(i%2000 + 1)}
	}
	user := int64(0)
	for u := int64(1); user == 0; u++ {
		if len(s.RolesOf(u)) == 3 && s.MembershipLevel(u) == MemberLevel {
			user = u
		}
	}
	out := make([]uint64, (n+63)/64)
	for _, bc := range []struct {
		name string
		objs []Object
	}{{"mixed", mixed}, {"one-list", oneList}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				filterSink = s.Filter(user, bc.objs, Editor, out)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/object")
			filter := func(_, n int) {
				for range n {
					filterSink = s.Filter(user, bc.objs, Editor, out)
				}
			}
			p50 := medianTurns(501, 1, filter, bitsetScanRun(bc.objs, out))
			b.ReportMetric(p50[0], "p50-ns/op")
			b.ReportMetric(p50[0]/p50[1], "x-bitset-scan")
		})
	}
}

// appliedSnapshot is BenchmarkDecide's organization compiled, then changed by n object
// rules put on random objects through Apply: what a server decides on between rebuilds
// of a table, its overlay holding up to √(objects with rules) objects.
func appliedSnapshot(org benchOrg, n int) *Snapshot {
	s := Compile(org.facts)
	rng := rand.New(rand.NewPCG(21, 22))
	for range n {
		o := org.pairs[rng.IntN(len(org.pairs))].object
		s, _ = s.Apply(0, RuleChange{Rule: Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID, Level: Level(rng.IntN(4))}})
	}
	return s
}

// BenchmarkDecideApplied is BenchmarkDecide on a snapshot whose object tables carry an
// overlay (appliedSnapshot with 100 changes).
func BenchmarkDecideApplied(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := appliedSnapshot(org, 100)
	mask := len(org.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &org.pairs[i&mask]
		benchSink = s.Decide(p.user, p.object)
	}
	b.StopTimer()
	b.ReportMetric(medianBatch(4001, 64, func(from, n int) {
		for i := from; i < from+n; i++ {
			p := &org.pairs[i&mask]
			benchSink = s.Decide(p.user, p.object)
		}
	}), "p50-ns/op")
}

// BenchmarkFilterApplied is BenchmarkFilter's mixed list on appliedSnapshot with 100 changes.
func BenchmarkFilterApplied(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := appliedSnapshot(org, 100)
	const n = 10_000
	mixed := make([]Object, n)
	for i := range mixed {
		mixed[i] = org.pairs[i].object
	}
	user := int64(0)
	for u := int64(1); user == 0; u++ {
		if len(s.RolesOf(u)) == 3 && s.MembershipLevel(u) == MemberLevel {
			user = u
		}
	}
	out := make([]uint64, (n+63)/64)
	b.ReportAllocs()
	for range b.N {
		filterSink = s.Filter(user, mixed, Editor, out)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/object")
	b.ReportMetric(medianCall(501, func(int) { filterSink = s.Filter(user, mixed, Editor, out) }), "p50-ns/op")
}

// BenchmarkApply is the cost of one object rule change (put or removed alternately) to
// organizations of 1,000 and 100,000 object rules, against BenchmarkCompile's cost of a
// compilation: the folds of the overlay into its table every 4√n changes are included.
func BenchmarkApply(b *testing.B) {
	for _, rules := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(rules)+"-rules", func(b *testing.B) {
			org := benchFacts(1000, 50, rules*5, rules)
			s := Compile(org.facts)
			rng := rand.New(rand.NewPCG(23, 24))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				o := org.pairs[rng.IntN(len(org.pairs))].object
				r := Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID, Level: Viewer}
				s, _ = s.Apply(0, RuleChange{Rule: r, Removed: i%2 == 1})
				if s.NeedsCompaction() { // the server's fold, counted here though it runs aside
					s = s.Compacted()
				}
			}
		})
	}
}
