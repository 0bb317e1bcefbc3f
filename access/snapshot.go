package access

import (
	"maps"
	"math/bits"
	"slices"
)

// rank orders the targets of rules of one specificity: when levels tie, the more specific
// target names the source (member, then role, then everyone). noRank marks "no rule".
type rank uint8

const (
	noRank rank = iota
	rankEveryone
	rankRole
	rankMember
	numRanks
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

// target is one compiled rule: who it reaches, as dense indices, and the level it gives.
type target struct {
	idx   int32 // role index for rankRole, member index for rankMember, -1 for rankEveryone
	rank  rank
	level Level // ProjectLevel for project rules
}

// projectRules are the rules of one project that has any.
type projectRules struct {
	rules  []target           // project rules, level holding the ProjectLevel
	levels []ProjectLevel     // levels[i] is member i's level in the project; nil when no rules
	kinds  [NumKinds][]target // project-specific kind rules
}

// Snapshot is an organization's facts compiled for deciding. It is immutable and safe for
// concurrent use; compile a new one when the facts change.
type Snapshot struct {
	enforced  bool
	members   []Member
	memberTab memberTable

	// roleIDs[i] is role i's id. It is roleIDOf[1:]: roleIDOf[c.role+1] names a
	// candidate's role, "" for the candidates of no role (role -1), without a branch.
	roleIDs    []string
	roleIDOf   []string
	roleNames  []string
	roleIdx    map[string]int32
	roleLevels [][NumKinds]Level // by role index, as in Facts.Roles
	rolesOf    [][]string
	roleWords  int
	roleBits   []uint64 // member i's roles are bits of roleBits[i*roleWords : (i+1)*roleWords]

	// kindBase[i*NumKinds+k] is member i's type level for k from the organization-wide kind
	// rules and the role levels. Project-specific kind rules are rare and combined in at
	// decision time.
	kindBase []candidate
	// kindRules are the organization-wide kind rules by kind, kept for Apply.
	kindRules [NumKinds][]target

	// The projects that have rules, by ascending id; projects[i] belongs to projIDs[i].
	projIDs  []int64
	projects []*projectRules
	// projAt[id-projBase] is project id's rules (nil: none) when the ids are close
	// together, as one installation's are: one load where a search of projIDs costs a
	// branch the processor cannot predict for each id it passes. nil otherwise.
	projAt   []*projectRules
	projBase int64

	objects objectIndex

	// validUntil is the earliest expiry among the rules compiled in, Unix nanoseconds;
	// 0: no compiled rule expires.
	validUntil int64
}

// Compile turns f into a Snapshot. It copies what it keeps, so f may be reused afterwards.
func Compile(f Facts) *Snapshot {
	s := &Snapshot{
		enforced:  f.Enforced,
		memberTab: newMemberTable(len(f.Members)),
		roleIdx:   make(map[string]int32, len(f.Roles)),
	}
	s.members = make([]Member, 0, len(f.Members))
	for _, m := range f.Members {
		if s.memberTab.insert(m.User, int32(len(s.members)), m.Level >= AdminLevel) {
			s.members = append(s.members, m)
		}
	}
	s.memberTab.indexDirect()
	s.compileRoles(f.Roles)
	s.compileRules(f.Rules, f.Now)
	return s
}

// compileRoles indexes the roles, first entry per id, in index order.
func (s *Snapshot) compileRoles(all []Role) {
	var roles []*Role
	s.roleIDOf = []string{""}
	for i := range all {
		r := &all[i]
		if _, dup := s.roleIdx[r.ID]; dup {
			continue
		}
		s.roleIdx[r.ID] = int32(len(roles))
		roles = append(roles, r)
		s.roleIDOf = append(s.roleIDOf, r.ID)
		s.roleNames = append(s.roleNames, r.Name)
		s.roleLevels = append(s.roleLevels, r.Levels)
	}
	s.roleIDs = s.roleIDOf[1:]
	s.roleWords = (len(roles) + 63) / 64
	s.roleBits = make([]uint64, len(s.members)*s.roleWords)
	for ri, r := range roles {
		for _, u := range r.Members {
			if m := s.memberTab.find(u); m != noMember {
				s.roleBits[int(m.idx())*s.roleWords+ri/64] |= 1 << (ri % 64)
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
		if m := s.memberTab.find(r.User); m != noMember {
			return target{idx: m.idx(), rank: rankMember}, true
		}
		return t, false
	}
	return target{idx: -1, rank: rankEveryone}, true
}

// compileRule compiles r; ok is false for a rule that Facts says is ignored.
func (s *Snapshot) compileRule(r *Rule) (t target, ok bool) {
	t, ok = s.resolve(r)
	if !ok || r.Level > Manager || r.ProjectLevel > ProjectAdmin {
		return t, false
	}
	switch r.Scope {
	case ScopeProject:
		t.level = Level(r.ProjectLevel)
	case ScopeKind, ScopeObject:
		if r.Kind >= NumKinds {
			return t, false
		}
		t.level = r.Level
	default:
		return t, false
	}
	return t, true
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

func (s *Snapshot) compileRules(rules []Rule, now int64) {
	var (
		objectRules [NumKinds][]objectRule
		kindRules   [NumKinds][]target // organization-wide
	)
	projects := map[int64]*projectRules{}
	project := func(id int64) *projectRules {
		p := projects[id]
		if p == nil {
			p = &projectRules{}
			projects[id] = p
		}
		return p
	}
	for i := range rules {
		r := &rules[i]
		if r.ExpiredAt(now) {
			continue
		}
		t, ok := s.compileRule(r)
		if !ok {
			continue
		}
		if r.ExpiresAt != 0 && (s.validUntil == 0 || r.ExpiresAt < s.validUntil) {
			s.validUntil = r.ExpiresAt
		}
		switch r.Scope {
		case ScopeProject:
			p := project(r.Project)
			p.rules = append(p.rules, t)
		case ScopeKind:
			if r.Project != 0 {
				p := project(r.Project)
				p.kinds[r.Kind] = append(p.kinds[r.Kind], t)
				continue
			}
			kindRules[r.Kind] = append(kindRules[r.Kind], t)
		case ScopeObject:
			key, ok := objectKey(r.Object)
			if !ok {
				if s.objects.wide == nil {
					s.objects.wide = map[wideKey][]target{}
				}
				wk := wideKey{r.Kind, r.Object}
				s.objects.wide[wk] = append(s.objects.wide[wk], t)
				continue
			}
			objectRules[r.Kind] = append(objectRules[r.Kind], objectRule{key, t})
		}
	}
	for k := range NumKinds {
		s.objects.kinds[k] = buildObjectTable(objectRules[k])
	}

	s.projIDs = slices.Sorted(maps.Keys(projects))
	s.projects = make([]*projectRules, len(s.projIDs))
	for i, id := range s.projIDs {
		p := projects[id]
		if len(p.rules) > 0 {
			p.levels = s.projectLevels(p.rules)
		}
		s.projects[i] = p
	}
	s.indexProjects()

	s.kindRules = kindRules
	s.kindBase = make([]candidate, len(s.members)*int(NumKinds))
	for k := range NumKinds {
		s.fillKindBase(k, kindRules[k])
	}
}

// fillKindBase computes every member's type level for k from rules, the organization-wide
// kind rules for k, and the role levels into s.kindBase.
func (s *Snapshot) fillKindBase(k Kind, rules []target) {
	// Organization-wide kind rules for a role fold into the role's level, the rule for
	// everyone into one candidate; rules for members are applied last.
	everyone := noCandidate
	var roleLevel []Level
	for ri := range s.roleLevels {
		roleLevel = append(roleLevel, s.roleLevels[ri][k])
	}
	for _, t := range rules {
		switch t.rank {
		case rankEveryone:
			if c := t.candidate(); c.beats(everyone) {
				everyone = c
			}
		case rankRole:
			roleLevel[t.idx] = max(roleLevel[t.idx], t.level)
		}
	}
	for mi := range int32(len(s.members)) {
		best := everyone
		s.eachRole(mi, func(ri int32) {
			if c := (candidate{level: roleLevel[ri], rank: rankRole, role: ri}); c.beats(best) {
				best = c
			}
		})
		s.kindBase[int(mi)*int(NumKinds)+int(k)] = best
	}
	for _, t := range rules {
		if t.rank == rankMember {
			b := &s.kindBase[int(t.idx)*int(NumKinds)+int(k)]
			if c := t.candidate(); c.beats(*b) {
				*b = c
			}
		}
	}
}

// projectLevels returns every member's level in a project with these rules.
func (s *Snapshot) projectLevels(rules []target) []ProjectLevel {
	levels := make([]ProjectLevel, len(s.members))
	for mi := range int32(len(s.members)) {
		best, reached := None, false
		for _, t := range rules {
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
	return levels
}

// maxProjectSpan bounds the ids projAt spans, in slots per project with rules (plus a few):
// a direct table stays small even when the projects with rules are spread out.
const maxProjectSpan = 16

// indexProjects builds projAt from projIDs and projects.
func (s *Snapshot) indexProjects() {
	s.projAt, s.projBase = nil, 0
	if len(s.projIDs) == 0 {
		return
	}
	lo, hi := s.projIDs[0], s.projIDs[len(s.projIDs)-1]
	if span := uint64(hi - lo); span >= uint64(maxProjectSpan*(len(s.projIDs)+4)) {
		return
	}
	s.projBase = lo
	s.projAt = make([]*projectRules, hi-lo+1)
	for i, id := range s.projIDs {
		s.projAt[id-lo] = s.projects[i]
	}
}

// project returns the rules of project id, nil when it has none.
func (s *Snapshot) project(id int64) *projectRules {
	if pr, ok := s.directProject(id); ok {
		return pr
	}
	return s.projectSearch(id)
}

// directProject is project through projAt; ok is false without one. Small enough to be
// inlined into Decide.
func (s *Snapshot) directProject(id int64) (pr *projectRules, ok bool) {
	if i := uint64(id - s.projBase); i < uint64(len(s.projAt)) {
		return s.projAt[i], true
	}
	return nil, s.projAt != nil
}

// projectSearch is project without a direct table.
func (s *Snapshot) projectSearch(id int64) *projectRules {
	if len(s.projIDs) <= 8 {
		for i, p := range s.projIDs {
			if p == id {
				return s.projects[i]
			}
		}
		return nil
	}
	if i, ok := slices.BinarySearch(s.projIDs, id); ok {
		return s.projects[i]
	}
	return nil
}

// Decide returns the level user has on o, following docs/access-model.md step by step.
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
	// memberTab.find, its direct table read without a call.
	m, in := s.memberTab.atDirect(user)
	if !in {
		m = s.memberTab.probe(user)
	}
	if m == noMember || o.Kind >= NumKinds {
		return Decision{Level: None, Source: SourceOrganization}
	}
	if m.admin() {
		return Decision{Level: Manager, Source: SourceOrganizationAdmin}
	}
	mi := m.idx()
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
	var pr *projectRules
	if len(s.projIDs) > 0 {
		// project, its direct table read without a call.
		var direct bool
		if pr, direct = s.directProject(o.Project); !direct {
			pr = s.projectSearch(o.Project)
		}
		if pr != nil && pr.levels != nil {
			pl = pr.levels[mi]
		}
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
		// objects.find, written out for the common table (no overlay, dense): most
		// objects have no rules and the filter says so without a call, and one that
		// passes it is at its rank in the filter.
		var rs ruleSet
		t := &s.objects.kinds[o.Kind]
		if key, ok := objectKey(o.ID); ok && t.over == nil && t.dense {
			if i, ok := t.denseIndex(key); ok {
				rs = t.rulesAt(i)
			}
		} else {
			rs = s.objects.find(o.Kind, o.ID)
		}
		switch {
		case rs.len() == 0:
		case len(rs.more) == 0:
			// One rule, as most objects have: it decides for whoever it reaches.
			if s.reaches(mi, rs.first) {
				return s.objectDecision(rs.first.candidate())
			}
		default:
			best, everyone, hasEveryone := noCandidate, None, false
			for i := range rs.len() {
				switch t := rs.at(i); {
				case t.rank == rankEveryone:
					everyone, hasEveryone = max(everyone, t.level), true
				case s.reaches(mi, t):
					if c := t.candidate(); c.beats(best) {
						best = c
					}
				}
			}
			// A rule for everyone on the object counts only when no rule for the member
			// or one of their roles reaches them, whatever its level.
			if best.rank == noRank && hasEveryone {
				best = candidate{level: everyone, rank: rankEveryone, role: -1}
			}
			if best.rank != noRank {
				return s.objectDecision(best)
			}
		}
	}
	best := s.kindBase[int(mi)*int(NumKinds)+int(o.Kind)]
	if pr != nil {
		for _, t := range pr.kinds[o.Kind] {
			if s.reaches(mi, t) {
				if c := t.candidate(); c.beats(best) {
					best = c
				}
			}
		}
	}
	return s.kindDecision(best)
}

// objectDecision is the decision the winning candidate among an object's rules gives.
func (s *Snapshot) objectDecision(best candidate) Decision {
	return Decision{Level: best.level, Source: objectSource[best.rank], Role: s.roleIDOf[best.role+1]}
}

// kindDecision is the decision a kind-level candidate gives. Written as table reads rather
// than a switch on the rank, because which rank wins varies from one question to the next
// and a mispredicted branch costs Decide more than the reads.
func (s *Snapshot) kindDecision(best candidate) Decision {
	return Decision{
		Level:  max(best.level, kindFloor[best.rank]),
		Source: kindSource[best.rank],
		Role:   s.roleIDOf[best.role+1],
	}
}

// kindSource is the source of a kind-level decision by the rank of its candidate; kindFloor
// its least level: no rule at all leaves every member's default, editor.
var (
	kindSource = [numRanks]Source{noRank: SourceDefault, rankEveryone: SourceOrganizationDefault, rankRole: SourceRole, rankMember: SourceExplicitMember}
	kindFloor  = [numRanks]Level{noRank: Editor}
	// objectSource is the source of a decision by an object's rules, by the rank of the
	// candidate that won.
	objectSource = [numRanks]Source{rankEveryone: SourceObjectDefault, rankRole: SourceExplicitRole, rankMember: SourceExplicitMember}
)

// ProjectAccess returns user's level in project; ok is false when the user may not enter it
// (not a member, or project rules give none), exactly when Decide answers no access for
// the project's objects. Organization admins are project admins everywhere; on the free plan
// project rules are ignored like every other rule.
func (s *Snapshot) ProjectAccess(user, project int64) (lvl ProjectLevel, ok bool) {
	m := s.memberTab.find(user)
	switch {
	case m == noMember:
		return ProjectNone, false
	case m.admin():
		return ProjectAdmin, true
	case !s.enforced:
		return ProjectMember, true
	}
	lvl = ProjectMember
	if p := s.project(project); p != nil && p.levels != nil {
		lvl = p.levels[m.idx()]
	}
	return lvl, lvl != ProjectNone
}

// MembershipLevel returns user's membership level, 0 when not a member.
func (s *Snapshot) MembershipLevel(user int64) int {
	if m := s.memberTab.find(user); m != noMember {
		return s.members[m.idx()].Level
	}
	return 0
}

// RolesOf returns the ids of user's roles in the order of Facts.Roles; nil when none.
// The slice is shared: do not mutate it.
func (s *Snapshot) RolesOf(user int64) []string {
	if m := s.memberTab.find(user); m != noMember {
		return s.rolesOf[m.idx()]
	}
	return nil
}

// ValidUntil returns the instant (Unix nanoseconds) at which the earliest of the rules
// compiled in expires, 0 when none expires. The snapshot decides as its facts did at
// Facts.Now until then; from that instant on it must not decide at all, because it still
// counts a rule that grants nothing: compile the facts again for the new instant. Checking
// this once per request, rather than a rule's expiry in every decision, keeps Decide free
// of the clock.
func (s *Snapshot) ValidUntil() int64 { return s.validUntil }

// ValidAt reports whether the snapshot may decide at now (Unix nanoseconds).
func (s *Snapshot) ValidAt(now int64) bool { return s.validUntil == 0 || now < s.validUntil }

// Enforced reports whether the organization's plan has role_based_access.
func (s *Snapshot) Enforced() bool { return s.enforced }

// Members returns the organization's members, first entry per user, in the order of
// Facts.Members. The slice is shared: do not mutate it.
func (s *Snapshot) Members() []Member { return s.members }
