package server_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// The model below is a second, deliberately naive reading of
// docs/access-model.md, written without looking at the access package, so the
// property test compares two independent implementations.

var modelLevels = []string{"none", "viewer", "editor", "manager"}

func rank(l string) int {
	for i, n := range modelLevels {
		if n == l {
			return i
		}
	}
	panic("unknown level " + l)
}

type modelTarget struct {
	everyone bool
	role     int // index, -1 if not a role
	user     int // index, -1 if not a member
}

func (t modelTarget) reaches(user int, roles map[int]bool) bool {
	return t.everyone || (t.role >= 0 && roles[t.role]) || (t.user >= 0 && t.user == user)
}

type modelRule struct {
	target modelTarget
	level  string // none..manager, or for projects none/member/admin
	kind   int
	object int
}

type modelOrg struct {
	admin      map[int]bool
	rolesOf    map[int]map[int]bool
	roleLevel  map[int]map[int]string // role → kind → viewer/editor
	orgDefault map[int]string         // kind → viewer/editor
	kindRules  []modelRule
	objRules   []modelRule
	projRules  []modelRule
	creator    map[int]int // object → user
	kindOf     map[int]int
}

// level is docs/access-model.md's decision, for a check answer: "none" also
// stands for "no access".
func (m *modelOrg) level(u, obj int) string {
	if m.admin[u] {
		return "manager"
	}
	roles := m.rolesOf[u]
	proj, reached := "none", false
	for _, r := range m.projRules {
		if r.target.reaches(u, roles) {
			reached = true
			if projRank(r.level) > projRank(proj) {
				proj = r.level
			}
		}
	}
	if !reached {
		proj = "member"
	}
	if proj == "none" {
		return "none"
	}
	if m.creator[obj] == u {
		return "manager"
	}
	if proj == "admin" {
		return "manager"
	}
	best, found := "none", false
	for _, r := range m.objRules {
		if r.object == obj && !r.target.everyone && r.target.reaches(u, roles) {
			found = true
			if rank(r.level) > rank(best) {
				best = r.level
			}
		}
	}
	if found {
		return best
	}
	for _, r := range m.objRules {
		if r.object == obj && r.target.everyone {
			return r.level
		}
	}
	k := m.kindOf[obj]
	var set []string
	if d, ok := m.orgDefault[k]; ok {
		set = append(set, d)
	}
	for role := range roles {
		set = append(set, m.roleLevel[role][k])
	}
	for _, r := range m.kindRules {
		if r.kind == k && r.target.reaches(u, roles) {
			set = append(set, r.level)
		}
	}
	if len(set) == 0 {
		return "editor"
	}
	best = "none"
	for _, l := range set {
		if rank(l) > rank(best) {
			best = l
		}
	}
	return best
}

func projRank(l string) int {
	return map[string]int{"none": 0, "member": 1, "admin": 2}[l]
}

// TestDecisionsMatchModel builds random organizations through the API and
// compares thousands of the server's answers with the model.
func TestDecisionsMatchModel(t *testing.T) {
	const orgs, plain, nRoles, nObjects = 40, 6, 3, 16
	kindIdx := []int{0, 5} // feature flags and dashboards
	total := 0
	for seed := range orgs {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			e := newEnv(t, "sqlite", license.Enterprise)
			users := []*client{e.owner}
			m := &modelOrg{admin: map[int]bool{0: true}, rolesOf: map[int]map[int]bool{}, roleLevel: map[int]map[int]string{},
				orgDefault: map[int]string{}, creator: map[int]int{}, kindOf: map[int]int{}}
			for i := range plain + 1 {
				level := 1
				if i == plain {
					level = 8
				}
				users = append(users, e.member(level))
				m.admin[len(users)-1] = level >= 8
			}
			memberships := make([]string, len(users))
			for i, u := range users {
				memberships[i] = e.membershipID(u)
				m.rolesOf[i] = map[int]bool{}
			}
			// Objects first, while everyone may still create.
			var objPaths, objIDs []string
			for o := range nObjects {
				k := kindIdx[rng.IntN(len(kindIdx))]
				u := rng.IntN(len(users))
				path := users[u].create(k)
				objPaths = append(objPaths, path)
				objIDs = append(objIDs, path[len(e.projPath("/"+kinds[k].path+"/")):])
				m.creator[o], m.kindOf[o] = u, k
			}
			var roleIDs []string
			for r := range nRoles {
				id := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": fmt.Sprintf("role %d", r)}, 201).str("id")
				roleIDs = append(roleIDs, id)
				m.roleLevel[r] = map[int]string{}
				levels := map[string]any{}
				for _, k := range kindIdx {
					v1, name := 37, "editor"
					if rng.IntN(2) == 0 {
						v1, name = 21, "viewer"
					}
					levels[kinds[k].v1] = v1
					m.roleLevel[r][k] = name
				}
				e.owner.must("PATCH", e.orgPath("/roles/"+id), map[string]any{"resource_access_levels": levels}, 200)
				for u := 1; u < len(users); u++ {
					if rng.IntN(3) == 0 {
						e.owner.must("POST", e.orgPath("/roles/"+id+"/role_memberships"), map[string]any{"user_uuid": users[u].uuid}, 201)
						m.rolesOf[u][r] = true
					}
				}
			}
			randomTarget := func() (modelTarget, map[string]any) {
				switch rng.IntN(3) {
				case 0:
					return modelTarget{everyone: true, role: -1, user: -1}, map[string]any{}
				case 1:
					r := rng.IntN(nRoles)
					return modelTarget{role: r, user: -1}, map[string]any{"role": roleIDs[r]}
				default:
					u := 1 + rng.IntN(len(users)-1)
					return modelTarget{role: -1, user: u}, map[string]any{"organization_member": memberships[u]}
				}
			}
			// put records a rule, replacing one with the same target (PUT upserts).
			put := func(list []modelRule, r modelRule, same func(a, b modelRule) bool) []modelRule {
				for i := range list {
					if same(list[i], r) {
						list[i] = r
						return list
					}
				}
				return append(list, r)
			}
			for _, k := range kindIdx {
				switch rng.IntN(3) {
				case 1:
					e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": kinds[k].v1, "access_level": 21}, 201)
					m.orgDefault[k] = "viewer"
				case 2:
					e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": kinds[k].v1, "access_level": 37}, 201)
					m.orgDefault[k] = "editor"
				}
			}
			singular := map[int]string{0: "feature_flag", 5: "dashboard"}
			for range rng.IntN(4) {
				k := kindIdx[rng.IntN(len(kindIdx))]
				tgt, body := randomTarget()
				lvl := modelLevels[rng.IntN(4)]
				body["resource"], body["access_level"] = singular[k], lvl
				e.owner.must("PUT", e.projPath("/resource_access_controls"), body, 200)
				m.kindRules = put(m.kindRules, modelRule{target: tgt, level: lvl, kind: k}, func(a, b modelRule) bool { return a.kind == b.kind && a.target == b.target })
			}
			for range rng.IntN(16) {
				o := rng.IntN(nObjects)
				tgt, body := randomTarget()
				lvl := modelLevels[rng.IntN(4)]
				body["access_level"] = lvl
				e.owner.must("PUT", objPaths[o]+"/access_controls", body, 200)
				m.objRules = put(m.objRules, modelRule{target: tgt, level: lvl, object: o}, func(a, b modelRule) bool { return a.object == b.object && a.target == b.target })
			}
			if rng.IntN(3) == 0 {
				for range 1 + rng.IntN(3) {
					tgt, body := randomTarget()
					lvl := []string{"none", "member", "admin"}[rng.IntN(3)]
					body["access_level"] = lvl
					e.owner.must("PUT", e.projPath("/access_controls"), body, 200)
					m.projRules = put(m.projRules, modelRule{target: tgt, level: lvl}, func(a, b modelRule) bool { return a.target == b.target })
				}
			}
			var checks []any
			type pair struct{ u, o int }
			var pairs []pair
			for u := range users {
				for o := range nObjects {
					checks = append(checks, map[string]any{"user_uuid": users[u].uuid, "kind": kinds[m.kindOf[o]].path, "id": objIDs[o], "action": "view"})
					pairs = append(pairs, pair{u, o})
				}
			}
			res := e.owner.must("POST", e.projPath("/access/check"), map[string]any{"checks": checks}, 200)
			for i, p := range pairs {
				got := res.str(fmt.Sprintf("results.%d.access_level", i))
				if want := m.level(p.u, p.o); got != want {
					t.Errorf("user %d (admin %v, roles %v, creator of %d? %v) on object %d (kind %s): server %q, model %q\nrules: org %v kind %+v obj %+v proj %+v",
						p.u, m.admin[p.u], m.rolesOf[p.u], p.o, m.creator[p.o] == p.u, p.o, kinds[m.kindOf[p.o]].path, got, want,
						m.orgDefault, m.kindRules, m.objRules, m.projRules)
				}
			}
			total += len(pairs)
		})
	}
	t.Logf("compared %d decisions with the model", total)
}
