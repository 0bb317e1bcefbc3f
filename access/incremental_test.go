package access

import (
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
)

// changeScript reads, from the fuzzer's bytes, a sequence of rule changes to facts: a new
// rule (any, malformed ones included), the removal of a rule the facts hold, or of one they
// do not; some rules expire, some of them before now. It returns the changes and the facts
// with them made.
func changeScript(b *fuzzBytes, facts Facts, now int64, n int) ([]RuleChange, Facts) {
	rules := slices.Clone(facts.Rules)
	var changes []RuleChange
	for range n {
		switch op := b.intn(4); {
		case op <= 1:
			r := b.rule()
			switch b.intn(4) {
			case 1:
				r.ExpiresAt = now + int64(b.intn(3)+1)*hour
			case 2:
				r.ExpiresAt = now - int64(b.intn(2))*hour // expired at now
			}
			rules = append(rules, r)
			changes = append(changes, RuleChange{Rule: r})
		case op == 2 && len(rules) > 0:
			i := b.intn(len(rules))
			changes = append(changes, RuleChange{Rule: rules[i], Removed: true})
			rules = slices.Delete(rules, i, i+1)
		default:
			r := b.rule() // perhaps held, perhaps not: removing what is not there changes nothing
			// The rule a removal takes out of the compiled ones is a live one.
			i := slices.IndexFunc(rules, func(h Rule) bool { return alike(h, r) && !h.ExpiredAt(now) })
			if i < 0 {
				i = slices.IndexFunc(rules, func(h Rule) bool { return alike(h, r) })
			}
			if i >= 0 {
				rules = slices.Delete(rules, i, i+1)
			}
			changes = append(changes, RuleChange{Rule: r, Removed: true})
		}
	}
	facts.Rules = rules
	return changes, facts
}

// alike reports whether a and b are the same rule in every field Compile reads for their
// scope: what a removal matches.
func alike(a, b Rule) bool {
	if a.Scope != b.Scope || a.Role != b.Role || a.User != b.User {
		return false
	}
	switch a.Scope {
	case ScopeProject:
		return a.Project == b.Project && a.ProjectLevel == b.ProjectLevel
	case ScopeKind:
		return a.Project == b.Project && a.Kind == b.Kind && a.Level == b.Level
	}
	return a.Kind == b.Kind && a.Object == b.Object && a.Level == b.Level
}

// checkApplied fails t unless got decides, filters and expires exactly as Compile(want).
func checkApplied(t *testing.T, got *Snapshot, want Facts) {
	t.Helper()
	compiled := Compile(want)
	if g, w := decideAll(got), decideAll(compiled); !reflect.DeepEqual(g, w) {
		for key, d := range w.object {
			if g.object[key] != d {
				t.Fatalf("applied snapshot: Decide(user %d, project %d, kind %d, object %d, creator %d) = %+v, Compile's %+v\nfacts %+v",
					key[0], key[1], key[2], key[3], key[4], g.object[key], d, want)
			}
		}
		t.Fatalf("applied snapshot decides kinds or projects unlike Compile's\nfacts %+v", want)
	}
	objs := universeObjects()
	for u := int64(0); u <= fuzzUsers; u++ {
		for min := Viewer; min <= Manager; min++ {
			checkFilter(t, got, u, objs, min)
		}
	}
	// A removed rule may leave the bound earlier than Compile's, never later.
	if w, g := compiled.ValidUntil(), got.ValidUntil(); w != 0 && (g == 0 || g > w) {
		t.Fatalf("ValidUntil = %d, Compile's %d: the applied snapshot would decide past an expiry", g, w)
	}
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{}, []byte{0, 1, 2, 3})
	f.Add([]byte{3, 1, 2, 3, 1, 1, 1, 3, 2, 1, 0, 3, 2, 1, 1, 0, 1, 0, 1, 20, 2, 0, 0, 1, 2}, []byte{2, 0, 2, 1, 0, 0, 1, 2, 2, 3, 1, 1, 0, 0, 2, 1})
	f.Add([]byte("seed: a closed project with a role let in"), []byte("and object rules that come and go, some for a while"))
	f.Fuzz(func(t *testing.T, factBytes, changeBytes []byte) {
		defer lowerOverlayLimit(t, len(changeBytes)%3)()
		facts := fuzzFacts(factBytes)
		facts.Now = t0
		s := Compile(facts)
		before := decideAll(s)
		b := fuzzBytes(changeBytes)
		changes, after := changeScript(&b, facts, t0, 1+b.intn(12))
		got, ok := s.Apply(t0, changes...)
		if !ok {
			t.Fatal("Apply refused a snapshot with no expired rule")
		}
		checkApplied(t, got, after)
		checkApplied(t, got.Compacted(), after)
		if !reflect.DeepEqual(decideAll(s), before) {
			t.Fatal("Apply changed the snapshot it started from")
		}
	})
}

// lowerOverlayLimit makes overlays fold into their tables after n+1 changed objects, so
// that the fuzzed universe's few objects go through the rebuild too; it returns the undo.
func lowerOverlayLimit(t testing.TB, n int) func() {
	old := minOverlay
	minOverlay = n + 1
	return func() { minOverlay = old }
}

// TestApplyChainAgreesWithCompile applies long random chains, one change at a time and in
// batches, to random organizations, comparing with Compile after every step.
func TestApplyChainAgreesWithCompile(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for run := range 60 {
		defer lowerOverlayLimit(t, run%4)()
		facts := fuzzFacts(randomBytes(rng, rng.IntN(120)))
		facts.Now = t0
		s := Compile(facts)
		b := fuzzBytes(randomBytes(rng, 160))
		for len(b) > 0 {
			var changes []RuleChange
			changes, facts = changeScript(&b, facts, t0, 1+rng.IntN(3))
			var ok bool
			if s, ok = s.Apply(t0, changes...); !ok {
				t.Fatal("Apply refused a snapshot with no expired rule")
			}
			checkApplied(t, s, facts)
			if s.NeedsCompaction() || rng.IntN(4) == 0 {
				s = s.Compacted()
				checkApplied(t, s, facts)
			}
		}
	}
}

// TestApplyLargeTable changes object rules of a table of thousands, through several
// rebuilds of its overlay, and checks every object against Compile, with Decide and with
// Filter, on dense and on spread ids.
func TestApplyLargeTable(t *testing.T) {
	for _, spread := range []bool{false, true} {
		org := benchFacts(300, 20, 20_000, 4_000)
		facts := org.facts
		facts.Now = t0
		if spread {
			facts = spreadFacts(facts)
		}
		var objs []Object
		for _, p := range org.pairs[:4000] {
			objs = append(objs, p.object)
		}
		if spread {
			objs = spreadObjects(objs)
		}
		s := Compile(facts)
		rng := rand.New(rand.NewPCG(13, 14))
		var objectRules []int
		for i, r := range facts.Rules {
			if r.Scope == ScopeObject {
				objectRules = append(objectRules, i)
			}
		}
		rules := slices.Clone(facts.Rules)
		for step := range 600 {
			var c RuleChange
			if rng.IntN(2) == 0 && len(rules) > 0 {
				i := rng.IntN(len(rules))
				c = RuleChange{Rule: rules[i], Removed: true}
				rules = slices.Delete(rules, i, i+1)
			} else {
				o := objs[rng.IntN(len(objs))]
				c = RuleChange{Rule: Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID, User: int64(rng.IntN(300) + 1), Level: Level(rng.IntN(4))}}
				if rng.IntN(3) == 0 {
					c.Rule.User = 0
				}
				rules = append(rules, c.Rule)
			}
			s, _ = s.Apply(t0, c)
			if step%100 == 99 && s.NeedsCompaction() {
				s = s.Compacted() // as the server does in the background
			}
			if step%150 != 149 {
				continue
			}
			f := facts
			f.Rules = rules
			want := Compile(f)
			for u := int64(1); u <= 300; u += 23 {
				for _, o := range objs {
					if g, w := s.Decide(u, o), want.Decide(u, o); g != w {
						t.Fatalf("spread %v, step %d: Decide(%d, %+v) = %+v, Compile's %+v", spread, step, u, o, g, w)
					}
				}
				checkFilter(t, s, u, objs, Viewer)
				checkFilter(t, s, u, objs, Editor)
			}
		}
		if len(objectRules) == 0 {
			t.Fatal("benchFacts made no object rules: the test tests nothing")
		}
	}
}

func TestApplyExpiry(t *testing.T) {
	facts := Facts{
		Enforced: true, Now: t0,
		Members: []Member{{User: alice, Level: OwnerLevel}, {User: bob, Level: MemberLevel}, {User: dave, Level: MemberLevel}},
	}
	flag := Object{ID: 7, Kind: FeatureFlags, Project: 1}
	s := Compile(facts)
	grant := Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, User: dave, Level: Manager, ExpiresAt: t0 + hour}
	s2, _ := s.Apply(t0, RuleChange{Rule: grant})
	if got := s2.ValidUntil(); got != t0+hour {
		t.Fatalf("a rule added with an expiry: ValidUntil = %d, want %d", got, t0+hour)
	}
	if d := s2.Decide(dave, flag); d.Level != Manager {
		t.Fatalf("before its expiry: Decide = %+v, want manager", d)
	}
	later := Rule{Scope: ScopeKind, Kind: Cohorts, Level: Viewer, ExpiresAt: t0 + 2*hour}
	if s3, _ := s2.Apply(t0, RuleChange{Rule: later}); s3.ValidUntil() != t0+hour {
		t.Fatalf("a later expiry moved ValidUntil to %d", s3.ValidUntil())
	}
	if _, ok := s2.Apply(t0+hour, RuleChange{Rule: later}); ok {
		t.Fatal("Apply derived from a snapshot one of whose rules has expired")
	}
	gone := grant
	gone.ExpiresAt = t0 - 1
	if s4, _ := s.Apply(t0, RuleChange{Rule: gone}); s4 != s || s4.ValidUntil() != 0 {
		t.Fatal("a rule expired already changed the snapshot")
	}
}

// TestApplyCostDoesNotGrowWithRules pins that a change of one object rule copies memory in
// proportion to the overlay, not to the table: a change to a table of 100,000 rules costs
// little more than one to a table of 1,000.
func TestApplyCostDoesNotGrowWithRules(t *testing.T) {
	bytesPerChange := func(rules int) float64 {
		org := benchFacts(200, 20, rules*2, rules)
		s := Compile(org.facts)
		o := org.pairs[0].object
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const changes = 200
		for i := range changes {
			s, _ = s.Apply(0, RuleChange{Rule: Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID + int64(i%40), Level: Viewer}})
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / changes
	}
	small, large := bytesPerChange(1_000), bytesPerChange(100_000)
	if large > small*3 {
		t.Fatalf("bytes allocated per change: %.0f at 1,000 rules, %.0f at 100,000", small, large)
	}
	t.Logf("bytes allocated per change: %.0f at 1,000 rules, %.0f at 100,000", small, large)
}

// TestCompactionPatchesTheTable folds overlays into a table by patching a copy of it, not
// by building it again, across removals (which move later entries of a probe back),
// changes, and objects newer than the table (past its dense filter's end); every object
// then finds the rules a table built from scratch finds. A table whose unreachable rules
// would outnumber its live ones is built again instead. Both layouts: ids in sequence
// make a dense table, ids far apart a hashed one.
func TestCompactionPatchesTheTable(t *testing.T) {
	for _, layout := range []struct {
		name   string
		spread int64
	}{{"dense", 1}, {"hashed", 1_000_003}} {
		t.Run(layout.name, func(t *testing.T) { testCompactionPatches(t, layout.spread) })
	}
}

func testCompactionPatches(t *testing.T, spread int64) {
	const objects = 5000
	id := func(n int) int64 { return 1000 + int64(n-1000)*spread }
	rules := map[uint64][]target{}
	var all []objectRule
	for i := range objects * 3 {
		key, _ := objectKey(id(1000 + i%objects))
		r := target{idx: int32(i % 7), rank: rankMember, level: Level(1 + i%3)}
		rules[key] = append(rules[key], r)
		all = append(all, objectRule{key, r})
	}
	tab := buildObjectTable(all)
	if tab.dense != (spread == 1) {
		t.Fatalf("ids %d apart made a table dense %v", spread, tab.dense)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 40 {
		var list []overRule
		seen := map[uint64]bool{}
		for range 70 {
			key, _ := objectKey(id(1000 + rng.IntN(objects+2000))) // some newer than the table
			if seen[key] {
				continue
			}
			seen[key] = true
			var next []target
			if rng.IntN(3) > 0 { // else: every rule of the object goes
				for range 1 + rng.IntN(3) {
					next = append(next, target{idx: int32(rng.IntN(7)), rank: rankMember, level: Level(1 + rng.IntN(3))})
				}
			}
			rules[key] = next
			list = append(list, overRule{key, next})
		}
		tab.over = newOverlay(list)
		p, ok := tab.patched()
		if !ok {
			if tab.garbage*2 <= len(tab.more) {
				t.Fatalf("round %d: a table with room (%d of %d slots, %d of %d rules unreachable) was built again", round, tab.n, len(tab.slots), tab.garbage, len(tab.more))
			}
			p = tab.rebuilt()
		}
		tab = p
		fresh := buildObjectTable(func() (rs []objectRule) {
			for key, ts := range rules {
				for _, r := range ts {
					rs = append(rs, objectRule{key, r})
				}
			}
			return rs
		}())
		if tab.n != fresh.n {
			t.Fatalf("round %d: %d objects with rules, want %d", round, tab.n, fresh.n)
		}
		for n := 900; n < 1000+objects+2100; n++ {
			key, _ := objectKey(id(n))
			var got, want []target
			for rs, i := tab.rulesOf(key), 0; i < rs.len(); i++ {
				got = append(got, rs.at(i))
			}
			for rs, i := fresh.rulesOf(key), 0; i < rs.len(); i++ {
				want = append(want, rs.at(i))
			}
			slices.SortFunc(got, compareTargets)
			slices.SortFunc(want, compareTargets)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: object %d has rules %v, want %v", round, id(n), got, want)
			}
		}
	}
	// Rewriting one object's many rules over and over leaves only unreachable ones
	// behind: the fold builds the table again rather than keep them.
	key, _ := objectKey(1000)
	many := make([]target, 200)
	rebuilt := false
	for range 100 {
		before := tab.garbage
		tab.over = newOverlay([]overRule{{key, many}})
		tab = tab.compacted()
		rebuilt = rebuilt || tab.garbage < before
		if tab.garbage*2 > len(tab.more) {
			t.Fatalf("%d of %d rules unreachable after a fold, want at most half", tab.garbage, len(tab.more))
		}
	}
	if !rebuilt {
		t.Fatal("100 rewrites of 200 rules never built the table again")
	}
}

func compareTargets(a, b target) int {
	if a.idx != b.idx {
		return int(a.idx - b.idx)
	}
	if a.rank != b.rank {
		return int(a.rank) - int(b.rank)
	}
	return int(a.level) - int(b.level)
}

// TestApplyLeavesFoldingToCompacted: past the soft limit Apply keeps the overlay and
// NeedsCompaction says so; Compacted folds it in, deciding alike; only at the hard limit
// does Apply fold by itself.
func TestApplyLeavesFoldingToCompacted(t *testing.T) {
	facts := Facts{Enforced: true, Now: t0, Members: []Member{{User: 1, Level: MemberLevel}}}
	for i := range 10_000 {
		facts.Rules = append(facts.Rules, Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: int64(1 + i), User: 1, Level: Viewer})
	}
	s := Compile(facts)
	limit := overlayLimit(10_000)
	overlay := func(s *Snapshot) int {
		if o := s.objects.kinds[FeatureFlags].over; o != nil {
			return len(o.list)
		}
		return 0
	}
	put := func(s *Snapshot, from, n int) *Snapshot {
		for i := from; i < from+n; i++ {
			s, _ = s.Apply(t0, RuleChange{Rule: Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: int64(1 + i), User: 1, Level: Editor}})
		}
		return s
	}
	s = put(s, 0, limit)
	if s.NeedsCompaction() {
		t.Fatalf("an overlay of %d (limit %d) needs compaction", overlay(s), limit)
	}
	s = put(s, limit, 1)
	if !s.NeedsCompaction() || overlay(s) != limit+1 {
		t.Fatalf("past the limit: NeedsCompaction %v, overlay %d; want true, %d (Apply does not fold)", s.NeedsCompaction(), overlay(s), limit+1)
	}
	c := s.Compacted()
	if c.NeedsCompaction() || overlay(c) != 0 || overlay(s) != limit+1 {
		t.Fatalf("Compacted: needs %v, overlay %d, original's %d; want false, 0, %d", c.NeedsCompaction(), overlay(c), overlay(s), limit+1)
	}
	for _, id := range []int64{1, int64(limit + 1), int64(limit + 2), 10_000, 10_001} {
		o := Object{ID: id, Kind: FeatureFlags, Project: 1}
		if g, w := c.Decide(1, o), s.Decide(1, o); g != w {
			t.Fatalf("object %d: compacted decides %+v, overlaid %+v", id, g, w)
		}
	}
	s = put(s, limit+1, overlayHardLimit*limit)
	if overlay(s) > overlayHardLimit*limit {
		t.Fatalf("overlay of %d past the hard limit %d: Apply did not fold it", overlay(s), overlayHardLimit*limit)
	}
	checkDecisions := Compile(func() Facts {
		f := facts
		f.Rules = slices.Clone(facts.Rules)
		for i := range (overlayHardLimit+1)*limit + 1 {
			f.Rules[i].Level = Editor
		}
		return f
	}())
	for id := int64(1); id <= 10_000; id += 37 {
		o := Object{ID: id, Kind: FeatureFlags, Project: 1}
		if g, w := s.Decide(1, o), checkDecisions.Decide(1, o); g != w {
			t.Fatalf("object %d: %+v, Compile's %+v", id, g, w)
		}
	}
}
