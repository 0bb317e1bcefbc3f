package access

import (
	"maps"
	"slices"
)

// WithRule returns a snapshot that decides exactly as Compile would on the facts of s with r
// added. s is not changed and stays valid: the new snapshot shares everything r does not
// touch and copies only what it does, so that a rule change costs microseconds, not a
// recompilation (an object rule copies one page of the object table; an organization-wide
// kind rule recomputes one kind's column of the members' type levels; a project rule
// recomputes that project's levels). A rule that Facts says is ignored (unknown role,
// non-member, unknown kind, scope or level, both a role and a user) returns s itself.
func (s *Snapshot) WithRule(r Rule) *Snapshot { return s.change(r, true) }

// WithoutRule returns a snapshot that decides exactly as Compile would on the facts of s with
// one rule like r removed: same scope, kind, object (object rules), project (project and
// kind rules), target and level; fields a rule of r's scope ignores are not compared, as
// Compile ignores them. When s has no such rule it returns s itself. Like WithRule, it
// leaves s unchanged and valid.
func (s *Snapshot) WithoutRule(r Rule) *Snapshot { return s.change(r, false) }

func (s *Snapshot) change(r Rule, add bool) *Snapshot {
	t, ok := s.compileRule(&r)
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
		table, changed := s.objects.kinds[r.Kind].with(objectRule{key, t}, add)
		if !changed {
			return s
		}
		ns.objects.kinds[r.Kind] = table
	case ScopeKind:
		if r.Project == 0 {
			ts, changed := edit(s.kindRules[r.Kind], t, add)
			if !changed {
				return s
			}
			ns.kindRules[r.Kind] = ts
			ns.kindBase = slices.Clone(s.kindBase)
			ns.fillKindBase(ns.kindBase, r.Kind)
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
	return &ns
}

// edit returns a new slice: ts with t added, or with one t removed (changed is false when
// there is none).
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
}
