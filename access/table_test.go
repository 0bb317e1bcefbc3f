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
				rs := tab.find(key, mix(key))
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
