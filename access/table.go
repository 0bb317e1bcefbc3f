package access

import (
	"math"
	"math/bits"
	"slices"
)

// The snapshot's lookups are tables of its own (direct, ranked or open-addressing) rather
// than Go maps: a slot holds what a decision needs from it, so a lookup costs a cache line
// or two when the snapshot is cold (many organizations loaded); the object tables are split per kind, so
// that a list of one kind works in the little memory that kind's rules take. A snapshot is
// never changed once compiled: a change of the facts derives a new one (Snapshot.Apply),
// which puts the objects it changes in a small overlay in front of a table it shares.

// mix hashes x: one multiplication, then the high half folded into the low one, so that
// every bit of the result depends on every bit of x and the tables can take their slot
// and filter positions from disjoint bit ranges of one hash. Two multiplications
// (splitmix64) cost a visible share of Decide for no better spread over database ids.
func mix(x uint64) uint64 {
	x *= 0x9e3779b97f4a7c15
	return x ^ x>>32
}

// tableSize returns the power of two ≥ 2n (load factor ≤ 1/2), at least 2.
func tableSize(n int) int {
	if n < 1 {
		return 2
	}
	return 1 << bits.Len(uint(2*n-1))
}

// member is what a lookup in memberTable finds of a member, packed in four bytes: the
// member's index in Snapshot.members and whether their membership level is at least
// AdminLevel, index<<1 | admin (an index below 2^30: a billion members would not fit in
// memory anyway). noMember is a user who is not a member.
type member int32

const noMember member = -1

func packMember(idx int32, admin bool) member {
	m := member(idx << 1)
	if admin {
		m |= 1
	}
	return m
}

func (m member) idx() int32  { return int32(m >> 1) }
func (m member) admin() bool { return m&1 != 0 }

// memberSlot is one member in memberTable's hash table.
type memberSlot struct {
	user int64
	m    member // valid only when used
	used bool
}

// memberTable maps a user id to its member slot.
type memberTable struct {
	slots []memberSlot // len is a power of two
	shift uint8        // 64 - log2(len(slots))
	// direct, when the members' user ids lie close together (as in a self-hosted
	// workspace, where most users belong to the one organization), holds each member
	// at their user id minus base (noMember between them), and slots is dropped: one
	// read instead of a hash and a probe. Four bytes an entry rather than a slot's
	// sixteen keep the table of a thousand members in a few cache lines' worth of the
	// first-level cache that Decide's other tables share.
	direct []member
	base   int64
}

// maxMemberSpan bounds the ids direct spans, in slots per member (plus a few): never more
// than the hash table it replaces.
const maxMemberSpan = 2

// indexDirect builds direct from slots when the members' ids are close enough.
func (t *memberTable) indexDirect() {
	n, lo, hi := 0, int64(0), int64(0)
	for _, sl := range t.slots {
		if !sl.used {
			continue
		}
		if n == 0 || sl.user < lo {
			lo = sl.user
		}
		if n == 0 || sl.user > hi {
			hi = sl.user
		}
		n++
	}
	if n == 0 || uint64(hi-lo) >= uint64(maxMemberSpan*n+64) || hi-lo < 0 {
		return
	}
	t.direct, t.base = make([]member, hi-lo+1), lo
	for i := range t.direct {
		t.direct[i] = noMember
	}
	for _, sl := range t.slots {
		if sl.used {
			t.direct[sl.user-lo] = sl.m
		}
	}
	t.slots = nil
}

func newMemberTable(n int) memberTable {
	size := tableSize(n)
	return memberTable{slots: make([]memberSlot, size), shift: uint8(64 - bits.TrailingZeros(uint(size)))}
}

// insert adds user unless present; it reports whether it did.
func (t *memberTable) insert(user int64, idx int32, admin bool) bool {
	mask := len(t.slots) - 1
	for i := int(mix(uint64(user)) >> t.shift); ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if !sl.used {
			*sl = memberSlot{user: user, m: packMember(idx, admin), used: true}
			return true
		}
		if sl.user == user {
			return false
		}
	}
}

// find returns user as a member, noMember when user is not one.
func (t *memberTable) find(user int64) member {
	if m, in := t.atDirect(user); in {
		return m
	}
	return t.probe(user)
}

// atDirect is find in the direct table: in is false when user lies outside it (or there
// is none), and the hash table must be probed. Small enough to be inlined into Decide.
func (t *memberTable) atDirect(user int64) (m member, in bool) {
	if i := uint64(user - t.base); i < uint64(len(t.direct)) {
		return t.direct[i], true
	}
	return noMember, false
}

// probe is find in the hash table, which a table with direct has not.
func (t *memberTable) probe(user int64) member {
	if t.direct != nil {
		return noMember
	}
	mask := len(t.slots) - 1
	for i := int(mix(uint64(user)) >> t.shift); ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if !sl.used {
			return noMember
		}
		if sl.user == user {
			return sl.m
		}
	}
}

// objectKey packs an object id into a non-zero word, 0 marking an empty slot. It is exact
// for ids in [-2^62, 2^62), which database ids never leave; other ids go to
// objectIndex.wide.
func objectKey(id int64) (key uint64, ok bool) {
	if uint64(id)+1<<62 >= 1<<63 {
		return 0, false
	}
	return uint64(id)<<1 | 1, true
}

// ruleSet is the rules on one object: first, then more.
type ruleSet struct {
	first target
	more  []target
}

// len returns how many rules there are, 0 for an object without rules.
func (r *ruleSet) len() int {
	if r.first.rank == noRank {
		return 0
	}
	return 1 + len(r.more)
}

// at returns rule i < r.len().
func (r *ruleSet) at(i int) target {
	if i == 0 {
		return r.first
	}
	return r.more[i-1]
}

// objectSlot is one object in objectTable: its key (0: empty), its first rule inline, since
// most objects have one, and the others in objectTable.more[lo : lo+n]. Key and rules share
// a slot, so that a lookup that finds the object costs one cache miss, not two.
type objectSlot struct {
	key   uint64
	first target
	lo, n int32
}

// objectTable finds the rules of objects of one kind, behind a filter that answers "no
// rules" for most objects. Dense (the usual case), the objects lie in key order and an
// object's entry is its rank among the filter's set bits: a population count, no hash and
// no probe, and no empty entries. Hashed, when the ids are too spread out for a filter bit
// per id, an open-addressing table whose slot comes from the top bits of mix(key), behind
// a filter with a hash of its own, cheaper.
type objectTable struct {
	// slots holds the objects. Hashed: an open-addressing table, len a power of two
	// with at least one empty slot, nil without rules. Dense: only the objects that
	// entries cannot hold, in key order.
	slots []objectSlot
	more  []target
	// entries, dense only, is the objects in key order, object i at its rank among the
	// set bits of filter (denseIndex), four bytes each: its one rule packed (packSingle),
	// as most objects have one, or, with its low two bits clear, the index of its slot
	// shifted left by two. Slots of 24 bytes for 18,000 objects took 432 KB, more than
	// stays in a core's second-level cache beside what else a decision reads; entries
	// take 72 KB.
	entries []uint32
	shift   uint8    // hashed: 64 - log2(len(slots))
	rank    []uint32 // dense: rank[w] is how many objects the filter's words before w hold
	// filter has a bit set for every object with rules (and a few without): a clear bit
	// answers "no rules" from one word that usually sits in L1, which is what makes Filter
	// cheap for the many objects that have no rules.
	//
	// A filter is dense or hashed. Dense (the usual case: one installation's
	// objects have ids from one sequence, close together), bit id−fbase is
	// set exactly for the objects with rules, ids outside it have none; it
	// costs a subtraction, no hash and no false positives. Hashed, when the
	// ids are too spread out for that to be small, bit filterBit(key) is set:
	// len(filter) is a power of two and fshift is 64 − log2(len(filter)×64).
	filter []uint64
	dense  bool
	fbase  uint64
	fshift uint8
	n      int // objects with rules
	// garbage counts the entries of more that no slot reaches any longer (patched).
	garbage int
	// over, when not nil, holds the objects whose rules changed since the table was built
	// (Snapshot.Apply); what it says of an object overrides the table.
	over *objectOverlay
}

// objectIndex finds the rules of an object.
type objectIndex struct {
	kinds [NumKinds]objectTable
	// overlaid reports whether a table of kinds has an overlay.
	overlaid bool
	// wide holds the rules of objects whose id objectKey cannot pack; normally nil.
	wide map[wideKey][]target
}

type wideKey struct {
	kind Kind
	id   int64
}

// objectRule is one object rule compiled, on its way into a table.
type objectRule struct {
	key uint64
	t   target
}

const (
	filterBitsPer = 16 // filter bits per object with rules: about 1 in 17 objects without rules passes
	maxFilterBits = 24
	// denseFilterFactor bounds a dense filter at this many times a hashed one's size.
	denseFilterFactor = 4
)

// slot is where key, whose hash is h, starts its probe in a hashed table.
func (t *objectTable) slot(h uint64) int { return int(h >> t.shift) }

// home is where to look for key first: its entry in a dense table (whose filter must
// have key), the slot where its probe starts in a hashed one.
func (t *objectTable) home(key uint64) int {
	if t.dense {
		i, _ := t.denseIndex(key)
		return i
	}
	return t.slot(mix(key))
}

// filterBit is key's bit in a filter of 64 - shift bits: bits 16 and up of mix(key), apart
// from the top bits that choose a slot for all but tables of over 2^24 slots. A
// plain multiplicative hash (the top bits of key × constant) would be cheaper, but ids in
// arithmetic progression, as one kind's ids in a shared sequence are, land on a lattice
// there: three times the false positives on BenchmarkFilter's list.
func filterBit(key uint64, shift uint8) uint64 { return mix(key) << (shift - 16) >> shift }

// filterIndex is key's bit in t's filter; ok is false for an id outside a dense filter.
func (t *objectTable) filterIndex(key uint64) (i uint64, ok bool) {
	if t.dense {
		i = key>>1 - t.fbase
		return i, i < uint64(len(t.filter))*64
	}
	return filterBit(key, t.fshift), true
}

func (t *objectTable) filterHas(key uint64) bool {
	i, ok := t.filterIndex(key)
	return ok && t.filter[i/64]&(1<<(i%64)) != 0
}

// setFilter sets key's bit in t.filter, which must have it.
func (t *objectTable) setFilter(key uint64) {
	i, _ := t.filterIndex(key)
	t.filter[i/64] |= 1 << (i % 64)
}

// find returns the rules on the object; ruleSet.len is 0 when it has none.
func (x *objectIndex) find(k Kind, id int64) ruleSet {
	key, ok := objectKey(id)
	if !ok {
		if ts := x.wide[wideKey{k, id}]; len(ts) > 0 {
			return ruleSet{ts[0], ts[1:]}
		}
		return ruleSet{}
	}
	t := &x.kinds[k]
	// rulesOf, written out: Decide must not pay for a call more.
	if t.over != nil {
		if rs, found := t.over.find(key); found {
			return rs
		}
	}
	return t.tableRules(key)
}

// tableRules returns the rules the table itself holds for the object whose key is key
// (not its overlay's), from the filter and then the object's slot, in either layout.
func (t *objectTable) tableRules(key uint64) ruleSet {
	if t.dense {
		if i, ok := t.denseIndex(key); ok {
			return t.rulesAt(i)
		}
		return ruleSet{}
	}
	if t.n == 0 || !t.filterHas(key) {
		return ruleSet{}
	}
	return t.probe(key)
}

// probe finds the object whose key is key in a hashed table, which must have rules.
func (t *objectTable) probe(key uint64) ruleSet {
	mask := len(t.slots) - 1
	for i := t.slot(mix(key)); ; i = (i + 1) & mask {
		switch m := &t.slots[i]; m.key {
		case key:
			return ruleSet{m.first, t.more[m.lo : m.lo+m.n]}
		case 0:
			return ruleSet{}
		}
	}
}

// buildObjectTable lays out rules of one kind, in any order: dense when the objects' ids
// span at most denseFilterFactor times the bits a hashed filter would have (an id past its
// end has no rules: a table changes only by patching, which extends it), hashed otherwise.
func buildObjectTable(rules []objectRule) objectTable {
	if t, ok := buildDense(rules); ok {
		return t
	}
	var t objectTable
	if len(rules) == 0 {
		t.newHashedFilter()
		return t
	}
	// Sized for as many objects as rules, a bound that most tables come close to. Load
	// factor ≤ 3/4: the filter turns away most lookups of absent keys, so probes are
	// mostly for present keys, which linear probing finds in a couple of steps at that load.
	size := 1 << bits.Len(uint(len(rules)+len(rules)/3))
	t.slots = make([]objectSlot, size)
	t.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	t.placeRules(rules, func(key uint64) int {
		s := t.slot(mix(key))
		for t.slots[s].key != 0 && t.slots[s].key != key {
			s = (s + 1) & mask
		}
		return s
	})
	t.newHashedFilter()
	return t
}

// buildDense builds the dense form of a table of rules, when they fit one: bit id−fbase
// of the filter is set for each object with rules, and the objects' entries lie in key
// order, each at its rank among the filter's set bits, so that finding one costs a
// population count and no probe.
func buildDense(rules []objectRule) (t objectTable, ok bool) {
	if len(rules) == 0 {
		return t, false
	}
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for _, r := range rules {
		lo, hi = min(lo, r.key>>1), max(hi, r.key>>1)
	}
	// The rules bound the objects from above, so this bound is checked before the
	// filter is made, and the exact one once the filter has counted the objects.
	span := hi - lo + 1
	if span > denseFilterFactor<<filterBitsFor(len(rules)) {
		return t, false
	}
	t.dense, t.fbase, t.filter = true, lo, make([]uint64, (span+63)/64)
	for _, r := range rules {
		t.setFilter(r.key)
	}
	t.indexRanks()
	if span > denseFilterFactor<<filterBitsFor(t.n) {
		return objectTable{}, false
	}
	t.slots = make([]objectSlot, t.n)
	t.placeRules(rules, func(key uint64) int {
		i, _ := t.denseIndex(key)
		return i
	})
	// Every object has its slot now, in key order; entries keep the slots of those whose
	// rules do not pack.
	all := t.slots
	t.slots, t.entries = nil, make([]uint32, 0, len(all))
	for i := range all {
		t.appendEntry(&all[i])
	}
	t.slots = slices.Clip(t.slots)
	return t, true
}

// appendEntry adds the object of m, which lies after every object t holds, to a dense
// table's entries: packed when it has one rule that packs, else as a slot of its own.
func (t *objectTable) appendEntry(m *objectSlot) {
	if m.n == 0 {
		if e := packSingle(m.first); e != 0 {
			t.entries = append(t.entries, e)
			return
		}
	}
	t.entries = append(t.entries, uint32(len(t.slots))<<2)
	t.slots = append(t.slots, *m)
}

// rulesAt returns the rules of object i of a dense table.
func (t *objectTable) rulesAt(i int) ruleSet {
	e := t.entries[i]
	if one, ok := unpackSingle(e); ok {
		return ruleSet{first: one}
	}
	m := &t.slots[e>>2]
	return ruleSet{m.first, t.more[m.lo : m.lo+m.n]}
}

// each calls fn with every object of t that has rules, and its rules (not its overlay's).
func (t *objectTable) each(fn func(key uint64, rs ruleSet)) {
	if t.dense {
		for w := t.walk(); ; w.next() {
			key, ok := w.key()
			if !ok {
				return
			}
			fn(key, t.rulesAt(w.i))
		}
	}
	for i := range t.slots {
		if m := &t.slots[i]; m.key != 0 {
			fn(m.key, ruleSet{m.first, t.more[m.lo : m.lo+m.n]})
		}
	}
}

// denseWalk steps through a dense table's objects in key order: object i has the key
// key returns.
type denseWalk struct {
	t    *objectTable
	i, w int
	word uint64 // the bits of filter word w not yet passed
}

func (t *objectTable) walk() denseWalk { return denseWalk{t: t, w: -1} }

// key returns the key of object i; ok is false past the last object.
func (d *denseWalk) key() (key uint64, ok bool) {
	for d.word == 0 {
		if d.w+1 >= len(d.t.filter) {
			return 0, false
		}
		d.w++
		d.word = d.t.filter[d.w]
	}
	return (d.t.fbase+uint64(d.w)*64+uint64(bits.TrailingZeros64(d.word)))<<1 | 1, true
}

// next passes object i, which key must have found.
func (d *denseWalk) next() {
	d.word &= d.word - 1
	d.i++
}

// unpackSingle returns the one rule a dense table's entry e holds; ok is false when e is
// the index of a slot instead.
func unpackSingle(e uint32) (r target, ok bool) {
	return target{idx: int32(e>>4) - 1, rank: rank(e & 3), level: Level(e >> 2 & 3)}, e&3 != 0
}

// maxSingleIdx bounds the member and role indices packSingle packs: 28 bits, idx+1.
const maxSingleIdx = 1<<28 - 2

// packSingle packs r into a dense table's entry, rank in bits 0–1 (never 0, noRank being
// no rule), level in 2–3, idx+1 above; 0 when r does not fit.
func packSingle(r target) uint32 {
	if r.rank == noRank || r.rank >= numRanks || r.level > Manager || r.idx < -1 || r.idx > maxSingleIdx {
		return 0
	}
	return uint32(r.idx+1)<<4 | uint32(r.level)<<2 | uint32(r.rank)
}

// placeRules lays rules out in t.slots and t.more, the slot of each object being where
// locate says: its first rule in the slot, the others in more. It counts t.n.
func (t *objectTable) placeRules(rules []objectRule, locate func(key uint64) int) {
	// First pass: place each object and count its rules beyond the first; slot remembers
	// where each rule went, negative for a first rule.
	slot := make([]int32, len(rules))
	more, n := 0, 0
	for i, r := range rules {
		s := locate(r.key)
		if t.slots[s].key == 0 {
			t.slots[s].key, t.slots[s].first = r.key, r.t
			slot[i] = ^int32(s)
			n++
			continue
		}
		t.slots[s].n++
		slot[i] = int32(s)
		more++
	}
	t.n = n
	var lo int32
	for s := range t.slots {
		m := &t.slots[s]
		m.lo, lo = lo, lo+m.n
		m.n = 0
	}
	t.more = make([]target, more)
	for i, r := range rules {
		if s := slot[i]; s >= 0 {
			m := &t.slots[s]
			t.more[m.lo+m.n] = r.t
			m.n++
		}
	}
}

// indexRanks counts the objects of a dense filter: t.rank[w] is how many bits are set
// in the words before w, and t.n all of them.
func (t *objectTable) indexRanks() {
	t.rank = make([]uint32, len(t.filter))
	var c uint32
	for w, word := range t.filter {
		t.rank[w] = c
		c += uint32(bits.OnesCount64(word))
	}
	t.n = int(c)
}

// denseIndex is the entry of the object whose key is key in a dense table; ok is false
// when the object has no rules. Small enough to be inlined into Decide.
func (t *objectTable) denseIndex(key uint64) (i int, ok bool) {
	b := key>>1 - t.fbase
	if b >= uint64(len(t.filter))*64 {
		return 0, false
	}
	w := t.filter[b/64]
	if w>>(b%64)&1 == 0 {
		return 0, false
	}
	return int(t.rank[b/64]) + bits.OnesCount64(w&(1<<(b%64)-1)), true
}

// filterBitsFor is log2 of the bits of a hashed filter for n objects.
func filterBitsFor(n int) int {
	fbits := 6
	for fbits < maxFilterBits && 1<<fbits < filterBitsPer*n {
		fbits++
	}
	return fbits
}

// newHashedFilter gives a hashed table its filter, with every object of t set.
func (t *objectTable) newHashedFilter() {
	fbits := filterBitsFor(t.n)
	t.filter, t.dense, t.fbase, t.fshift = make([]uint64, 1<<(fbits-6)), false, 0, uint8(64-fbits)
	for i := range t.slots {
		if key := t.slots[i].key; key != 0 {
			t.setFilter(key)
		}
	}
}
