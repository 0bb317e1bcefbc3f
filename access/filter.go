package access

import "math/bits"

// Filter answers "which of these objects may user see (atLeast = Viewer) or edit
// (atLeast = Editor)" in one call: it sets bit i of out (out[i/64] & (1 << (i%64))) exactly
// when s.Decide(user, objs[i]).Level ≥ atLeast, clears every other bit of
// out[:(len(objs)+63)/64], and returns how many bits it set. out must hold at least
// (len(objs)+63)/64 words; it panics otherwise. It does not allocate.
//
// It resolves the user once and then costs a few nanoseconds per object: one bit of a small
// filter tells most objects apart from the few that carry object rules, and only those
// are looked up.
func (s *Snapshot) Filter(user int64, objs []Object, atLeast Level, out []uint64) int {
	out = out[:(len(objs)+63)/64]
	clear(out)
	m := s.memberTab.find(user)
	if m == noMember {
		if atLeast == None {
			return setAll(out, len(objs))
		}
		return 0
	}
	if m.admin() || !s.enforced {
		// Manager (admins, creators on the free plan) or editor (everyone else on the free
		// plan) on every object of a known kind, none on the others.
		n := 0
		for i := range objs {
			o := &objs[i]
			l := None
			switch {
			case o.Kind >= NumKinds:
			case m.admin(), o.Creator != 0 && o.Creator == user:
				l = Manager
			default:
				l = Editor
			}
			if l >= atLeast {
				out[i/64] |= 1 << (i % 64)
				n++
			}
		}
		return n
	}

	f := filterer{s: s, user: user, mi: m.idx()}
	f.roles = s.roleBits[int(f.mi)*s.roleWords : int(f.mi+1)*s.roleWords]
	f.base = s.kindBase[int(f.mi)*int(NumKinds):][:NumKinds]
	// The type level of each kind outside projects with rules, where most objects are,
	// as one bit per kind: whether it reaches atLeast.
	var kindAllow uint64
	for k, c := range f.base {
		if c.level >= atLeast || c.rank == noRank && Editor >= atLeast {
			kindAllow |= 1 << k
		}
	}
	creatorAllow, noneAllow := uint64(0), uint64(0)
	if Manager >= atLeast {
		creatorAllow = 1
	}
	if None >= atLeast {
		noneAllow = 1
	}

	// Each run of 64 objects is decided in two passes. The first decides, with as few
	// branches as it can, every object whose id the filter of its kind says has no
	// object rules: by how the user stands in its project (no access, manager, or the
	// kind's type level there), or as its creator. It marks the others, which the second
	// pass decides one by one. Unpredictable branches (is this the user's object, does
	// it have rules) would cost more than the rest.
	n := 0
	lastProject, mode, allow := int64(0), standKinds, kindAllow
	if len(objs) > 0 {
		lastProject = objs[0].Project
		mode, allow = f.stand(lastProject, atLeast, kindAllow)
	}
	overlaid := s.objects.overlaid
	// The filter of the previous object's kind: lists are of one kind.
	lastKind := Kind(0)
	kt := &s.objects.kinds[0]
	// The second pass's worklist, declared once: zeroing it for every 64 objects showed.
	var (
		tables [64]*objectTable
		slots  [64]int32
		keys   [64]uint64
		at     [64]uint8
	)
	for lo := 0; lo < len(objs); lo += 64 {
		chunk := objs[lo:min(lo+64, len(objs))]
		// odd: objects decided one by one; probe: objects whose object rules are looked
		// up; typeAllow: each object's answer when no object rule reaches the user.
		var word, odd, probe, typeAllow uint64
		for j := range chunk {
			o := &chunk[j]
			if o.Project != lastProject {
				lastProject = o.Project
				// stand's cache hit, inlined: objects of many projects (a batch,
				// a search) change project at every object.
				if c := &f.stands[uint64(o.Project)%uint64(len(f.stands))]; c.ok && c.project == o.Project {
					mode, allow = c.mode, c.allow
				} else {
					mode, allow = f.stand(o.Project, atLeast, kindAllow)
				}
			}
			if user == 0 || uint64(o.ID)+1<<62 >= 1<<63 { // see objectKey
				odd |= 1 << j
				continue
			}
			if o.Kind != lastKind {
				if o.Kind >= NumKinds {
					odd |= 1 << j
					continue
				}
				lastKind, kt = o.Kind, &s.objects.kinds[o.Kind]
			}
			switch mode {
			case standNone:
				word |= noneAllow << j
				continue
			case standManager:
				word |= creatorAllow << j
				continue
			}
			if o.Creator == user {
				word |= creatorAllow << j
				continue
			}
			bit := allow >> o.Kind & 1
			word |= bit << j
			typeAllow |= bit << j
			if kt.dense {
				// key>>1 of objectKey: the id's low 63 bits, as the filter was built.
				if i := uint64(o.ID)<<1>>1 - kt.fbase; i < uint64(len(kt.filter))*64 {
					probe |= (kt.filter[i/64] >> (i % 64) & 1) << j
				}
			} else {
				i := filterBit(uint64(o.ID)<<1|1, kt.fshift) // see objectKey
				probe |= (kt.filter[i/64] >> (i % 64) & 1) << j
			}
		}
		if overlaid {
			// Objects whose rules changed since their table was built (Snapshot.Apply)
			// are decided one by one, from the overlay; the table decides the others.
			for m := ^odd & (1<<len(chunk) - 1); m != 0; m &= m - 1 {
				j := bits.TrailingZeros64(m)
				o := &chunk[j]
				if ov := s.objects.kinds[o.Kind].over; ov != nil && ov.filterHas(uint64(o.ID)<<1|1) {
					odd |= 1 << j
					probe &^= 1 << j
				}
			}
		}

		// Objects whose only question left is their object rules are looked up in two
		// loops: the first finds each one's table and place (entry or slot), the second
		// reads them. The reads do not depend on one another, so the processor overlaps
		// their cache misses instead of waiting for each in turn.
		np := 0
		for m := probe; m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m)
			o := &chunk[j]
			key := uint64(o.ID)<<1 | 1 // objectKey, known to pack
			tab := &s.objects.kinds[o.Kind]
			tables[np], slots[np], keys[np], at[np] = tab, int32(tab.home(key)), key, uint8(j)
			np++
		}
		for i := range np {
			tab, sl, key, j := tables[i], slots[i], keys[i], at[i]
			bit := typeAllow >> j & 1
			var rs ruleSet
			if tab.dense {
				// The entry read here rather than through rulesAt: a ruleSet made for
				// every object looked up cost Filter a fifth (58 → 70 µs).
				e := tab.entries[sl]
				if t, ok := unpackSingle(e); ok {
					word = word&^(1<<j) | f.oneRule(t, atLeast, bit)<<j
					continue
				}
				m := &tab.slots[e>>2]
				rs = ruleSet{m.first, tab.more[m.lo : m.lo+m.n]}
			} else if m := &tab.slots[sl]; m.key == key {
				if m.n == 0 {
					word = word&^(1<<j) | f.oneRule(m.first, atLeast, bit)<<j
					continue
				}
				rs = ruleSet{m.first, tab.more[m.lo : m.lo+m.n]}
			} else if m.key != 0 {
				rs = tab.tableRules(key) // a hashed table's collision: probe on
			}
			if l, ok := f.objectLevel(rs); ok {
				bit = 0
				if l >= atLeast {
					bit = 1
				}
			}
			word = word&^(1<<j) | bit<<j
		}
		for m := odd; m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m)
			if f.level(&chunk[j]) >= atLeast {
				word |= 1 << j
			} else {
				word &^= 1 << j
			}
		}
		out[lo/64] = word
		n += bits.OnesCount64(word)
	}
	return n
}

// filterer decides objects one by one for Filter, for one plain member of an organization
// on a plan that enforces rules, as Decide would but for the level only.
type filterer struct {
	s     *Snapshot
	user  int64
	mi    int32
	roles []uint64    // the member's role bits
	base  []candidate // the member's type level per kind
	// stands caches stand's answers by project, direct-mapped: Filter does not allocate,
	// and a list meets few projects (one, usually).
	stands [64]projectStand
}

// How a member stands in a project, for every object in it without object rules.
const (
	standKinds   uint8 = iota // by the type level of each kind (allow says which reach the level asked)
	standNone                 // project rules give no access: nothing, not even their own objects
	standManager              // project admin: manager on everything
)

type projectStand struct {
	project int64
	mode    uint8
	allow   uint64
	ok      bool
}

// stand returns how the user stands in project p, and with standKinds the kinds whose
// type level there reaches atLeast as bits; plain is those bits outside projects with rules.
func (f *filterer) stand(p int64, atLeast Level, plain uint64) (mode uint8, allow uint64) {
	if len(f.s.projIDs) == 0 {
		return standKinds, plain
	}
	c := &f.stands[uint64(p)%uint64(len(f.stands))]
	if c.ok && c.project == p {
		return c.mode, c.allow
	}
	mode, allow = standKinds, plain
	if pr := f.s.project(p); pr != nil {
		pl := ProjectMember
		if pr.levels != nil {
			pl = pr.levels[f.mi]
		}
		switch {
		case pl == ProjectNone:
			mode = standNone
		case pl >= ProjectAdmin:
			mode = standManager
		default:
			allow = 0
			for k := range NumKinds {
				if f.kindLevel(k, pr) >= atLeast {
					allow |= 1 << k
				}
			}
		}
	}
	*c = projectStand{project: p, mode: mode, allow: allow, ok: true}
	return mode, allow
}

// oneRule is the answer bit of an object whose only rule is t, the common case, decided
// inline: t gives its level to whoever it reaches; to anyone else the type level
// (typeBit) applies.
func (f *filterer) oneRule(t target, atLeast Level, typeBit uint64) uint64 {
	switch {
	case !f.reaches(t):
		return typeBit
	case t.level >= atLeast:
		return 1
	}
	return 0
}

func (f *filterer) reaches(t target) bool {
	switch t.rank {
	case rankEveryone:
		return true
	case rankRole:
		return f.roles[t.idx/64]&(1<<(t.idx%64)) != 0
	}
	return t.idx == f.mi
}

// level returns user's level on o.
func (f *filterer) level(o *Object) Level {
	s := f.s
	if o.Kind >= NumKinds {
		return None
	}
	var pr *projectRules
	pl := ProjectMember
	if len(s.projIDs) > 0 {
		if pr = s.project(o.Project); pr != nil && pr.levels != nil {
			pl = pr.levels[f.mi]
		}
	}
	switch {
	case pl == ProjectNone:
		return None
	case o.Creator != 0 && o.Creator == f.user, pl >= ProjectAdmin:
		return Manager
	}
	if l, ok := f.objectLevel(s.objects.find(o.Kind, o.ID)); ok {
		return l
	}
	return f.kindLevel(o.Kind, pr)
}

// objectLevel returns the level rs give the user; ok is false when they give none, and
// the type level applies.
func (f *filterer) objectLevel(rs ruleSet) (l Level, ok bool) {
	switch t := rs.first; {
	case t.rank == noRank:
		return None, false
	case len(rs.more) > 0:
	case t.rank == rankEveryone:
		return t.level, true
	case f.reaches(t):
		return t.level, true
	default:
		return None, false
	}
	best, specific, everyone, hasEveryone := None, false, None, false
	for i := range rs.len() {
		switch t := rs.at(i); {
		case t.rank == rankEveryone:
			everyone, hasEveryone = max(everyone, t.level), true
		case f.reaches(t):
			best, specific = max(best, t.level), true
		}
	}
	switch {
	case specific:
		return best, true
	case hasEveryone:
		return everyone, true
	}
	return None, false
}

// kindLevel returns the user's type level for k in a project with rules pr (nil: none).
func (f *filterer) kindLevel(k Kind, pr *projectRules) Level {
	// The highest candidate wins, and with none at all the level is editor.
	c := f.base[k]
	best, any := c.level, c.rank != noRank
	if pr != nil {
		for _, t := range pr.kinds[k] {
			if f.reaches(t) {
				best, any = max(best, t.level), true
			}
		}
	}
	if !any {
		return Editor
	}
	return best
}

// setAll sets the first n bits of out and returns n.
func setAll(out []uint64, n int) int {
	for i := range out {
		out[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		out[len(out)-1] = 1<<r - 1
	}
	return n
}
