package access

import (
	"strconv"
	"testing"
)

// referenceDecide is level(U, O) of docs/access-model.md written as plainly as possible over raw
// Facts, with none of Compile's indexing, to check Decide against.
func referenceDecide(f Facts, u int64, o Object, object bool) Decision {
	membership, member := 0, false
	for _, m := range f.Members {
		if m.User == u {
			membership, member = m.Level, true
			break
		}
	}
	if !member || o.Kind >= NumKinds {
		return Decision{None, SourceOrganization, ""}
	}
	if membership >= AdminLevel {
		return Decision{Manager, SourceOrganizationAdmin, ""}
	}
	creator := object && o.Creator != 0 && o.Creator == u
	if !f.Enforced {
		if creator {
			return Decision{Manager, SourceCreator, ""}
		}
		return Decision{Editor, SourceDefault, ""}
	}

	// Roles: first entry per id counts; order is Facts.Roles order.
	var roleIDs []string
	var roleLevels [][NumKinds]Level
	var mine []bool
	seen := map[string]bool{}
	for _, r := range f.Roles {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		in := false
		for _, m := range r.Members {
			in = in || m == u
		}
		roleIDs = append(roleIDs, r.ID)
		roleLevels = append(roleLevels, r.Levels)
		mine = append(mine, in)
	}
	roleOrder := func(id string) int {
		for i, r := range roleIDs {
			if r == id {
				return i
			}
		}
		return -1
	}
	isMember := func(user int64) bool {
		for _, m := range f.Members {
			if m.User == user {
				return true
			}
		}
		return false
	}
	// who: 0 = reaches nobody (malformed, unknown role, non-member), 1 everyone, 2 role of U,
	// 3 U, 4 someone else.
	who := func(r Rule) int {
		switch {
		case r.Role != "" && r.User != 0:
			return 0
		case r.Role != "":
			i := roleOrder(r.Role)
			if i < 0 {
				return 0
			}
			if mine[i] {
				return 2
			}
			return 4
		case r.User != 0:
			if !isMember(r.User) {
				return 0
			}
			if r.User == u {
				return 3
			}
			return 4
		}
		return 1
	}

	project, reached := ProjectNone, false
	for _, r := range f.Rules {
		if r.Scope == ScopeProject && r.Project == o.Project {
			if w := who(r); w >= 1 && w <= 3 {
				project, reached = max(project, r.ProjectLevel), true
			}
		}
	}
	if !reached {
		project = ProjectMember
	}
	switch {
	case project == ProjectNone:
		return Decision{None, SourceProject, ""}
	case creator:
		return Decision{Manager, SourceCreator, ""}
	case project == ProjectAdmin:
		return Decision{Manager, SourceProjectAdmin, ""}
	}

	type found struct {
		ok    bool
		level Level
		who   int // 1 everyone, 2 role, 3 member
		role  int
	}
	better := func(a, b found) bool {
		switch {
		case !b.ok:
			return true
		case a.level != b.level:
			return a.level > b.level
		case a.who != b.who:
			return a.who > b.who
		}
		return a.role < b.role
	}
	decision := func(b found, sources [4]Source) Decision {
		d := Decision{Level: b.level, Source: sources[b.who]}
		if b.who == 2 {
			d.Role = roleIDs[b.role]
		}
		return d
	}

	if object {
		var specific, everyone found
		for _, r := range f.Rules {
			if r.Scope != ScopeObject || r.Kind != o.Kind || r.Object != o.ID {
				continue
			}
			c := found{ok: true, level: r.Level, who: who(r), role: -1}
			switch c.who {
			case 1:
				everyone.ok, everyone.level = true, max(everyone.level, r.Level)
			case 2, 3:
				if c.who == 2 {
					c.role = roleOrder(r.Role)
				}
				if better(c, specific) {
					specific = c
				}
			}
		}
		if specific.ok {
			return decision(specific, [4]Source{2: SourceExplicitRole, 3: SourceExplicitMember})
		}
		if everyone.ok {
			return Decision{everyone.level, SourceObjectDefault, ""}
		}
	}

	var best found
	for i, l := range roleLevels {
		if c := (found{true, l[o.Kind], 2, i}); mine[i] && better(c, best) {
			best = c
		}
	}
	for _, r := range f.Rules {
		if r.Scope != ScopeKind || r.Kind != o.Kind || (r.Project != 0 && r.Project != o.Project) {
			continue
		}
		if w := who(r); w >= 1 && w <= 3 {
			c := found{true, r.Level, w, -1}
			if w == 2 {
				c.role = roleOrder(r.Role)
			}
			if better(c, best) {
				best = c
			}
		}
	}
	if best.ok {
		return decision(best, [4]Source{1: SourceOrganizationDefault, 2: SourceRole, 3: SourceExplicitMember})
	}
	return Decision{Editor, SourceDefault, ""}
}

// fuzzBytes hands out small numbers from the fuzzer's bytes, then zeros.
type fuzzBytes []byte

// rule reads one rule of the fuzzed universe: any scope, kind, object,
// level and target, including malformed ones (an unknown role, both a role
// and a user) that Compile must ignore.
func (b *fuzzBytes) rule() Rule {
	r := Rule{
		Scope:        Scope(b.intn(3)),
		Kind:         Kind(b.intn(fuzzKinds)),
		Object:       int64(b.intn(fuzzObjects) + 1),
		Level:        Level(b.intn(4)),
		ProjectLevel: ProjectLevel(b.intn(3)),
	}
	r.Project = int64(b.intn(fuzzProjects + 1))
	if r.Scope == ScopeProject && r.Project == 0 {
		r.Project = 1
	}
	switch b.intn(5) {
	case 1, 2:
		r.Role = string(rune('a' + b.intn(5)))
		if r.Role == "e" {
			r.Role = "z"
		}
	case 3:
		r.User = int64(b.intn(fuzzUsers) + 1)
	case 4:
		r.Role, r.User = "a", int64(b.intn(fuzzUsers)+1) // malformed: both
	}
	return r
}

func (b *fuzzBytes) intn(n int) int {
	if len(*b) == 0 {
		return 0
	}
	v := int((*b)[0]) % n
	*b = (*b)[1:]
	return v
}

// The fuzzed organizations are tiny so that rules collide: users 1–7 (7 never a member),
// roles a–d plus an unknown z, kinds 0–2, projects 1–2, objects 1–3.
const (
	fuzzUsers    = 7
	fuzzKinds    = 3
	fuzzProjects = 2
	fuzzObjects  = 3
)

func fuzzFacts(data []byte) Facts {
	b := fuzzBytes(data)
	f := Facts{Enforced: b.intn(4) != 0}
	for u := int64(1); u < fuzzUsers; u++ {
		if level := []int{0, MemberLevel, MemberLevel, MemberLevel, AdminLevel, OwnerLevel}[b.intn(6)]; level != 0 {
			f.Members = append(f.Members, Member{User: u, Level: level})
		}
	}
	for i := range b.intn(5) {
		r := Role{ID: string(rune('a' + i)), Name: "role " + strconv.Itoa(i)}
		for k := range r.Levels {
			r.Levels[k] = Level(b.intn(4))
		}
		for u := int64(1); u <= fuzzUsers; u++ {
			if b.intn(2) == 1 {
				r.Members = append(r.Members, u)
			}
		}
		f.Roles = append(f.Roles, r)
	}
	for range b.intn(24) {
		f.Rules = append(f.Rules, b.rule())
	}
	return f
}

func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{1, 1, 1, 1, 4, 5, 0, 2, 1, 1, 2, 3, 1, 1, 1, 1, 1, 1, 1, 5, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte("seed: a closed project with a role let in and an object made private"))
	f.Add([]byte{3, 1, 2, 3, 1, 1, 1, 3, 2, 1, 0, 3, 2, 1, 1, 0, 1, 0, 1, 20, 2, 0, 0, 1, 2, 0, 1, 3, 0, 1, 0, 1, 0, 2, 1})
	f.Add([]byte{255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244, 243, 242, 241, 240, 239, 238, 237, 236})
	f.Fuzz(func(t *testing.T, data []byte) {
		facts := fuzzFacts(data)
		s := Compile(facts)
		for u := int64(0); u <= fuzzUsers; u++ {
			membership := s.MembershipLevel(u)
			for p := int64(0); p <= fuzzProjects; p++ {
				lvl, entered := s.ProjectAccess(u, p)
				for k := range Kind(fuzzKinds) {
					kd := s.KindLevel(u, p, k)
					if want := referenceDecide(facts, u, Object{Kind: k, Project: p}, false); kd != want {
						t.Fatalf("KindLevel(%d, %d, %v) = %+v, want %+v", u, p, k, kd, want)
					}
					for id := int64(1); id <= fuzzObjects+1; id++ {
						for _, creator := range []int64{0, u, u%fuzzUsers + 1} {
							o := Object{ID: id, Kind: k, Project: p, Creator: creator}
							d := s.Decide(u, o)
							if want := referenceDecide(facts, u, o, true); d != want {
								t.Fatalf("Decide(%d, %+v) = %+v, want %+v", u, o, d, want)
							}
							checkInvariants(t, s, u, o, d, membership, lvl, entered)
							if s.Explain(d, o) == "" {
								t.Fatalf("Explain(%+v, %+v) is empty", d, o)
							}
						}
					}
				}
			}
		}
	})
}

// checkInvariants states the promises of docs/access-model.md that must hold whatever the rules.
func checkInvariants(t *testing.T, s *Snapshot, u int64, o Object, d Decision, membership int, lvl ProjectLevel, entered bool) {
	t.Helper()
	switch {
	case membership == 0:
		if d != (Decision{None, SourceOrganization, ""}) || entered {
			t.Fatalf("non-member %d: Decide(%+v) = %+v, ProjectAccess ok = %v, want no access", u, o, d, entered)
		}
		return
	case membership >= AdminLevel:
		if d.Level != Manager || lvl != ProjectAdmin || !entered {
			t.Fatalf("admin %d: Decide(%+v) = %+v, ProjectAccess = %v, %v, want manager", u, o, d, lvl, entered)
		}
		return
	}
	if !s.Enforced() && d.Level < Editor {
		t.Fatalf("free plan: Decide(%d, %+v) = %+v, want at least editor", u, o, d)
	}
	if d.NoAccess() == entered {
		t.Fatalf("Decide(%d, %+v) = %+v, but ProjectAccess ok = %v", u, o, d, entered)
	}
	if o.Creator == u && u != 0 && entered && d != (Decision{Manager, SourceCreator, ""}) {
		t.Fatalf("creator: Decide(%d, %+v) = %+v, want manager", u, o, d)
	}
	if entered && lvl == ProjectAdmin && d.Level != Manager {
		t.Fatalf("project admin: Decide(%d, %+v) = %+v, want manager", u, o, d)
	}
	if (d.Source == SourceRole || d.Source == SourceExplicitRole) != (d.Role != "") {
		t.Fatalf("Decide(%d, %+v) = %+v: Role set iff the source is a role", u, o, d)
	}
}
