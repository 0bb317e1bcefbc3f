package access

import (
	"cmp"
	"maps"
	"math"
	"math/bits"
	"slices"
)

// A permission change is usually one rule put or taken away, and an organization may have
// hundreds of thousands of rules: compiling them all again for each change would make the
// cost of a change grow with the organization. Apply derives the next snapshot from the
// last one instead, sharing everything the change does not touch.

// RuleChange is one rule put into an organization's facts or taken out of them.
type RuleChange struct {
	Rule    Rule
	Removed bool
}

// Apply returns a snapshot that decides exactly as Compile would on the facts of s with
// changes applied in order (a removal takes out one rule like it: same scope, kind, object,
// project, target and level, the fields Compile reads), compiled for instant now. s is not
// changed and stays valid. ok is false, and nothing is derived, when s may not decide at
// now (a rule of it has expired: ValidAt): compile the facts again then.
//
// A change costs what it touches, not the size of the organization: an object rule copies
// a small overlay of the objects changed since its kind's table was built; a kind or
// project rule recomputes one kind's or one project's levels for every member. Once an
// overlay outgrows about the square root of its table's size, NeedsCompaction says so and
// Compacted folds it in, off the path of any request; Apply itself folds an overlay only
// at several times that size, should nobody have.
func (s *Snapshot) Apply(now int64, changes ...RuleChange) (next *Snapshot, ok bool) {
	if !s.ValidAt(now) {
		return nil, false
	}
	next = s
	for i := range changes {
		next = next.change(&changes[i].Rule, !changes[i].Removed, now)
	}
	return next, true
}

func (s *Snapshot) change(r *Rule, add bool, now int64) *Snapshot {
	// A rule expired at now is not in s (s is valid at now, so none of its rules has
	// expired), and Compile would leave it out.
	if r.ExpiredAt(now) {
		return s
	}
	t, ok := s.compileRule(r)
	if !ok {
		return s
	}
	ns := *s
	switch r.Scope {
	case ScopeObject:
		key, ok := objectKey(r.Object)
		if !ok {
			wk := wideKey{r.Kind, r.Object}
			ts, changed := edit(s.objects.wide[wk], t, add)
			if !changed {
				return s
			}
			wide := maps.Clone(s.objects.wide)
			if wide == nil {
				wide = map[wideKey][]target{}
			}
			if len(ts) == 0 {
				delete(wide, wk)
			} else {
				wide[wk] = ts
			}
			ns.objects.wide = wide
			break
		}
		table, changed := s.objects.kinds[r.Kind].with(key, t, add)
		if !changed {
			return s
		}
		ns.objects.kinds[r.Kind] = table
		ns.objects.overlaid = false
		for k := range ns.objects.kinds {
			ns.objects.overlaid = ns.objects.overlaid || ns.objects.kinds[k].over != nil
		}
	case ScopeKind:
		if r.Project == 0 {
			ts, changed := edit(s.kindRules[r.Kind], t, add)
			if !changed {
				return s
			}
			ns.kindRules[r.Kind] = ts
			ns.kindBase = slices.Clone(s.kindBase)
			ns.fillKindBase(r.Kind, ts)
			break
		}
		p := s.projectCopy(r.Project)
		ts, changed := edit(p.kinds[r.Kind], t, add)
		if !changed {
			return s
		}
		p.kinds[r.Kind] = ts
		ns.setProject(r.Project, p)
	case ScopeProject:
		p := s.projectCopy(r.Project)
		ts, changed := edit(p.rules, t, add)
		if !changed {
			return s
		}
		p.rules, p.levels = ts, nil
		if len(ts) > 0 {
			p.levels = s.projectLevels(ts)
		}
		ns.setProject(r.Project, p)
	}
	// A removed rule may have been the one expiring first: the bound is kept, earlier than
	// it need be, which only compiles the facts again sooner than necessary.
	if add && r.ExpiresAt != 0 && (ns.validUntil == 0 || r.ExpiresAt < ns.validUntil) {
		ns.validUntil = r.ExpiresAt
	}
	return &ns
}

// edit returns a new slice: ts with t added, or with one t removed (changed is false when
// there is none). ts is shared with older snapshots and never written to.
func edit(ts []target, t target, add bool) (out []target, changed bool) {
	if add {
		out = make([]target, len(ts), len(ts)+1)
		copy(out, ts)
		return append(out, t), true
	}
	i := slices.Index(ts, t)
	if i < 0 {
		return ts, false
	}
	out = make([]target, 0, len(ts)-1)
	out = append(out, ts[:i]...)
	return append(out, ts[i+1:]...), true
}

func (p *projectRules) empty() bool {
	if len(p.rules) > 0 {
		return false
	}
	for _, ts := range p.kinds {
		if len(ts) > 0 {
			return false
		}
	}
	return true
}

// projectCopy returns a copy of project id's rules that may be changed, empty when it has none.
func (s *Snapshot) projectCopy(id int64) *projectRules {
	if p := s.project(id); p != nil {
		c := *p
		return &c
	}
	return &projectRules{}
}

// setProject makes p the rules of project id in s, a copy made by change: it replaces
// the project slices it shares with the original snapshot rather than changing them.
func (s *Snapshot) setProject(id int64, p *projectRules) {
	i, found := slices.BinarySearch(s.projIDs, id)
	ids, projects := slices.Clone(s.projIDs), slices.Clone(s.projects)
	switch {
	case p.empty() && found:
		ids, projects = slices.Delete(ids, i, i+1), slices.Delete(projects, i, i+1)
	case p.empty():
	case found:
		projects[i] = p
	default:
		ids, projects = slices.Insert(ids, i, id), slices.Insert(projects, i, p)
	}
	s.projIDs, s.projects = ids, projects
	s.indexProjects()
}

// objectOverlay holds the rules of the objects of one kind whose rules changed since the
// kind's table was built; it takes precedence over the table. It is never changed once
// built, only replaced, so that snapshots can share it.
type objectOverlay struct {
	keys  []uint64   // open addressing; len is a power of two ≥ 2 × len(list)
	at    []int32    // at[i] is the index in list of keys[i]
	shift uint8      // 64 - log2(len(keys))
	list  []overRule // in the order they were first changed
	// filter is a hashed filter of the keys, like objectTable's, for Filter.
	filter []uint64
	fshift uint8
}

// overRule is the rules of one object now; none when the object's rules all went.
type overRule struct {
	key   uint64
	rules []target
}

// find returns the object's rules; found is false when the overlay does not know it and
// the table decides.
func (o *objectOverlay) find(key uint64) (rs ruleSet, found bool) {
	mask := len(o.keys) - 1
	for i := int(mix(key) >> o.shift); ; i = (i + 1) & mask {
		switch o.keys[i] {
		case key:
			ts := o.list[o.at[i]].rules
			if len(ts) == 0 {
				return ruleSet{}, true
			}
			return ruleSet{ts[0], ts[1:]}, true
		case 0:
			return ruleSet{}, false
		}
	}
}

func (o *objectOverlay) filterHas(key uint64) bool {
	i := filterBit(key, o.fshift)
	return o.filter[i/64]&(1<<(i%64)) != 0
}

// newOverlay indexes list.
func newOverlay(list []overRule) *objectOverlay {
	size := tableSize(len(list))
	o := &objectOverlay{keys: make([]uint64, size), at: make([]int32, size), list: list}
	o.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for li, e := range list {
		i := int(mix(e.key) >> o.shift)
		for o.keys[i] != 0 {
			i = (i + 1) & mask
		}
		o.keys[i], o.at[i] = e.key, int32(li)
	}
	fbits := filterBitsFor(len(list))
	o.filter, o.fshift = make([]uint64, 1<<(fbits-6)), uint8(64-fbits)
	for _, e := range list {
		i := filterBit(e.key, o.fshift)
		o.filter[i/64] |= 1 << (i % 64)
	}
	return o
}

// rulesOf returns the rules on the object whose key is key, overlay first.
func (t *objectTable) rulesOf(key uint64) ruleSet {
	if t.over != nil {
		if rs, found := t.over.find(key); found {
			return rs
		}
	}
	return t.tableRules(key)
}

// with returns a copy of t with rule r on the object key added (add) or one like it
// removed; changed is false when there was nothing to remove. t is not changed.
func (t objectTable) with(key uint64, r target, add bool) (objectTable, bool) {
	rs := t.rulesOf(key)
	cur := make([]target, 0, rs.len()+1)
	for i := range rs.len() {
		cur = append(cur, rs.at(i))
	}
	next, changed := edit(cur, r, add)
	if !changed {
		return t, false
	}
	var list []overRule
	if t.over != nil {
		list = t.over.list
	}
	i := slices.IndexFunc(list, func(e overRule) bool { return e.key == key })
	if i >= 0 {
		list = slices.Clone(list)
		list[i].rules = next
	} else {
		list = append(list[:len(list):len(list)], overRule{key, next})
	}
	t.over = newOverlay(list)
	if len(list) > overlayHardLimit*overlayLimit(t.n) {
		t = t.compacted()
	}
	return t, true
}

// overlayHardLimit is how many times overlayLimit an overlay grows to before Apply folds
// it in itself. Folding copies the table (milliseconds at 100,000 rules): done inside a
// write's recheck it held up every writer queued behind it (p99 65 ms against 17 ms at
// 100 rules, gatehouse-load --ops rules). Below this size a change costs a copy of the
// overlay, tens of microseconds.
const overlayHardLimit = 4

// NeedsCompaction reports whether an overlay of s has outgrown its table's limit, so that
// s decides and derives faster once Compacted.
func (s *Snapshot) NeedsCompaction() bool {
	if !s.objects.overlaid {
		return false
	}
	for k := range s.objects.kinds {
		if t := &s.objects.kinds[k]; t.over != nil && len(t.over.list) > overlayLimit(t.n) {
			return true
		}
	}
	return false
}

// Compacted returns a snapshot that decides as s does with every overlay folded into its
// table; s itself when it has none. s is not changed.
func (s *Snapshot) Compacted() *Snapshot {
	if !s.objects.overlaid {
		return s
	}
	ns := *s
	for k := range ns.objects.kinds {
		if ns.objects.kinds[k].over != nil {
			ns.objects.kinds[k] = ns.objects.kinds[k].compacted()
		}
	}
	ns.objects.overlaid = false
	return &ns
}

// minOverlay is the overlay size below which a table is never built again: tests lower it.
var minOverlay = 64

// overlayLimit is how many changed objects an overlay on a table of n objects holds
// before the table is folded again: about 4√n, so that a change costs O(√n) for the copy
// of the overlay plus O(n) every 4√n changes for the fold. The factor weighs a fold's
// copy of the table, which first-touch page faults made 12–20 ms at 20,000 objects on the
// virtual machines the benchmarks ran on, against the copy of the overlay, about 20 ns an
// object.
func overlayLimit(n int) int {
	return max(minOverlay, 4*int(math.Sqrt(float64(n))))
}

// compacted returns t with its overlay folded in: a copy of the table with the overlay's
// objects written into it (patched), or, when they do not fit, the table built again.
// Building 100,000 rules again took 27 ms, and a compaction happens on the way of a
// request (or inside a write's recheck, while every other writer waits); a patched
// copy costs the copy of the table's arrays, well under a millisecond.
func (t objectTable) compacted() objectTable {
	if p, ok := t.patched(); ok {
		return p
	}
	return t.rebuilt()
}

// rebuilt returns t built again from all its rules, overlay folded in.
func (t objectTable) rebuilt() objectTable {
	var rules []objectRule
	t.each(func(key uint64, rs ruleSet) {
		if _, found := t.over.find(key); found {
			return
		}
		for i := range rs.len() {
			rules = append(rules, objectRule{key, rs.at(i)})
		}
	})
	for _, e := range t.over.list {
		for _, r := range e.rules {
			rules = append(rules, objectRule{e.key, r})
		}
	}
	return buildObjectTable(rules)
}

// patched returns a copy of t with each object of its overlay written into the copy's
// slots: rules replaced, an object without rules left deleted, a new one inserted. ok
// is false when the result would be worse than a table built again: fuller than a
// built one may be, more than half of more unreachable, or a new object outside a
// dense filter's reach.
func (t objectTable) patched() (objectTable, bool) {
	if t.dense {
		return t.patchedDense()
	}
	if t.slots == nil {
		return t, false
	}
	p := t
	p.over = nil
	p.slots = slices.Clone(t.slots)
	p.more = slices.Clone(t.more)
	p.filter = slices.Clone(t.filter)
	mask := len(p.slots) - 1
	for _, e := range t.over.list {
		i := p.slot(mix(e.key))
		for p.slots[i].key != 0 && p.slots[i].key != e.key {
			i = (i + 1) & mask
		}
		sl := &p.slots[i]
		switch {
		case sl.key == 0 && len(e.rules) == 0: // nothing there, nothing to put
			continue
		case len(e.rules) == 0:
			p.garbage += int(sl.n)
			p.remove(i)
			p.n--
			continue
		case sl.key == 0:
			if (p.n+1)*4 > len(p.slots)*3 {
				return t, false
			}
			p.setFilter(e.key) // hashed: every key has its bit
			*sl = objectSlot{key: e.key}
			p.n++
		default:
			p.garbage += int(sl.n)
		}
		sl.first, sl.lo, sl.n = e.rules[0], int32(len(p.more)), int32(len(e.rules)-1)
		p.more = append(p.more, e.rules[1:]...)
	}
	if p.garbage*2 > len(p.more) {
		return t, false
	}
	return p, true
}

// patchedDense is patched for a dense table: the overlay's objects, in key order, are
// merged into a copy of the table's (replaced, left out when they have no rules left, or
// added), and the filter's bits and ranks follow.
func (t objectTable) patchedDense() (objectTable, bool) {
	list := slices.SortedFunc(slices.Values(t.over.list), func(a, b overRule) int { return cmp.Compare(a.key, b.key) })
	p := t
	p.over = nil
	if len(list) == 0 {
		return p, true
	}
	p.filter = slices.Clone(t.filter)
	p.more = slices.Clone(t.more) // the objects kept keep their rules' places in it
	p.slots = make([]objectSlot, 0, len(t.slots)+len(list))
	p.entries = make([]uint32, 0, len(t.entries)+len(list))
	if last := list[len(list)-1].key >> 1; last >= p.fbase && last-p.fbase >= uint64(len(p.filter))*64 {
		// Past the dense filter's end (a newer object): grow it, within the bound
		// buildDense keeps.
		need := (last-p.fbase)/64 + 1
		if need > uint64(denseFilterFactor<<maxFilterBits)/64 {
			return t, false
		}
		p.filter = append(p.filter, make([]uint64, need-uint64(len(p.filter)))...)
	}
	keep := func(i int) { // t's object i, unchanged
		if e := t.entries[i]; e&3 != 0 {
			p.entries = append(p.entries, e)
		} else {
			p.appendEntry(&t.slots[e>>2])
		}
	}
	old := t.walk()
	for _, e := range list {
		for k, ok := old.key(); ok && k < e.key; k, ok = old.key() {
			keep(old.i)
			old.next()
		}
		fi, ok := p.filterIndex(e.key)
		if !ok {
			if len(e.rules) == 0 {
				continue // nothing there, nothing to put
			}
			return t, false // before the filter's start: build it again
		}
		if k, ok := old.key(); ok && k == e.key {
			if en := t.entries[old.i]; en&3 == 0 {
				p.garbage += int(t.slots[en>>2].n)
			}
			old.next()
		}
		if len(e.rules) == 0 {
			p.filter[fi/64] &^= 1 << (fi % 64)
			continue
		}
		p.filter[fi/64] |= 1 << (fi % 64)
		m := objectSlot{key: e.key, first: e.rules[0], lo: int32(len(p.more)), n: int32(len(e.rules) - 1)}
		p.more = append(p.more, e.rules[1:]...)
		p.appendEntry(&m)
	}
	for i := old.i; i < len(t.entries); i++ {
		keep(i)
	}
	p.indexRanks()
	if p.garbage*2 > len(p.more) {
		return t, false
	}
	return p, true
}

// remove empties slot i of a linear-probing table and moves back the entries after it
// that could not have been found past the gap otherwise.
func (t *objectTable) remove(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].key != 0; j = (j + 1) & mask {
		// The entry at j may fill the gap at i when its home slot is not cyclically
		// within (i, j].
		if home := t.slot(mix(t.slots[j].key)); (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = objectSlot{}
}
