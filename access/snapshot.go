package access

import "math/bits"

// rank orders the targets of rules of one specificity: when levels tie, the more specific
// target names the source (member, then role, then everyone). noRank marks "no rule".
type rank uint8

const (
	noRank rank = iota
	rankEveryone
	rankRole
	rankMember
)

// candidate is the best rule seen so far at one step of the decision.
type candidate struct {
	level Level
	rank  rank
	role  int32 // role index when rank is rankRole, else -1
}

var noCandidate = candidate{role: -1}

// beats reports whether c should replace best: higher level, then more specific target, then
// the role listed first in Facts.Roles, so that the role named in a decision is deterministic.
func (c candidate) beats(best candidate) bool {
	if c.level != best.level {
		return c.level > best.level
	}
	if c.rank != best.rank {
		return c.rank > best.rank
	}
	return c.role < best.role
}

// target is one rule of a project-specific kind or of an object, compiled to dense indices.
type target struct {
	idx   int32 // role index for rankRole, member index for rankMember
	rank  rank
	level Level
}

// objectRules are the rules on one object; its targets are s.targets[lo:hi].
type objectRules struct {
	lo, hi      int32
	everyone    Level
	hasEveryone bool
}

// Snapshot is an organization's facts compiled for deciding. It is immutable and safe for
// concurrent use; compile a new one when the facts change.
type Snapshot struct {
	enforced  bool
	members   []Member
	memberIdx map[int64]int32

	roleIDs   []string
	roleNames []string
	roleIdx   map[string]int32
	rolesOf   [][]string
	roleWords int
	roleBits  []uint64 // member i's roles are bits of roleBits[i*roleWords : (i+1)*roleWords]

	// kindBase[i*NumKinds+k] is member i's type level for k from organization-wide rules and
	// role levels; project-specific kind rules are rare and combined in at decision time.
	kindBase []candidate
	projKind map[int64]*[NumKinds][]target

	// projLevels[p][i] is member i's level in project p, for projects with rules only.
	projLevels map[int64][]ProjectLevel

	// Keyed per kind because ids of different kinds come from different tables.
	objects  [NumKinds]map[int64]int32 // object id → index in objRules
	objRules []objectRules
	targets  []target
}

// Compile turns f into a Snapshot. It copies what it keeps, so f may be reused afterwards.
func Compile(f Facts) *Snapshot {
	s := &Snapshot{
		enforced:   f.Enforced,
		memberIdx:  make(map[int64]int32, len(f.Members)),
		roleIdx:    make(map[string]int32, len(f.Roles)),
		projKind:   map[int64]*[NumKinds][]target{},
		projLevels: map[int64][]ProjectLevel{},
	}
	for _, m := range f.Members {
		if _, dup := s.memberIdx[m.User]; dup {
			continue
		}
		s.memberIdx[m.User] = int32(len(s.members))
		s.members = append(s.members, m)
	}
	roles := s.compileRoles(f.Roles)
	s.compileRules(f.Rules, roles)
	return s
}

// compileRoles indexes the roles and returns them, first entry per id, in index order.
func (s *Snapshot) compileRoles(all []Role) []*Role {
	var roles []*Role
	for i := range all {
		r := &all[i]
		if _, dup := s.roleIdx[r.ID]; dup {
			continue
		}
		s.roleIdx[r.ID] = int32(len(roles))
		roles = append(roles, r)
		s.roleIDs = append(s.roleIDs, r.ID)
		s.roleNames = append(s.roleNames, r.Name)
	}
	s.roleWords = (len(roles) + 63) / 64
	s.roleBits = make([]uint64, len(s.members)*s.roleWords)
	for ri, r := range roles {
		for _, u := range r.Members {
			if mi, ok := s.memberIdx[u]; ok {
				s.roleBits[int(mi)*s.roleWords+int(ri)/64] |= 1 << (ri % 64)
			}
		}
	}
	s.rolesOf = make([][]string, len(s.members))
	var ids []string
	for mi := range s.members {
		lo := len(ids)
		s.eachRole(int32(mi), func(ri int32) { ids = append(ids, s.roleIDs[ri]) })
		if len(ids) > lo {
			s.rolesOf[mi] = ids[lo:len(ids):len(ids)]
		}
	}
	return roles
}

// eachRole calls fn with member mi's role indices in ascending order.
func (s *Snapshot) eachRole(mi int32, fn func(ri int32)) {
	words := s.roleBits[int(mi)*s.roleWords : int(mi+1)*s.roleWords]
	for w, word := range words {
		for word != 0 {
			fn(int32(w*64 + bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
}

func (s *Snapshot) hasRole(mi, ri int32) bool {
	return s.roleBits[int(mi)*s.roleWords+int(ri)/64]&(1<<(ri%64)) != 0
}

// resolve compiles a rule's target; ok is false when the rule can reach nobody.
func (s *Snapshot) resolve(r *Rule) (t target, ok bool) {
	switch {
	case r.Role != "" && r.User != 0:
		return t, false
	case r.Role != "":
		ri, ok := s.roleIdx[r.Role]
		return target{idx: ri, rank: rankRole}, ok
	case r.User != 0:
		mi, ok := s.memberIdx[r.User]
		return target{idx: mi, rank: rankMember}, ok
	}
	return target{idx: -1, rank: rankEveryone}, true
}

func (s *Snapshot) reaches(mi int32, t target) bool {
	switch t.rank {
	case rankEveryone:
		return true
	case rankRole:
		return s.hasRole(mi, t.idx)
	}
	return t.idx == mi
}

func (t target) candidate() candidate {
	c := candidate{level: t.level, rank: t.rank, role: -1}
	if t.rank == rankRole {
		c.role = t.idx
	}
	return c
}

func (s *Snapshot) compileRules(rules []Rule, roles []*Role) {
	nm := len(s.members)
	// Organization-wide kind rules fold into per-role and per-member levels, so that the
	// type level of every (member, kind) can be computed once here.
	roleKind := make([][NumKinds]Level, len(roles))
	for ri, r := range roles {
		roleKind[ri] = r.Levels
	}
	var everyoneKind [NumKinds]candidate
	for k := range everyoneKind {
		everyoneKind[k] = noCandidate
	}
	memberKind := map[int32]*[NumKinds]candidate{}

	projRules := map[int64][]target{} // ProjectLevel stored in target.level
	// Object rule targets are gathered first and then laid out contiguously per object, so
	// that tens of thousands of objects cost a handful of allocations, not one each.
	type objectTarget struct {
		object int32
		t      target
	}
	var objectTargets []objectTarget

	// Sized up front: rehashing these maps was the largest part of Compile's time.
	var perKind [NumKinds]int
	for i := range rules {
		if r := &rules[i]; r.Scope == ScopeObject && r.Kind < NumKinds {
			perKind[r.Kind]++
		}
	}
	for k, n := range perKind {
		if n > 0 {
			s.objects[k] = make(map[int64]int32, n)
		}
	}

	for i := range rules {
		r := &rules[i]
		t, ok := s.resolve(r)
		if !ok || r.Level > Manager || r.ProjectLevel > ProjectAdmin {
			continue
		}
		switch r.Scope {
		case ScopeProject:
			t.level = Level(r.ProjectLevel)
			projRules[r.Project] = append(projRules[r.Project], t)
		case ScopeKind:
			if r.Kind >= NumKinds {
				continue
			}
			t.level = r.Level
			if r.Project != 0 {
				pk := s.projKind[r.Project]
				if pk == nil {
					pk = new([NumKinds][]target)
					s.projKind[r.Project] = pk
				}
				pk[r.Kind] = append(pk[r.Kind], t)
				continue
			}
			switch t.rank {
			case rankEveryone:
				if c := t.candidate(); c.beats(everyoneKind[r.Kind]) {
					everyoneKind[r.Kind] = c
				}
			case rankRole:
				roleKind[t.idx][r.Kind] = max(roleKind[t.idx][r.Kind], r.Level)
			case rankMember:
				mk := memberKind[t.idx]
				if mk == nil {
					mk = new([NumKinds]candidate)
					for k := range mk {
						mk[k] = noCandidate
					}
					memberKind[t.idx] = mk
				}
				if c := t.candidate(); c.beats(mk[r.Kind]) {
					mk[r.Kind] = c
				}
			}
		case ScopeObject:
			if r.Kind >= NumKinds {
				continue
			}
			oi, ok := s.objects[r.Kind][r.Object]
			if !ok {
				oi = int32(len(s.objRules))
				s.objects[r.Kind][r.Object] = oi
				s.objRules = append(s.objRules, objectRules{})
			}
			if t.rank == rankEveryone {
				or := &s.objRules[oi]
				or.everyone = max(or.everyone, r.Level)
				or.hasEveryone = true
				continue
			}
			t.level = r.Level
			objectTargets = append(objectTargets, objectTarget{oi, t})
			s.objRules[oi].hi++ // a count until the layout below
		}
	}

	var next int32
	for i := range s.objRules {
		or := &s.objRules[i]
		or.lo, or.hi, next = next, next, next+or.hi
	}
	s.targets = make([]target, len(objectTargets))
	for _, ot := range objectTargets {
		or := &s.objRules[ot.object]
		s.targets[or.hi] = ot.t
		or.hi++
	}

	s.kindBase = make([]candidate, nm*int(NumKinds))
	for mi := range int32(nm) {
		base := s.kindBase[int(mi)*int(NumKinds):][:NumKinds]
		copy(base, everyoneKind[:])
		s.eachRole(mi, func(ri int32) {
			for k := range base {
				if c := (candidate{level: roleKind[ri][k], rank: rankRole, role: ri}); c.beats(base[k]) {
					base[k] = c
				}
			}
		})
		if mk := memberKind[mi]; mk != nil {
			for k, c := range mk {
				if c.beats(base[k]) {
					base[k] = c
				}
			}
		}
	}

	for p, ts := range projRules {
		levels := make([]ProjectLevel, nm)
		for mi := range int32(nm) {
			best, reached := None, false
			for _, t := range ts {
				if s.reaches(mi, t) {
					best, reached = max(best, t.level), true
				}
			}
			// A project with rules still admits, as a member, whoever no rule reaches.
			levels[mi] = ProjectMember
			if reached {
				levels[mi] = ProjectLevel(best)
			}
		}
		s.projLevels[p] = levels
	}
}

// Decide returns the level user has on o, following access-model.md step by step.
// It does not allocate. An object of an unknown kind is refused as if the user were not a
// member, because guessing a level for it could leak it.
func (s *Snapshot) Decide(user int64, o Object) Decision {
	return s.decide(user, o, true)
}

// KindLevel returns the level user has on a new, hypothetical object of kind k in project:
// not theirs (creation has not happened yet) and without object rules. Creation needs editor.
func (s *Snapshot) KindLevel(user, project int64, k Kind) Decision {
	return s.decide(user, Object{Kind: k, Project: project}, false)
}

func (s *Snapshot) decide(user int64, o Object, object bool) Decision {
	mi, ok := s.memberIdx[user]
	if !ok || o.Kind >= NumKinds {
		return Decision{Level: None, Source: SourceOrganization}
	}
	if s.members[mi].Level >= AdminLevel {
		return Decision{Level: Manager, Source: SourceOrganizationAdmin}
	}
	creator := object && o.Creator != 0 && o.Creator == user
	if !s.enforced {
		// The free plan ignores every rule, project rules included, so that rules left over
		// from an expired licence cannot lock members out: "every member can edit".
		if creator {
			return Decision{Level: Manager, Source: SourceCreator}
		}
		return Decision{Level: Editor, Source: SourceDefault}
	}
	pl := ProjectMember
	if levels, ok := s.projLevels[o.Project]; ok {
		pl = levels[mi]
	}
	switch {
	case pl == ProjectNone:
		return Decision{Level: None, Source: SourceProject}
	case creator:
		return Decision{Level: Manager, Source: SourceCreator}
	case pl >= ProjectAdmin:
		return Decision{Level: Manager, Source: SourceProjectAdmin}
	}
	if object {
		if oi, ok := s.objects[o.Kind][o.ID]; ok {
			or := &s.objRules[oi]
			best := noCandidate
			for _, t := range s.targets[or.lo:or.hi] {
				if s.reaches(mi, t) {
					if c := t.candidate(); c.beats(best) {
						best = c
					}
				}
			}
			switch {
			case best.rank == rankMember:
				return Decision{Level: best.level, Source: SourceExplicitMember}
			case best.rank == rankRole:
				return Decision{Level: best.level, Source: SourceExplicitRole, Role: s.roleIDs[best.role]}
			case or.hasEveryone:
				return Decision{Level: or.everyone, Source: SourceObjectDefault}
			}
		}
	}
	best := s.kindBase[int(mi)*int(NumKinds)+int(o.Kind)]
	if pk, ok := s.projKind[o.Project]; ok {
		for _, t := range pk[o.Kind] {
			if s.reaches(mi, t) {
				if c := t.candidate(); c.beats(best) {
					best = c
				}
			}
		}
	}
	switch best.rank {
	case rankEveryone:
		return Decision{Level: best.level, Source: SourceOrganizationDefault}
	case rankRole:
		return Decision{Level: best.level, Source: SourceRole, Role: s.roleIDs[best.role]}
	case rankMember:
		return Decision{Level: best.level, Source: SourceExplicitMember}
	}
	return Decision{Level: Editor, Source: SourceDefault}
}

// ProjectAccess returns user's level in project; ok is false when the user may not enter it
// (not a member, or project rules give none), exactly when Decide answers no access for
// the project's objects. Organization admins are project admins everywhere; on the free plan
// project rules are ignored like every other rule.
func (s *Snapshot) ProjectAccess(user, project int64) (lvl ProjectLevel, ok bool) {
	mi, ok := s.memberIdx[user]
	switch {
	case !ok:
		return ProjectNone, false
	case s.members[mi].Level >= AdminLevel:
		return ProjectAdmin, true
	case !s.enforced:
		return ProjectMember, true
	}
	lvl = ProjectMember
	if levels, ok := s.projLevels[project]; ok {
		lvl = levels[mi]
	}
	return lvl, lvl != ProjectNone
}

// MembershipLevel returns user's membership level, 0 when not a member.
func (s *Snapshot) MembershipLevel(user int64) int {
	if mi, ok := s.memberIdx[user]; ok {
		return s.members[mi].Level
	}
	return 0
}

// RolesOf returns the ids of user's roles in the order of Facts.Roles; nil when none.
// The slice is shared: do not mutate it.
func (s *Snapshot) RolesOf(user int64) []string {
	if mi, ok := s.memberIdx[user]; ok {
		return s.rolesOf[mi]
	}
	return nil
}

// Enforced reports whether the organization's plan has role_based_access.
func (s *Snapshot) Enforced() bool { return s.enforced }

// Members returns the organization's members, first entry per user, in the order of
// Facts.Members. The slice is shared: do not mutate it.
func (s *Snapshot) Members() []Member { return s.members }
