package access

import (
	"math"
	"slices"
	"testing"
)

// TestObjectFilterModes: ids close together get a dense filter, exact;
// spread out, a hashed one. Both answer "has rules" for every object with
// rules, also when one id lies beyond where a dense filter would end.
func TestObjectFilterModes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ids   []int64
		dense bool
	}{
		{"close together", []int64{1000, 1003, 1010, 1200, 1400}, true},
		{"one", []int64{42}, true},
		{"spread out", []int64{1, 1 << 30, 1 << 40, 7 << 50}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rules []objectRule
			for _, id := range tc.ids {
				key, _ := objectKey(id)
				rules = append(rules, objectRule{key: key, t: target{rank: rankEveryone, level: Viewer}})
			}
			tab := buildObjectTable(rules)
			if tab.dense != tc.dense {
				t.Fatalf("dense = %v, want %v", tab.dense, tc.dense)
			}
			has := func(tab objectTable, id int64) bool {
				key, _ := objectKey(id)
				rs := tab.tableRules(key)
				return tab.filterHas(key) && rs.len() > 0
			}
			for _, id := range tc.ids {
				if !has(tab, id) {
					t.Errorf("object %d has rules, the table says not", id)
				}
			}
			if tab.dense {
				for _, id := range []int64{999, 1001, 2001, 0, -5} {
					key, ok := objectKey(id)
					if ok && tab.filterHas(key) && !has(tab, id) && id != 0 {
						t.Errorf("dense filter passes object %d, which has no rules", id)
					}
				}
			}
			// Objects past the end, and far past it, have their rules found in a table
			// built with them, whose filter is dense or, for ids far apart, hashed.
			last := tc.ids[len(tc.ids)-1]
			for _, id := range []int64{last + 1, last + 100_000, last + 1<<45} {
				key, _ := objectKey(id)
				tab := buildObjectTable(append(slices.Clone(rules), objectRule{key: key, t: target{rank: rankEveryone, level: Editor}}))
				for _, want := range append([]int64{id}, tc.ids...) {
					if !has(tab, want) {
						t.Errorf("with a rule on %d (dense %v), the table says object %d has none", id, tab.dense, want)
					}
				}
			}
		})
	}
}

// TestFilterDenseNegativeIDs: a dense filter indexes ids as Decide's lookup
// does, negative ones included (the packing keeps 63 bits of them).
func TestFilterDenseNegativeIDs(t *testing.T) {
	for _, base := range []int64{-1000, 1000, -100} {
		f := Facts{Enforced: true, Members: []Member{{User: 1, Level: MemberLevel}}}
		for id := base; id < base+40; id += 3 {
			f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: id, Level: None})
		}
		s := Compile(f)
		if !s.objects.kinds[FeatureFlags].dense {
			t.Fatalf("base %d: the filter is not dense, the test tests nothing", base)
		}
		var objs []Object
		for id := base - 5; id < base+45; id++ {
			objs = append(objs, Object{ID: id, Kind: FeatureFlags, Project: 1, Creator: 2})
		}
		checkFilter(t, s, 1, objs, Viewer)
	}
}

// TestWideObjectIDs covers object ids the object table cannot pack, which go to a side map.
func TestWideObjectIDs(t *testing.T) {
	f := exampleFacts()
	for _, id := range []int64{math.MaxInt64, math.MinInt64, 1 << 60, -1<<60 - 1} {
		f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: id, User: dave, Level: Manager})
	}
	s := Compile(f)
	for _, id := range []int64{math.MaxInt64, math.MinInt64, 1 << 60, -1<<60 - 1, 1<<60 - 1, -1 << 60} {
		o := Object{ID: id, Kind: FeatureFlags, Project: 1}
		want := referenceDecide(f, dave, o, true)
		if got := s.Decide(dave, o); got != want {
			t.Errorf("Decide(dave, %+v) = %+v, want %+v", o, got, want)
		}
		out := []uint64{0}
		if n := s.Filter(dave, []Object{o}, Manager, out); (n == 1) != (want.Level == Manager) {
			t.Errorf("Filter(dave, %+v, manager) = %d, want decision %+v", o, n, want)
		}
	}
}

// TestMemberTableDirectAndHashed: members whose user ids lie close together are found
// through the direct table, others through the hash table, and both answer alike for
// members and for every id that is not one (between, below and above them, extremes).
func TestMemberTableDirectAndHashed(t *testing.T) {
	for _, tt := range []struct {
		base, step int64
		direct     bool
	}{
		{1, 1, true},
		{-50, 2, true},
		{1_000_000, 3, false},
		{7, 1 << 40, false},
		{math.MinInt64 + 10, 1 << 55, false},
	} {
		const n = 300
		tab := newMemberTable(n)
		for i := range int64(n) {
			tab.insert(tt.base+i*tt.step, int32(i), i%10 == 0)
		}
		tab.indexDirect()
		if got := tab.direct != nil; got != tt.direct {
			t.Errorf("base %d step %d: direct table %v, want %v", tt.base, tt.step, got, tt.direct)
		}
		for i := range int64(n) {
			m := tab.find(tt.base + i*tt.step)
			if m == noMember || m.idx() != int32(i) || m.admin() != (i%10 == 0) {
				t.Fatalf("base %d step %d: member %d found as %d", tt.base, tt.step, i, m)
			}
			if tt.step > 1 && tab.find(tt.base+i*tt.step+1) != noMember {
				t.Fatalf("base %d step %d: id %d between members found", tt.base, tt.step, tt.base+i*tt.step+1)
			}
		}
		for _, id := range []int64{tt.base - 1, tt.base + n*tt.step, math.MinInt64, math.MaxInt64, 0} {
			if (id-tt.base)%tt.step == 0 && id >= tt.base && id < tt.base+n*tt.step {
				continue // a member
			}
			if m := tab.find(id); m != noMember {
				t.Errorf("base %d step %d: non-member %d found as %d", tt.base, tt.step, id, m)
			}
		}
	}
}

// TestDecideAlikeForSpreadUserIDs: the same organization with its members' user ids
// spread apart (so that they are found by hashing, not directly) decides every question
// alike.
func TestDecideAlikeForSpreadUserIDs(t *testing.T) {
	org := benchFactsOf(5, 0, 300, 12, 3000, 900, 1<<12)
	spread := func(u int64) int64 { return u*7919 + 13 }
	f := org.facts
	g := Facts{Enforced: f.Enforced, Now: f.Now}
	for _, m := range f.Members {
		m.User = spread(m.User)
		g.Members = append(g.Members, m)
	}
	for _, r := range f.Roles {
		r.Members = slices.Clone(r.Members)
		for i := range r.Members {
			r.Members[i] = spread(r.Members[i])
		}
		g.Roles = append(g.Roles, r)
	}
	for _, r := range f.Rules {
		if r.User != 0 {
			r.User = spread(r.User)
		}
		g.Rules = append(g.Rules, r)
	}
	dense, sparse := Compile(f), Compile(g)
	if dense.memberTab.direct == nil || sparse.memberTab.direct != nil {
		t.Fatalf("direct tables: dense %v, spread %v; want only the dense one", dense.memberTab.direct != nil, sparse.memberTab.direct != nil)
	}
	for _, p := range org.pairs {
		o := p.object
		want := dense.Decide(p.user, o)
		o.Creator = spread(o.Creator)
		if got := sparse.Decide(spread(p.user), o); got != want {
			t.Fatalf("Decide(%d, %+v) = %+v with spread ids, %+v without", p.user, p.object, got, want)
		}
	}
}

// TestSingleRules checks a dense table's four-byte entries: an object's one rule, packed,
// comes back as it went in for every rank and level and the ends of the indices, and a
// rule whose index does not fit, or an object with two, is read from a slot instead.
func TestSingleRules(t *testing.T) {
	var rules []objectRule
	var want []target
	for _, idx := range []int32{-1, 0, 1, 1 << 20, maxSingleIdx, maxSingleIdx + 1, math.MaxInt32} {
		for r := rankEveryone; r < numRanks; r++ {
			for l := None; l <= Manager; l++ {
				tg := target{idx: idx, rank: r, level: l}
				key, _ := objectKey(int64(100 + len(rules)))
				rules = append(rules, objectRule{key, tg})
				want = append(want, tg)
			}
		}
	}
	// One object with two rules, which no single holds.
	key, _ := objectKey(int64(100 + len(rules)))
	rules = append(rules, objectRule{key, want[0]}, objectRule{key, want[1]})
	tab := buildObjectTable(rules)
	if !tab.dense {
		t.Fatal("consecutive ids made a hashed table")
	}
	singles := 0
	for i, w := range want {
		key, _ := objectKey(int64(100 + i))
		rs := tab.rulesOf(key)
		if rs.len() != 1 || rs.at(0) != w {
			t.Errorf("object %d: rules %+v, want the one %+v", 100+i, rs, w)
		}
		j, _ := tab.denseIndex(key)
		if _, ok := unpackSingle(tab.entries[j]); ok {
			singles++
			if w.idx > maxSingleIdx {
				t.Errorf("index %d, past the bound, packed into a single", w.idx)
			}
		}
	}
	if wantSingles := len(want) - 2*3*4; singles != wantSingles {
		t.Errorf("%d singles, want %d (every rule whose index fits)", singles, wantSingles)
	}
	if rs := tab.rulesOf(key); rs.len() != 2 {
		t.Errorf("object with two rules: %d rules", rs.len())
	}
	if want := len(want) - singles + 1; len(tab.slots) != want {
		t.Errorf("%d slots, want %d (the rules that do not pack and the object with two)", len(tab.slots), want)
	}
}
