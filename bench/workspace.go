// Package bench measures Gatehouse's access decisions side by side with Casbin
// (github.com/casbin/casbin/v2) modelling the same rules on the same generated data. It is a
// module of its own so that Casbin never enters Gatehouse's go.mod.
//
// The rules are those both can express, PostHog's 2023 role-based access: RBAC with
// domains (the organization), a per-kind organization default, per-kind role levels,
// per-object role grants and the creator passed in the request. See docs/benchmarks.md.
package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/gatehouse/gatehouse/access"
)

// Workspace is one organization's generated data, in the terms of neither engine.
type Workspace struct {
	Members  []access.Member
	Roles    []access.Role
	Defaults map[access.Kind]access.Level // the organization default row per kind, where one exists
	Grants   []Grant                      // per-object role grants (v1 role access: editor)
	Objects  []access.Object              // every object, all feature flags of project 1
}

// Grant lets a role edit one object.
type Grant struct {
	Role   string
	Object int64
}

// NewWorkspace generates an organization of members (every 50th an admin) in roles (each
// member in 0–3 roles, each role viewer or editor per kind), with organization defaults on
// three kinds, objects feature flags (half made by people who have left) and grants
// object grants. The same seed gives the same workspace.
func NewWorkspace(seed uint64, members, roles, objects, grants int) *Workspace {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := &Workspace{Defaults: map[access.Kind]access.Level{}}
	for i := range members {
		level := access.MemberLevel
		if i%50 == 0 {
			level = access.AdminLevel
		}
		w.Members = append(w.Members, access.Member{User: int64(i + 1), Level: level})
	}
	for i := range roles {
		r := access.Role{ID: "role-" + strconv.Itoa(i), Name: "Role " + strconv.Itoa(i)}
		for k := range r.Levels {
			r.Levels[k] = access.Viewer + access.Level(rng.IntN(2))
		}
		w.Roles = append(w.Roles, r)
	}
	for u := 1; u <= members; u++ {
		for range rng.IntN(4) {
			r := &w.Roles[rng.IntN(roles)]
			r.Members = append(r.Members, int64(u))
		}
	}
	w.Defaults[access.FeatureFlags] = access.Viewer
	w.Defaults[access.Insights] = access.Viewer
	w.Defaults[access.Experiments] = access.Editor
	for i := range objects {
		w.Objects = append(w.Objects, access.Object{
			ID: int64(i + 1), Kind: access.FeatureFlags, Project: 1,
			Creator: int64(rng.IntN(2*members) + 1),
		})
	}
	for range grants {
		w.Grants = append(w.Grants, Grant{Role: w.Roles[rng.IntN(roles)].ID, Object: int64(rng.IntN(objects) + 1)})
	}
	return w
}

// Facts returns the workspace as Gatehouse's decision input, on the enterprise plan.
func (w *Workspace) Facts() access.Facts {
	f := access.Facts{Enforced: true, Members: w.Members, Roles: w.Roles}
	for _, k := range access.Kinds {
		if l, ok := w.Defaults[k]; ok {
			f.Rules = append(f.Rules, access.Rule{Scope: access.ScopeKind, Kind: k, Level: l})
		}
	}
	for _, g := range w.Grants {
		f.Rules = append(f.Rules, access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: g.Object, Role: g.Role, Level: access.Editor})
	}
	return f
}

// Casbin's names for the workspace's things.
const casbinDomain = "org"

func casbinUser(id int64) string          { return "u" + strconv.FormatInt(id, 10) }
func casbinKind(k access.Kind) string     { return "kind:" + k.String() }
func casbinObject(o access.Object) string { return o.Kind.String() + "/" + strconv.FormatInt(o.ID, 10) }

// CasbinModel is the workspace's rules as a Casbin model: RBAC with domains. Every member
// is in the group "member" of the domain, admins also in "admin", members without roles
// also in "roleless". A policy (subject, domain, object, action) lets a group or role view
// or edit an object, or every object of a kind ("kind:feature_flags"); edit implies view.
// The request carries the object's kind and creator, as Gatehouse's Object does.
const CasbinModel = `
[request_definition]
r = sub, dom, obj, kind, act, creator

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, "member", r.dom) && (g(r.sub, "admin", r.dom) || r.sub == r.creator || g(r.sub, p.sub, r.dom) && r.dom == p.dom && (p.obj == r.obj || p.obj == r.kind) && (p.act == r.act || p.act == "edit"))
`

// CasbinPolicies returns the workspace as Casbin policies and groupings.
//
// PostHog's type level is max(organization default, levels of the user's roles), editor
// when there is neither: a policy per role and kind, one for "member" per kind with a
// default, and, for kinds without a default, edit for "roleless". Viewing is never refused
// by these rules, so "member" may view every kind. A grant is a policy for the role on
// the object.
func (w *Workspace) CasbinPolicies() (policies, groupings [][]string) {
	inRole := map[int64]bool{}
	for _, r := range w.Roles {
		for _, u := range r.Members {
			inRole[u] = true
		}
		for _, k := range access.Kinds {
			policies = append(policies, []string{r.ID, casbinDomain, casbinKind(k), action(r.Levels[k])})
		}
	}
	for _, k := range access.Kinds {
		policies = append(policies, []string{"member", casbinDomain, casbinKind(k), "view"})
		if l, ok := w.Defaults[k]; ok {
			policies = append(policies, []string{"member", casbinDomain, casbinKind(k), action(l)})
		} else {
			policies = append(policies, []string{"roleless", casbinDomain, casbinKind(k), "edit"})
		}
	}
	for _, g := range w.Grants {
		policies = append(policies, []string{g.Role, casbinDomain, casbinObject(access.Object{ID: g.Object, Kind: access.FeatureFlags}), "edit"})
	}
	for _, m := range w.Members {
		u := casbinUser(m.User)
		groupings = append(groupings, []string{u, "member", casbinDomain})
		if m.Level >= access.AdminLevel {
			groupings = append(groupings, []string{u, "admin", casbinDomain})
		}
		if !inRole[m.User] {
			groupings = append(groupings, []string{u, "roleless", casbinDomain})
		}
	}
	for _, r := range w.Roles {
		for _, u := range r.Members {
			groupings = append(groupings, []string{casbinUser(u), r.ID, casbinDomain})
		}
	}
	return dedupe(policies), groupings
}

func action(l access.Level) string {
	if l >= access.Editor {
		return "edit"
	}
	return "view"
}

// dedupe drops repeated rows: Casbin refuses to add a policy twice.
func dedupe(rows [][]string) [][]string {
	seen := map[string]bool{}
	out := rows[:0]
	for _, r := range rows {
		key := fmt.Sprint(r)
		if !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	return out
}

// CasbinRequest returns Casbin's request for "may user act (view or edit) on o".
func CasbinRequest(user int64, o access.Object, act string) []any {
	creator := ""
	if o.Creator != 0 {
		creator = casbinUser(o.Creator)
	}
	return []any{casbinUser(user), casbinDomain, casbinObject(o), casbinKind(o.Kind), act, creator}
}
