package server

// Previews: what a proposed rule change would do to whom, written nowhere.

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// previewUser names a member in a preview.
type previewUser struct {
	UUID      string `json:"uuid"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
}

// previewChangeBody is one member's level on one thing before and after the
// proposed change.
type previewChangeBody struct {
	User previewUser `json:"user"`
	// Resource is the kind (v2 singular name); ResourceID the object, null
	// for the kind's level: what every object of the kind in the project has
	// when no rule names it (and the member did not create it).
	Resource     string  `json:"resource" api:"enumof=resources"`
	ResourceID   *string `json:"resource_id"`
	ProjectID    int64   `json:"project_id"`
	Before       string  `json:"before" api:"enum=none|viewer|editor|manager"`
	After        string  `json:"after" api:"enum=none|viewer|editor|manager"`
	SourceBefore string  `json:"source_before"`
	SourceAfter  string  `json:"source_after"`
}

// previewBody answers every preview: the changes, and how many of them raise
// and lower a level.
type previewBody struct {
	Changes []previewChangeBody `json:"changes"`
	Gaining int                 `json:"gaining"`
	Losing  int                 `json:"losing"`
}

// previewRoleInput is a role's PATCH body with the members to add and remove.
type previewRoleInput struct {
	roleInput
	AddMembers    []string `json:"add_members"`    // user uuids
	RemoveMembers []string `json:"remove_members"` // user uuids
}

// preview answers what change would do to the organization's members on the
// subjects that scope names, comparing the rules as they are (read now, for
// now) with the same rules changed. Nothing is written.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, c *call, idx *memberIndex, change func(f *access.Facts), scope previewScope) error {
	facts, _, err := s.store.AccessFacts(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	facts.Enforced, facts.Now = s.enforced(), s.now().UnixNano()
	proposed := facts
	proposed.Rules = slices.Clone(facts.Rules)
	proposed.Roles = slices.Clone(facts.Roles)
	change(&proposed)
	before, after := access.Compile(facts), access.Compile(proposed)

	subjects, keys, err := s.previewSubjects(r, c, scope, facts.Rules, proposed.Rules)
	if err != nil {
		return err
	}
	changes := access.Preview(before, after, c.user.ID, subjects)
	out := previewBody{Changes: make([]previewChangeBody, 0, len(changes))}
	for _, ch := range changes {
		m, ok := idx.byUser[ch.User]
		if !ok {
			continue // joined or left since the member list was read
		}
		b := previewChangeBody{
			User:     previewUser{UUID: m.User.UUID, Email: m.User.Email, FirstName: m.User.FirstName},
			Resource: ch.Subject.Kind.Singular(), ProjectID: ch.Subject.Project,
			Before: ch.Before.Level.String(), After: ch.After.Level.String(),
			SourceBefore: ch.Before.Source.String(), SourceAfter: ch.After.Source.String(),
		}
		if ch.Subject.ID != 0 {
			id := itoa64(ch.Subject.ID)
			if key, ok := keys[ch.Subject.ID]; ok {
				id = key
			}
			b.ResourceID = &id
		}
		if ch.Gains() {
			out.Gaining++
		} else {
			out.Losing++
		}
		out.Changes = append(out.Changes, b)
	}
	encode(w, http.StatusOK, out)
	return nil
}

// previewScope is what a change can reach: one object, or the kinds' levels
// in the projects and every object of those kinds that a rule names (an
// object no rule names follows its kind's level).
type previewScope struct {
	object   *access.Object
	projects []int64 // nil: every project of the organization
	kinds    []access.Kind
}

// previewSubjects lists scope's subjects (see access.Preview) and the keys of
// the objects whose id is a string (session recordings).
func (s *Server) previewSubjects(r *http.Request, c *call, scope previewScope, rules ...[]access.Rule) ([]access.Object, map[int64]string, error) {
	keys := map[int64]string{}
	if scope.object != nil {
		if kindSpecs[scope.object.Kind].stringID {
			keys[scope.object.ID] = c.res.Key
		}
		return []access.Object{*scope.object}, keys, nil
	}
	projects := scope.projects
	if projects == nil {
		ps, err := s.store.Projects(r.Context(), c.org.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range ps {
			projects = append(projects, p.ID)
		}
	}
	var subjects []access.Object
	for _, p := range projects {
		for _, k := range scope.kinds {
			subjects = append(subjects, access.Object{Kind: k, Project: p})
		}
	}
	var ids []int64
	for _, rs := range rules {
		for _, rl := range rs {
			if rl.Scope == access.ScopeObject && slices.Contains(scope.kinds, rl.Kind) && slices.Contains(projects, rl.Project) && !slices.Contains(ids, rl.Object) {
				ids = append(ids, rl.Object)
			}
		}
	}
	if len(ids) == 0 {
		return subjects, keys, nil
	}
	slices.Sort(ids)
	objs, err := s.store.ResourcesByID(r.Context(), ids)
	if err != nil {
		return nil, nil, err
	}
	for i := range objs {
		o := &objs[i]
		if o.Deleted {
			continue
		}
		if kindSpecs[o.Kind].stringID {
			keys[o.ID] = o.Key
		}
		subjects = append(subjects, o.Object())
	}
	return subjects, keys, nil
}

// withRule changes f's rules as putting rule does: it takes the place of the
// rule of its target, or with remove only removes that one.
func withRule(f *access.Facts, rule access.Rule, remove bool) {
	f.Rules = slices.DeleteFunc(f.Rules, func(r access.Rule) bool { return sameTarget(&r, &rule) })
	if !remove {
		f.Rules = append(f.Rules, rule)
	}
}

// handleObjectAccessControlsPreview serves POST …/{kind}/{id}/access_controls/preview.
func (s *Server) handleObjectAccessControlsPreview(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	want := access.Rule{Scope: access.ScopeObject, Project: c.project.ID, Kind: c.kind, Object: c.obj.ID}
	rule, _, remove, err := s.proposedRule(r, c, &in, want, setObjectLevel)
	if err != nil {
		return err
	}
	if kindSpecs[c.kind].stringID && c.res == nil {
		if c.res, err = s.resource(r.Context(), c); err != nil {
			return err
		}
	}
	return s.preview(w, r, c, idx, func(f *access.Facts) { withRule(f, rule, remove) }, previewScope{object: &c.obj})
}

// handleKindAccessControlsPreview serves POST /api/projects/{project}/resource_access_controls/preview.
func (s *Server) handleKindAccessControlsPreview(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	want, err := kindRule(c, &in)
	if err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	rule, _, remove, err := s.proposedRule(r, c, &in, want, setObjectLevel)
	if err != nil {
		return err
	}
	return s.preview(w, r, c, idx, func(f *access.Facts) { withRule(f, rule, remove) },
		previewScope{projects: []int64{c.project.ID}, kinds: []access.Kind{rule.Kind}})
}

// handleProjectAccessControlsPreview serves POST /api/projects/{project}/access_controls/preview.
func (s *Server) handleProjectAccessControlsPreview(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	want := access.Rule{Scope: access.ScopeProject, Project: c.project.ID}
	rule, _, remove, err := s.proposedRule(r, c, &in, want, setProjectLevel)
	if err != nil {
		return err
	}
	return s.preview(w, r, c, idx, func(f *access.Facts) { withRule(f, rule, remove) },
		previewScope{projects: []int64{c.project.ID}, kinds: access.Kinds[:]})
}

// defaultPreviewInput is resource_access's body, where access_level null
// previews removing the kind's organization default.
type defaultPreviewInput struct {
	Resource    *string         `json:"resource" api:"required"`
	AccessLevel json.RawMessage `json:"access_level" api:"nullable"` // 21 or 37 (default 37); null: no default
}

// handleResourceAccessPreview serves POST /api/organizations/{org}/resource_access/preview:
// the organization default for one kind set to the body's level (as its POST
// or PUT would), or removed (access_level null, as its DELETE would).
func (s *Server) handleResourceAccessPreview(w http.ResponseWriter, r *http.Request, c *call) error {
	var in defaultPreviewInput
	if err := decode(r, &in); err != nil {
		return err
	}
	v1 := resourceAccessInput{Resource: in.Resource}
	remove := string(in.AccessLevel) == "null"
	if given := len(in.AccessLevel) != 0; given && !remove {
		var n int
		if err := json.Unmarshal(in.AccessLevel, &n); err != nil {
			return gatehouse.FieldError(gatehouse.EInvalid, "access_level", "A valid integer is required.")
		}
		v1.AccessLevel = &n
	}
	rl := &gatehouse.Rule{OrganizationID: c.org.ID, Rule: access.Rule{Scope: access.ScopeKind, Level: access.Editor}}
	if err := v1.apply(rl, true); err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	return s.preview(w, r, c, idx, func(f *access.Facts) { withRule(f, rl.Rule, remove) },
		previewScope{kinds: []access.Kind{rl.Kind}})
}

// handleRolePreview serves POST /api/organizations/{org}/roles/{role}/preview:
// the role's PATCH body (levels; a name is checked and changes no access) and
// add_members / remove_members, user uuids, as role_memberships would.
func (s *Server) handleRolePreview(w http.ResponseWriter, r *http.Request, c *call) error {
	var in previewRoleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	if _, _, err := in.name(false); err != nil {
		return err
	}
	levels := role.Levels
	if in.FeatureFlagsAccessLevel != nil {
		if levels[access.FeatureFlags], err = v1Level("feature_flags_access_level", *in.FeatureFlagsAccessLevel); err != nil {
			return err
		}
	}
	if in.ResourceAccessLevels != nil {
		for name, n := range *in.ResourceAccessLevels {
			k, ok := access.KindFromV1(name)
			if !ok {
				return gatehouse.FieldError(gatehouse.EInvalidChoice, "resource_access_levels", "\""+name+"\" is not a valid choice.")
			}
			if levels[k], err = v1Level("resource_access_levels", n); err != nil {
				return err
			}
		}
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	byUUID := make(map[string]int64, len(idx.byUser))
	for id, m := range idx.byUser {
		byUUID[m.User.UUID] = id
	}
	ms, err := s.store.RoleMembers(r.Context(), role.ID)
	if err != nil {
		return err
	}
	inRole := make(map[int64]bool, len(ms))
	for _, m := range ms {
		inRole[m.User.ID] = true
	}
	var add, remove []int64
	for _, uuid := range in.AddMembers {
		u, ok := byUUID[uuid]
		switch {
		case !ok:
			// A user of another organization is answered like an unknown one.
			return noSuchMember("add_members")
		case inRole[u]:
			return gatehouse.FieldError(gatehouse.EUnique, "add_members", "User is already part of the role.")
		}
		add = append(add, u)
	}
	for _, uuid := range in.RemoveMembers {
		u, ok := byUUID[uuid]
		if !ok || !inRole[u] {
			return gatehouse.FieldError(gatehouse.EDoesNotExist, "remove_members", "User is not part of the role.")
		}
		remove = append(remove, u)
	}
	var kinds []access.Kind
	for _, k := range access.Kinds {
		if levels[k] != role.Levels[k] || len(add) > 0 || len(remove) > 0 {
			kinds = append(kinds, k)
		}
	}
	change := func(f *access.Facts) {
		for i := range f.Roles {
			if f.Roles[i].ID != role.ID {
				continue
			}
			f.Roles[i].Levels = levels
			members := slices.DeleteFunc(slices.Clone(f.Roles[i].Members), func(u int64) bool { return slices.Contains(remove, u) })
			f.Roles[i].Members = append(members, add...)
		}
	}
	return s.preview(w, r, c, idx, change, previewScope{kinds: kinds})
}
