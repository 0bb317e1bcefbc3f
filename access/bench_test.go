package access

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

type benchPair struct {
	user   int64
	object Object
}

type benchOrg struct {
	facts Facts
	pairs []benchPair // 1<<16 of them, so that a benchmark can index with i&(len-1)
}

// benchFacts builds a large organization shaped like a busy one: mostly plain members in a
// few roles each, organization defaults on some kinds, a few closed projects and
// project-specific kind rules, and object rules for everyone, roles and members.
func benchFacts(members, roles, objects, objectRules int) benchOrg {
	rng := rand.New(rand.NewPCG(1, 2))
	const projects = 20
	var f Facts
	f.Enforced = true
	for i := range members {
		level := MemberLevel
		if i%50 == 0 {
			level = AdminLevel
		}
		f.Members = append(f.Members, Member{User: int64(i + 1), Level: level})
	}
	randomUser := func() int64 { return int64(rng.IntN(members) + 1) }
	for i := range roles {
		r := Role{ID: "role-" + strconv.Itoa(i), Name: "Role " + strconv.Itoa(i)}
		for k := range r.Levels {
			r.Levels[k] = Viewer + Level(rng.IntN(2))
		}
		f.Roles = append(f.Roles, r)
	}
	for u := 1; u <= members; u++ {
		for range rng.IntN(4) {
			r := &f.Roles[rng.IntN(roles)]
			r.Members = append(r.Members, int64(u))
		}
	}
	randomRole := func() string { return f.Roles[rng.IntN(roles)].ID }
	for _, k := range []Kind{FeatureFlags, Insights, Dashboards} {
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: k, Level: Viewer})
	}
	for range members / 20 {
		f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: Kind(rng.IntN(int(NumKinds))), User: randomUser(), Level: Editor})
	}
	for p := int64(1); p <= 3; p++ {
		f.Rules = append(f.Rules,
			Rule{Scope: ScopeProject, Project: p, ProjectLevel: ProjectNone},
			Rule{Scope: ScopeProject, Project: p, Role: randomRole(), ProjectLevel: ProjectMember},
			Rule{Scope: ScopeProject, Project: p, User: randomUser(), ProjectLevel: ProjectAdmin},
			Rule{Scope: ScopeKind, Project: p + 3, Kind: Kind(p), Level: None},
			Rule{Scope: ScopeKind, Project: p + 3, Kind: Kind(p), Role: randomRole(), Level: Editor},
		)
	}
	object := func(id int64) Object {
		return Object{
			ID:      id,
			Kind:    Kind(id % int64(NumKinds)),
			Project: 1 + id%projects,
			Creator: int64(rng.IntN(members*2) + 1), // half the objects were made by people who left
		}
	}
	for range objectRules {
		o := object(int64(rng.IntN(objects) + 1))
		r := Rule{Scope: ScopeObject, Kind: o.Kind, Object: o.ID, Level: Level(rng.IntN(4))}
		switch n := rng.IntN(10); {
		case n < 2:
		case n < 8:
			r.Role = randomRole()
		default:
			r.User = randomUser()
		}
		f.Rules = append(f.Rules, r)
	}
	org := benchOrg{facts: f, pairs: make([]benchPair, 1<<16)}
	for i := range org.pairs {
		user := int64(rng.IntN(members+members/50) + 1) // 2% strangers
		org.pairs[i] = benchPair{user: user, object: object(int64(rng.IntN(objects) + 1))}
	}
	return org
}

var benchSink Decision

func BenchmarkDecide(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := Compile(org.facts)
	mask := len(org.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &org.pairs[i&mask]
		benchSink = s.Decide(p.user, p.object)
	}
}

func BenchmarkKindLevel(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	s := Compile(org.facts)
	mask := len(org.pairs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &org.pairs[i&mask]
		benchSink = s.KindLevel(p.user, p.object.Project, p.object.Kind)
	}
}

func BenchmarkCompile(b *testing.B) {
	org := benchFacts(1000, 50, 100_000, 20_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Compile(org.facts)
	}
}
