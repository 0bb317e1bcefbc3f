package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

const maxRoleNameLength = 200

type roleMemberBody struct {
	ID        string     `json:"id"`
	RoleID    string     `json:"role_id"`
	User      *userBasic `json:"user"`
	JoinedAt  time.Time  `json:"joined_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func roleMemberOut(m *gatehouse.RoleMembership) roleMemberBody {
	return roleMemberBody{ID: m.ID, RoleID: m.RoleID, User: basicUser(&m.User), JoinedAt: m.JoinedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
}

type flagRef struct {
	ID  int64  `json:"id"`
	Key string `json:"key"`
}

type roleBody struct {
	ID                      string           `json:"id"`
	Name                    string           `json:"name"`
	FeatureFlagsAccessLevel int              `json:"feature_flags_access_level"`
	ResourceAccessLevels    map[string]int   `json:"resource_access_levels"`
	CreatedAt               time.Time        `json:"created_at"`
	CreatedBy               *userBasic       `json:"created_by"`
	Members                 []roleMemberBody `json:"members"`
	AssociatedFlags         []flagRef        `json:"associated_flags"`
}

// roleOut serializes role with its members and the flags it was granted
// (PostHog's associated_flags).
func (s *Server) roleOut(r *http.Request, role *gatehouse.Role, users *userCache, flags map[string][]flagRef) (roleBody, error) {
	levels := make(map[string]int, access.NumKinds)
	for _, k := range access.Kinds {
		levels[k.V1Name()] = role.Levels[k].V1()
	}
	ms, err := s.store.RoleMembers(r.Context(), role.ID)
	if err != nil {
		return roleBody{}, err
	}
	members := make([]roleMemberBody, len(ms))
	for i := range ms {
		members[i] = roleMemberOut(&ms[i])
	}
	assoc := flags[role.ID]
	if assoc == nil {
		assoc = []flagRef{}
	}
	return roleBody{
		ID: role.ID, Name: role.Name, FeatureFlagsAccessLevel: role.Levels[access.FeatureFlags].V1(),
		ResourceAccessLevels: levels, CreatedAt: role.CreatedAt.UTC(), CreatedBy: users.get(r, role.CreatedBy),
		Members: members, AssociatedFlags: assoc,
	}, nil
}

// associatedFlags maps role ids to the flags that a v1 role access grant lets the role
// edit (PostHog's associated_flags), among the flags c's caller may view: a flag hidden
// from them is not named, even by id.
func (s *Server) associatedFlags(r *http.Request, c *call) (map[string][]flagRef, error) {
	sc, k := access.ScopeObject, access.FeatureFlags
	rules, err := s.store.Rules(r.Context(), gatehouse.RuleFilter{OrganizationID: c.org.ID, OptionalScope: &sc, OptionalKind: &k})
	if err != nil {
		return nil, err
	}
	// A v2 rule for a role below editor is no v1 grant: it is not shown as "can edit".
	grants := rules[:0:0]
	var ids []int64
	for _, rl := range rules {
		if rl.GrantsV1RoleAccess() {
			grants = append(grants, rl)
			ids = append(ids, rl.Object)
		}
	}
	if ids, err = s.visibleObjects(r.Context(), c, ids); err != nil {
		return nil, err
	}
	flags, err := s.store.ResourcesByID(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	keys := make(map[int64]string, len(flags))
	for _, f := range flags {
		keys[f.ID] = f.Key
	}
	out := map[string][]flagRef{}
	for _, rl := range grants {
		if key, ok := keys[rl.Object]; ok {
			out[rl.Role] = append(out[rl.Role], flagRef{ID: rl.Object, Key: key})
		}
	}
	return out, nil
}

// handleRoleList serves GET /api/organizations/{org}/roles.
func (s *Server) handleRoleList(w http.ResponseWriter, r *http.Request, c *call) error {
	roles, err := s.store.Roles(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	flags, err := s.associatedFlags(r, c)
	if err != nil {
		return err
	}
	users := s.newUserCache()
	out := make([]roleBody, len(roles))
	for i := range roles {
		if out[i], err = s.roleOut(r, &roles[i], users, flags); err != nil {
			return err
		}
	}
	return listOf(w, r, out)
}

// orgDefaults returns the organization default (v1 resource_access row)
// for each kind that has one.
func (s *Server) orgDefaults(r *http.Request, orgID string) (map[access.Kind]gatehouse.Rule, error) {
	sc := access.ScopeKind
	rules, err := s.store.Rules(r.Context(), gatehouse.RuleFilter{OrganizationID: orgID, OptionalScope: &sc})
	if err != nil {
		return nil, err
	}
	out := map[access.Kind]gatehouse.Rule{}
	for _, rl := range rules {
		if isOrgDefault(&rl) {
			out[rl.Kind] = rl
		}
	}
	return out, nil
}

// isOrgDefault reports whether rl is a v1 organization default: a kind rule
// for everyone across the organization.
func isOrgDefault(rl *gatehouse.Rule) bool {
	return rl.Scope == access.ScopeKind && rl.Project == 0 && rl.Role == "" && rl.User == 0
}

type roleInput struct {
	Name                    *string         `json:"name"`
	FeatureFlagsAccessLevel *int            `json:"feature_flags_access_level"`
	ResourceAccessLevels    *map[string]int `json:"resource_access_levels"`
}

func (in *roleInput) name(required bool) (string, bool, error) {
	if in.Name == nil {
		if required {
			return "", false, gatehouse.FieldError(gatehouse.ERequired, "name", "This field is required.")
		}
		return "", false, nil
	}
	name := strings.TrimSpace(*in.Name)
	if name == "" {
		return "", false, gatehouse.FieldError(gatehouse.EBlank, "name", "This field may not be blank.")
	}
	return name, true, checkText("name", name, true, maxRoleNameLength)
}

func v1Level(attr string, n int) (access.Level, error) {
	l, ok := access.LevelFromV1(n)
	if !ok {
		return 0, gatehouse.FieldError(gatehouse.EInvalidChoice, attr, "\""+itoa(n)+"\" is not a valid choice.")
	}
	return l, nil
}

// handleRoleCreate serves POST /api/organizations/{org}/roles. Each level
// starts at the organization's default for its kind (editor without one),
// whatever the request says: PostHog ignores feature_flags_access_level on create.
func (s *Server) handleRoleCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	name, _, err := in.name(true)
	if err != nil {
		return err
	}
	defaults, err := s.orgDefaults(r, c.org.ID)
	if err != nil {
		return err
	}
	role := &gatehouse.Role{OrganizationID: c.org.ID, Name: name, CreatedBy: c.user.ID}
	for _, k := range access.Kinds {
		role.Levels[k] = access.Editor
		if d, ok := defaults[k]; ok {
			role.Levels[k] = d.Level
		}
	}
	if err := s.store.CreateRole(r.Context(), role, c.user.ID); err != nil {
		return err
	}
	return s.writeRole(w, r, c, role, http.StatusCreated)
}

func (s *Server) roleFromPath(r *http.Request, c *call) (*gatehouse.Role, error) {
	return s.store.Role(r.Context(), c.org.ID, r.PathValue("role"))
}

// writeRole answers with role as PostHog shows it, associated flags included.
func (s *Server) writeRole(w http.ResponseWriter, r *http.Request, c *call, role *gatehouse.Role, status int) error {
	flags, err := s.associatedFlags(r, c)
	if err != nil {
		return err
	}
	out, err := s.roleOut(r, role, s.newUserCache(), flags)
	if err != nil {
		return err
	}
	encode(w, status, out)
	return nil
}

// handleRoleGet serves GET /api/organizations/{org}/roles/{role}.
func (s *Server) handleRoleGet(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	return s.writeRole(w, r, c, role, http.StatusOK)
}

// handleRoleUpdate serves PUT and PATCH /api/organizations/{org}/roles/{role}.
func (s *Server) handleRoleUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	// The change applies to the role as stored when it is written, so that two
	// admins changing different levels at once both keep their change.
	role, err := s.store.UpdateRoleFunc(r.Context(), c.org.ID, r.PathValue("role"), c.user.ID, func(role *gatehouse.Role) error {
		name, ok, err := in.name(r.Method == http.MethodPut)
		if err != nil {
			return err
		}
		if ok {
			role.Name = name
		}
		if in.FeatureFlagsAccessLevel != nil {
			if role.Levels[access.FeatureFlags], err = v1Level("feature_flags_access_level", *in.FeatureFlagsAccessLevel); err != nil {
				return err
			}
		}
		if in.ResourceAccessLevels != nil {
			for name, n := range *in.ResourceAccessLevels {
				k, ok := access.KindFromV1(name)
				if !ok {
					return gatehouse.FieldError(gatehouse.EInvalidChoice, "resource_access_levels", "\""+name+"\" is not a valid choice.")
				}
				if role.Levels[k], err = v1Level("resource_access_levels", n); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeRole(w, r, c, role, http.StatusOK)
}

// handleRoleDelete serves DELETE /api/organizations/{org}/roles/{role}.
func (s *Server) handleRoleDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteRole(r.Context(), c.org.ID, r.PathValue("role"), c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRoleMemberList serves GET /api/organizations/{org}/roles/{role}/role_memberships.
func (s *Server) handleRoleMemberList(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	ms, err := s.store.RoleMembers(r.Context(), role.ID)
	if err != nil {
		return err
	}
	out := make([]roleMemberBody, len(ms))
	for i := range ms {
		out[i] = roleMemberOut(&ms[i])
	}
	return listOf(w, r, out)
}

// handleRoleMemberCreate serves POST /api/organizations/{org}/roles/{role}/role_memberships.
// Only members of the role's organization can join it.
func (s *Server) handleRoleMemberCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleMemberInput
	if err := decode(r, &in); err != nil {
		return err
	}
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	if deref(in.UserUUID) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "user_uuid", "This field is required.")
	}
	u, err := s.memberByUUID(r.Context(), c, *in.UserUUID, "user_uuid")
	if err != nil {
		return err
	}
	m := &gatehouse.RoleMembership{RoleID: role.ID, User: *u}
	if err := s.store.AddRoleMember(r.Context(), c.org.ID, m, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusCreated, roleMemberOut(m))
	return nil
}

// handleRoleMemberGet serves GET …/roles/{role}/role_memberships/{id}.
func (s *Server) handleRoleMemberGet(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	m, err := s.store.RoleMember(r.Context(), role.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, roleMemberOut(m))
	return nil
}

// handleRoleMemberDelete serves DELETE …/roles/{role}/role_memberships/{id}.
func (s *Server) handleRoleMemberDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.roleFromPath(r, c)
	if err != nil {
		return err
	}
	if err := s.store.RemoveRoleMember(r.Context(), c.org.ID, role.ID, r.PathValue("id"), c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type resourceAccessBody struct {
	ID           string     `json:"id"`
	Resource     string     `json:"resource"`
	AccessLevel  int        `json:"access_level"`
	Organization string     `json:"organization"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CreatedBy    *userBasic `json:"created_by"`
}

func resourceAccessOut(r *http.Request, rl *gatehouse.Rule, users *userCache) resourceAccessBody {
	return resourceAccessBody{ID: rl.ID, Resource: rl.Kind.V1Name(), AccessLevel: rl.Level.V1(), Organization: rl.OrganizationID,
		CreatedAt: rl.CreatedAt.UTC(), UpdatedAt: rl.UpdatedAt.UTC(), CreatedBy: users.get(r, rl.CreatedBy)}
}

// handleResourceAccessList serves GET /api/organizations/{org}/resource_access.
func (s *Server) handleResourceAccessList(w http.ResponseWriter, r *http.Request, c *call) error {
	defaults, err := s.orgDefaults(r, c.org.ID)
	if err != nil {
		return err
	}
	users := s.newUserCache()
	out := []resourceAccessBody{}
	for _, k := range access.Kinds {
		if rl, ok := defaults[k]; ok {
			out = append(out, resourceAccessOut(r, &rl, users))
		}
	}
	return listOf(w, r, out)
}

type resourceAccessInput struct {
	Resource    *string `json:"resource"`
	AccessLevel *int    `json:"access_level"`
}

func (in *resourceAccessInput) apply(rl *gatehouse.Rule, create bool) error {
	if in.Resource != nil || create {
		if deref(in.Resource) == "" {
			return gatehouse.FieldError(gatehouse.ERequired, "resource", "This field is required.")
		}
		k, ok := access.KindFromV1(*in.Resource)
		if !ok {
			return gatehouse.FieldError(gatehouse.EInvalidChoice, "resource", "\""+*in.Resource+"\" is not a valid choice.")
		}
		rl.Kind = k
	}
	if in.AccessLevel != nil {
		l, err := v1Level("access_level", *in.AccessLevel)
		if err != nil {
			return err
		}
		rl.Level = l
	}
	return nil
}

// handleResourceAccessCreate serves POST /api/organizations/{org}/resource_access:
// the organization default for one kind.
func (s *Server) handleResourceAccessCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in resourceAccessInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rl := &gatehouse.Rule{OrganizationID: c.org.ID, Rule: access.Rule{Scope: access.ScopeKind, Level: access.Editor}, CreatedBy: c.user.ID}
	if err := in.apply(rl, true); err != nil {
		return err
	}
	if err := s.store.CreateRule(r.Context(), rl, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusCreated, resourceAccessOut(r, rl, s.newUserCache()))
	return nil
}

func (s *Server) orgDefaultFromPath(r *http.Request, c *call) (*gatehouse.Rule, error) {
	rl, err := s.store.Rule(r.Context(), c.org.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !isOrgDefault(rl) {
		return nil, gatehouse.NotFound()
	}
	return rl, nil
}

// handleResourceAccessGet serves GET /api/organizations/{org}/resource_access/{id}.
func (s *Server) handleResourceAccessGet(w http.ResponseWriter, r *http.Request, c *call) error {
	rl, err := s.orgDefaultFromPath(r, c)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, resourceAccessOut(r, rl, s.newUserCache()))
	return nil
}

// handleResourceAccessUpdate serves PUT and PATCH /api/organizations/{org}/resource_access/{id}.
// Changing the kind is a new default: delete and create keeps the log clear,
// so only the level changes here.
func (s *Server) handleResourceAccessUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in resourceAccessInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rl, err := s.orgDefaultFromPath(r, c)
	if err != nil {
		return err
	}
	kind := rl.Kind
	if err := in.apply(rl, false); err != nil {
		return err
	}
	if rl.Kind != kind {
		return gatehouse.FieldError(gatehouse.EInvalid, "resource", "The resource of an organization default can't change: delete it and create another.")
	}
	if err := s.store.PutRule(r.Context(), rl, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusOK, resourceAccessOut(r, rl, s.newUserCache()))
	return nil
}

// handleResourceAccessDelete serves DELETE /api/organizations/{org}/resource_access/{id}.
func (s *Server) handleResourceAccessDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	rl, err := s.orgDefaultFromPath(r, c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteRule(r.Context(), c.org.ID, rl.ID, c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
