package server

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// objectRef is the nested object in a role access answer.
func objectRef(res *gatehouse.Resource) objectRefAnswer {
	return objectRefAnswer{kind: res.Kind, id: res.ID, key: res.Key}
}

// objectRules returns the rules on c's object.
func (s *Server) objectRules(r *http.Request, c *call) ([]gatehouse.Rule, error) {
	sc, obj := access.ScopeObject, c.obj.ID
	return s.store.Rules(r.Context(), gatehouse.RuleFilter{OrganizationID: c.org.ID, OptionalScope: &sc, OptionalObject: &obj})
}

// roleAccessOut is PostHog's FeatureFlagRoleAccess shape, keyed by the
// kind's singular name ("feature_flag", "experiment", …). flags is
// associatedFlags' answer, so that the embedded role reads as GET …/roles/{id}
// shows it.
func (s *Server) roleAccessOut(r *http.Request, c *call, rl *gatehouse.Rule, role *gatehouse.Role, users *userCache, flags map[string][]flagRef) (roleAccessResult, error) {
	rb, err := s.roleOut(r, role, users, flags)
	if err != nil {
		return roleAccessResult{}, err
	}
	res, err := s.resource(r.Context(), c)
	if err != nil {
		return roleAccessResult{}, err
	}
	return roleAccessResult{
		ID: rl.ID, Role: rb, RoleID: rl.Role,
		AddedAt: rl.CreatedAt.UTC(), UpdatedAt: rl.UpdatedAt.UTC(),
		Object: objectRef(res),
	}, nil
}

// handleRoleAccessList serves GET …/{kind}/{id}/role_access.
func (s *Server) handleRoleAccessList(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := s.objectRules(r, c)
	if err != nil {
		return err
	}
	flags, err := s.associatedFlags(r, c)
	if err != nil {
		return err
	}
	users := s.newUserCache()
	out := []roleAccessResult{}
	for i := range rules {
		// v1 role access means "this role may edit"; a v2 role rule at a
		// lower level is not one, so v1 does not show it.
		if !rules[i].GrantsV1RoleAccess() {
			continue
		}
		role, err := s.store.Role(r.Context(), c.org.ID, rules[i].Role)
		if err != nil {
			return err
		}
		item, err := s.roleAccessOut(r, c, &rules[i], role, users, flags)
		if err != nil {
			return err
		}
		out = append(out, item)
	}
	return listOf(w, r, out)
}

// handleRoleAccessCreate serves POST …/{kind}/{id}/role_access: the role may
// edit this one object (a v1 grant is always editor).
func (s *Server) handleRoleAccessCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleAccessInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if deref(in.RoleID) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "role_id", "This field is required.")
	}
	role, err := s.store.Role(r.Context(), c.org.ID, *in.RoleID)
	if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
		return gatehouse.FieldError(gatehouse.EDoesNotExist, "role_id", "Role does not exist.")
	}
	if err != nil {
		return err
	}
	rl := &gatehouse.Rule{OrganizationID: c.org.ID, CreatedBy: c.user.ID, Rule: access.Rule{
		Scope: access.ScopeObject, Project: c.project.ID, Kind: c.kind, Object: c.obj.ID, Role: role.ID, Level: access.Editor}}
	if err := s.store.CreateRule(r.Context(), rl, c.user.ID); err != nil {
		return err
	}
	// Read after the write, so the new grant is among the role's flags.
	flags, err := s.associatedFlags(r, c)
	if err != nil {
		return err
	}
	out, err := s.roleAccessOut(r, c, rl, role, s.newUserCache(), flags)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, out)
	return nil
}

// grantFromPath finds {grant} among the role rules on c's object.
func (s *Server) grantFromPath(r *http.Request, c *call) (*gatehouse.Rule, error) {
	rl, err := s.store.Rule(r.Context(), c.org.ID, r.PathValue("grant"))
	if err != nil {
		return nil, err
	}
	if !rl.GrantsV1RoleAccess() || rl.Object != c.obj.ID {
		return nil, gatehouse.NotFound()
	}
	return rl, nil
}

// handleRoleAccessGet serves GET …/{kind}/{id}/role_access/{grant}.
func (s *Server) handleRoleAccessGet(w http.ResponseWriter, r *http.Request, c *call) error {
	rl, err := s.grantFromPath(r, c)
	if err != nil {
		return err
	}
	role, err := s.store.Role(r.Context(), c.org.ID, rl.Role)
	if err != nil {
		return err
	}
	flags, err := s.associatedFlags(r, c)
	if err != nil {
		return err
	}
	out, err := s.roleAccessOut(r, c, rl, role, s.newUserCache(), flags)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, out)
	return nil
}

// handleRoleAccessDelete serves DELETE …/{kind}/{id}/role_access/{grant}.
func (s *Server) handleRoleAccessDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	rl, err := s.grantFromPath(r, c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteRule(r.Context(), c.org.ID, rl.ID, c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type activityBody struct {
	ID       int64      `json:"id"`
	Activity string     `json:"activity"`
	Scope    string     `json:"scope"`
	ItemID   string     `json:"item_id"`
	User     *userBasic `json:"user"`
	// ActorName names an actor that is no member, such as "SCIM (acme.test)"; null when
	// the actor is the user.
	ActorName *string `json:"actor_name"`
	Detail    struct {
		Changes []gatehouse.Change `json:"changes"`
	} `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

// handleActivityList serves GET /api/organizations/{org}/activity_log and
// GET /api/projects/{project}/activity_log, newest first, filterable by
// ?item_id= and ?user= (a member's uuid). Rows about an object (a rule on it)
// are shown only when the caller may view the object; the count and the
// next link leave the others out too.
func (s *Server) handleActivityList(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	f := gatehouse.ActivityFilter{OrganizationID: c.org.ID, OptionalItemID: r.URL.Query().Get("item_id"), Limit: limit, Offset: offset}
	if c.project != nil {
		f.OptionalProjectID = c.project.ID
	}
	if uid := r.URL.Query().Get("user"); uid != "" {
		u, err := s.memberByUUID(ctx, c, uid, "user")
		if err != nil {
			return err
		}
		f.OptionalUserID = u.ID
	}
	// The objects are listed before the page is read, and the page keeps
	// only rows about those listed and found visible: a row about an object
	// written in between is left out rather than shown undecided.
	objects, err := s.store.ActivityObjects(ctx, f)
	if err != nil {
		return err
	}
	if objects, err = s.visibleObjects(ctx, c, objects); err != nil {
		return err
	}
	f.OptionalObjects = &objects
	rows, total, err := s.store.ActivityLog(ctx, f)
	if err != nil {
		return err
	}
	out := make([]activityBody, len(rows))
	for i, a := range rows {
		out[i] = activityBody{ID: a.ID, Activity: a.Activity, Scope: a.Scope, ItemID: a.ItemID, User: basicUser(a.User), CreatedAt: a.CreatedAt.UTC()}
		out[i].Detail.Changes = a.Changes
		if a.ActorName != "" {
			out[i].ActorName = &a.ActorName
		}
		if out[i].Detail.Changes == nil {
			out[i].Detail.Changes = []gatehouse.Change{}
		}
	}
	encode(w, http.StatusOK, newPage(r, total, limit, offset, out))
	return nil
}
