package access

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// answers is everything a snapshot tells about the fuzzed universe, Explain and Filter
// included, so that two snapshots can be compared by what they answer rather than by how
// they are laid out.
type answers struct {
	decisions []Decision
	explains  []string
	projects  []ProjectLevel
	filters   []uint64
}

// universeObjects are the objects of the fuzzed universe: every kind (one unknown), project,
// id (one without rules) and creator (none, every user).
func universeObjects() []Object {
	var objs []Object
	for p := int64(0); p <= fuzzProjects; p++ {
		for k := range Kind(fuzzKinds) + 1 {
			if k == fuzzKinds {
				k = NumKinds // unknown
			}
			for id := int64(1); id <= fuzzObjects+1; id++ {
				for c := int64(0); c <= fuzzUsers; c++ {
					objs = append(objs, Object{ID: id, Kind: k, Project: p, Creator: c})
				}
			}
		}
	}
	return objs
}

func answersOf(s *Snapshot, objs []Object) answers {
	var a answers
	out := make([]uint64, (len(objs)+63)/64)
	for u := int64(0); u <= fuzzUsers; u++ {
		for p := int64(0); p <= fuzzProjects; p++ {
			lvl, ok := s.ProjectAccess(u, p)
			if !ok {
				lvl += 10
			}
			a.projects = append(a.projects, lvl)
			for k := range Kind(fuzzKinds) {
				a.decisions = append(a.decisions, s.KindLevel(u, p, k))
			}
		}
		for _, o := range objs {
			d := s.Decide(u, o)
			a.decisions = append(a.decisions, d)
			a.explains = append(a.explains, s.Explain(d, o))
		}
		for min := None; min <= Manager+1; min++ {
			s.Filter(u, objs, min, out)
			a.filters = append(a.filters, out...)
		}
	}
	return a
}

func (a answers) equal(b answers) bool {
	return slices.Equal(a.decisions, b.decisions) && slices.Equal(a.explains, b.explains) &&
		slices.Equal(a.projects, b.projects) && slices.Equal(a.filters, b.filters)
}

// firstDifference describes where two snapshots' answers part, for a failure message.
func firstDifference(objs []Object, got, want answers) string {
	perUser := len(want.decisions) / (fuzzUsers + 1)
	for i := range want.decisions {
		if got.decisions[i] != want.decisions[i] {
			u, j := i/perUser, i%perUser
			what := "a KindLevel"
			if k := (fuzzProjects + 1) * fuzzKinds; j >= k {
				what = fmt.Sprintf("Decide of %+v", objs[j-k])
			}
			return fmt.Sprintf("user %d, %s: got %+v, want %+v", u, what, got.decisions[i], want.decisions[i])
		}
	}
	switch {
	case !slices.Equal(got.projects, want.projects):
		return "ProjectAccess differs"
	case !slices.Equal(got.explains, want.explains):
		return "Explain differs"
	}
	return "Filter differs"
}

// change is one step of a random history of rule changes.
type change struct {
	add  bool
	rule Rule
}

// applyChange returns facts after c: rules copied, one rule like c.rule removed when !c.add.
func applyChange(f Facts, c change) Facts {
	rules := slices.Clone(f.Rules)
	if c.add {
		f.Rules = append(rules, c.rule)
		return f
	}
	for i, r := range rules {
		if sameEffect(r, c.rule) {
			f.Rules = slices.Delete(rules, i, i+1)
			return f
		}
	}
	f.Rules = rules
	return f
}

// sameEffect reports whether a and b are "a rule like" each other as WithoutRule means it.
func sameEffect(a, b Rule) bool {
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

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// randomChange adds a random rule, or removes one of the facts' rules (now and then one
// they do not have).
func randomChange(rng *rand.Rand, f Facts) change {
	if rng.IntN(2) == 0 || len(f.Rules) == 0 {
		return change{add: true, rule: fuzzRule(randomBytes(rng, 8))}
	}
	if rng.IntN(8) == 0 {
		return change{rule: fuzzRule(randomBytes(rng, 8))}
	}
	return change{rule: f.Rules[rng.IntN(len(f.Rules))]}
}

// TestIncrementalMatchesCompile applies random histories of rule changes with WithRule and
// WithoutRule and checks after every step that the snapshot answers exactly as Compile of
// the changed facts, and that the snapshot it was derived from still answers as before.
func TestIncrementalMatchesCompile(t *testing.T) {
	objs := universeObjects()
	rng := rand.New(rand.NewPCG(7, 11))
	histories := 100 // 1,200 changes; FuzzIncremental goes further
	if testing.Short() {
		histories = 25
	}
	for h := range histories {
		facts := fuzzFacts(randomBytes(rng, rng.IntN(120)))
		s := Compile(facts)
		before := answersOf(s, objs)
		for step := range 12 {
			c := randomChange(rng, facts)
			next := s.WithRule(c.rule)
			if !c.add {
				next = s.WithoutRule(c.rule)
			}
			facts = applyChange(facts, c)
			want := answersOf(Compile(facts), objs)
			if got := answersOf(next, objs); !got.equal(want) {
				t.Fatalf("history %d step %d: add=%v %+v: %s", h, step, c.add, c.rule, firstDifference(objs, got, want))
			}
			if got := answersOf(s, objs); !got.equal(before) {
				t.Fatalf("history %d step %d: the snapshot changed was altered: %s", h, step, firstDifference(objs, got, before))
			}
			s, before = next, want
		}
	}
}

func FuzzIncremental(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1, 4, 5, 0, 2, 1, 1, 2, 3, 1, 1, 1}, []byte{2, 0, 1, 3, 0, 1, 1}, true)
	f.Add([]byte{3, 1, 2, 3, 1, 1, 1, 3, 2, 1, 0, 3, 2, 1, 1, 0, 1, 0, 1, 20, 2, 0, 0, 1, 2, 0, 1, 3}, []byte{0, 0, 0, 0, 0, 2, 1}, false)
	f.Fuzz(func(t *testing.T, data, rule []byte, add bool) {
		objs := universeObjects()
		facts := fuzzFacts(data)
		c := change{add: add, rule: fuzzRule(rule)}
		if !add && len(facts.Rules) > 0 && len(rule) > 0 {
			c.rule = facts.Rules[int(rule[0])%len(facts.Rules)] // mostly remove a rule that is there
		}
		s := Compile(facts)
		next := s.WithRule(c.rule)
		if !add {
			next = s.WithoutRule(c.rule)
		}
		want := answersOf(Compile(applyChange(facts, c)), objs)
		if got := answersOf(next, objs); !got.equal(want) {
			t.Fatalf("add=%v %+v: %s", add, c.rule, firstDifference(objs, got, want))
		}
		// The same with ids far apart, whose filters are hashed, not dense.
		objs, facts = spreadObjects(objs), spreadFacts(facts)
		if c.rule.Scope == ScopeObject {
			c.rule.Object = spread(c.rule.Object)
		}
		s = Compile(facts)
		next = s.WithRule(c.rule)
		if !add {
			next = s.WithoutRule(c.rule)
		}
		want = answersOf(Compile(applyChange(facts, c)), objs)
		if got := answersOf(next, objs); !got.equal(want) {
			t.Fatalf("spread out, add=%v %+v: %s", add, c.rule, firstDifference(objs, got, want))
		}
	})
}

// TestIncrementalLargeOrganization grows and shrinks a large organization by many rule
// changes, enough to fill object pages past their planned size, and compares sampled
// decisions and filters with Compile of the same facts.
func TestIncrementalLargeOrganization(t *testing.T) {
	org := benchFacts(300, 20, 5_000, 1_000)
	rng := rand.New(rand.NewPCG(3, 4))
	s := Compile(org.facts)
	facts := org.facts
	rules := slices.Clone(facts.Rules)
	for range 3_000 {
		var c change
		if rng.IntN(3) > 0 {
			// Reuse the shape of an existing rule on another object, or at another level.
			r := rules[rng.IntN(len(rules))]
			r.Object = int64(rng.IntN(5_000) + 1)
			r.Level = Level(rng.IntN(4))
			c = change{add: true, rule: r}
		} else {
			c = change{rule: facts.Rules[rng.IntN(len(facts.Rules))]}
		}
		if c.add {
			s = s.WithRule(c.rule)
		} else {
			s = s.WithoutRule(c.rule)
		}
		facts = applyChange(facts, c)
	}
	want := Compile(facts)
	objs := make([]Object, 0, len(org.pairs))
	for _, p := range org.pairs[:4096] {
		objs = append(objs, p.object)
		if got, w := s.Decide(p.user, p.object), want.Decide(p.user, p.object); got != w {
			t.Fatalf("Decide(%d, %+v) = %+v, want %+v", p.user, p.object, got, w)
		}
	}
	got, w := make([]uint64, 64), make([]uint64, 64)
	for u := int64(1); u <= 300; u += 7 {
		s.Filter(u, objs, Editor, got)
		want.Filter(u, objs, Editor, w)
		if !slices.Equal(got, w) {
			t.Fatalf("Filter(%d, …, editor) differs from Compile's", u)
		}
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
	r := Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: math.MaxInt64, User: dave, Level: Manager}
	o := Object{ID: math.MaxInt64, Kind: FeatureFlags, Project: 1}
	without := s.WithoutRule(r)
	if got := without.Decide(dave, o); got.Level != Viewer {
		t.Errorf("after WithoutRule: Decide(dave, %+v) = %+v, want viewer", o, got)
	}
	if got := without.WithRule(r).Decide(dave, o); got.Level != Manager {
		t.Errorf("after WithRule: Decide(dave, %+v) = %+v, want manager", o, got)
	}
	if got := s.Decide(dave, o); got.Level != Manager {
		t.Errorf("the original snapshot changed: Decide(dave, %+v) = %+v, want manager", o, got)
	}
}

func TestIgnoredRuleChangesNothing(t *testing.T) {
	s := Compile(exampleFacts())
	for _, r := range []Rule{
		{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, Role: "unknown", Level: Editor},
		{Scope: ScopeObject, Kind: FeatureFlags, Object: 1, User: mallory, Level: Editor},
		{Scope: ScopeKind, Kind: NumKinds, Level: Editor},
		{Scope: Scope(9), Kind: FeatureFlags, Level: Editor},
	} {
		if got := s.WithRule(r); got != s {
			t.Errorf("WithRule(%+v) made a new snapshot for a rule that reaches nobody", r)
		}
	}
	absent := Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: 7, Role: "r-product", Level: Viewer}
	if got := s.WithoutRule(absent); got != s {
		t.Errorf("WithoutRule(%+v) made a new snapshot for a rule s does not have", absent)
	}
}
