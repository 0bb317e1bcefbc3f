package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// The project's "Access" tab: who may enter the project (PostHog's v2
// project access), through GET/PUT /api/projects/{project}/access_controls.

type projectAccessPage struct {
	Action         string
	CanManage      bool
	Reason         string // why the caller can't change it
	Enterprise     bool   // the plan lacks role-based access
	Everyone       string // the level for everyone; "member" unless a rule says otherwise
	EveryoneExpiry string
	Rules          []projectRuleView
	Targets        []option
	Levels         []option
	Form           formState

	// Kind rules that apply in this project only (v2 resource access controls).
	KindRules  []kindRuleView
	Kinds      []option
	KindLevels []option
	KindForm   formState
}

// kindRuleView is a project-only rule on a whole kind.
type kindRuleView struct {
	Resource, Kind, Target, Name, Level string
	Expiry                              string // "until …", or ""
}

// projectRuleView is one role's or member's own level in the project.
type projectRuleView struct {
	Target, Name, Level string
	Expiry              string // "until …", or ""
}

// orgPeople reads an organization with its roles and members, which the
// permission forms offer as targets.
func (ui *uiCall) orgPeople(orgID string) (*orgBody, []roleBody, []memberBody, error) {
	var org orgBody
	base := "/api/organizations/" + url.PathEscape(orgID)
	if err := ui.api.get(base, &org); err != nil {
		return nil, nil, nil, err
	}
	roles, err := listAll[roleBody](ui.api, base+"/roles")
	if err != nil {
		return nil, nil, nil, err
	}
	members, err := listAll[memberBody](ui.api, base+"/members")
	if err != nil {
		return nil, nil, nil, err
	}
	return &org, roles, members, nil
}

// projectLevelLabel names a project access level for people.
func projectLevelLabel(l string) string {
	switch l {
	case "none":
		return "No access"
	case "member":
		return "Member"
	case "admin":
		return "Admin"
	}
	return l
}

func (s *Server) loadProjectAccess(ui *uiCall, p *projectBody) (*projectAccessPage, error) {
	var acl struct {
		AccessControls []accessControlBody `json:"access_controls"`
		Levels         []string            `json:"available_access_levels"`
		Default        string              `json:"default_access_level"`
		Yours          string              `json:"user_access_level"`
		CanEdit        bool                `json:"user_can_edit_access_levels"`
	}
	if err := ui.api.get(apiProjectPath(p, "/access_controls"), &acl); err != nil {
		return nil, err
	}
	org, roles, members, err := ui.orgPeople(p.Organization)
	if err != nil {
		return nil, err
	}
	pg := &projectAccessPage{
		Action: projectPath(p, "/access"), CanManage: acl.CanEdit, Everyone: acl.Default,
		Enterprise: !slices.Contains(org.AvailableFeatures, license.FeatureRoleBasedAccess),
	}
	roleNames := map[string]string{}
	for _, rl := range roles {
		roleNames[rl.ID] = rl.Name
	}
	memberNames := map[string]string{}
	for _, m := range members {
		memberNames[m.ID] = personName(m.User)
	}
	for _, ac := range acl.AccessControls {
		switch {
		case ac.Role != nil:
			pg.Rules = append(pg.Rules, projectRuleView{Target: "role:" + *ac.Role, Name: "Role " + roleNames[*ac.Role], Level: ac.AccessLevel, Expiry: expiryLabel(ac.ExpiresAt)})
		case ac.OrganizationMember != nil:
			pg.Rules = append(pg.Rules, projectRuleView{Target: "member:" + *ac.OrganizationMember, Name: memberNames[*ac.OrganizationMember], Level: ac.AccessLevel, Expiry: expiryLabel(ac.ExpiresAt)})
		default:
			pg.Everyone, pg.EveryoneExpiry = ac.AccessLevel, expiryLabel(ac.ExpiresAt)
		}
	}
	pg.Targets = append(pg.Targets, option{Value: "everyone", Label: "Everyone"})
	for _, rl := range roles {
		pg.Targets = append(pg.Targets, option{Value: "role:" + rl.ID, Label: "Role " + rl.Name})
	}
	for _, m := range members {
		pg.Targets = append(pg.Targets, option{Value: "member:" + m.ID, Label: personName(m.User)})
	}
	for _, l := range acl.Levels {
		pg.Levels = append(pg.Levels, option{Value: l, Label: projectLevelLabel(l), Selected: l == "member"})
	}
	if err := s.loadKindRules(ui, p, pg, roleNames, memberNames); err != nil {
		return nil, err
	}
	if !pg.CanManage {
		if pg.Enterprise {
			pg.Reason = "Project access is part of role-based access, an enterprise feature; on this plan every member enters every project."
		} else {
			pg.Reason = "Only the project's admins (and organization admins) can change who may enter it. Your level here: " + projectLevelLabel(acl.Yours) + "."
		}
	}
	return pg, nil
}

// loadKindRules reads the kind rules of this project alone: the API lists
// them with the organization-wide ones (v1 defaults, and role levels under
// ids "role_level:…"), which the Role-based access tab shows and changes.
func (s *Server) loadKindRules(ui *uiCall, p *projectBody, pg *projectAccessPage, roleNames, memberNames map[string]string) error {
	var acl struct {
		AccessControls []accessControlBody `json:"access_controls"`
		Levels         []string            `json:"available_access_levels"`
	}
	if err := ui.api.get(apiProjectPath(p, "/resource_access_controls"), &acl); err != nil {
		return err
	}
	orgWide, err := listAll[resourceAccessBody](ui.api, "/api/organizations/"+url.PathEscape(p.Organization)+"/resource_access")
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, d := range orgWide {
		skip[d.ID] = true
	}
	for _, ac := range acl.AccessControls {
		if skip[ac.ID] || strings.HasPrefix(ac.ID, "role_level:") {
			continue
		}
		k, ok := access.KindFromSingular(ac.Resource)
		if !ok {
			continue
		}
		v := kindRuleView{Resource: ac.Resource, Kind: kindLabel(k), Target: "everyone", Name: "Everyone", Level: ac.AccessLevel, Expiry: expiryLabel(ac.ExpiresAt)}
		switch {
		case ac.Role != nil:
			v.Target, v.Name = "role:"+*ac.Role, "Role "+roleNames[*ac.Role]
		case ac.OrganizationMember != nil:
			v.Target, v.Name = "member:"+*ac.OrganizationMember, memberNames[*ac.OrganizationMember]
		}
		pg.KindRules = append(pg.KindRules, v)
	}
	for _, k := range access.Kinds {
		pg.Kinds = append(pg.Kinds, option{Value: k.Singular(), Label: kindLabel(k)})
	}
	for _, l := range acl.Levels {
		pg.KindLevels = append(pg.KindLevels, option{Value: l, Label: levelLabel(l), Selected: l == access.Viewer.String()})
	}
	return nil
}

// handleProjectAccessPage serves GET /projects/{project}/access.
func (s *Server) handleProjectAccessPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderProjectAccess(w, r, ui, http.StatusOK, nil)
}

func (s *Server) renderProjectAccess(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, fail error) error {
	p, nav, err := ui.projectNav(r.PathValue("project"), "project-access")
	if err != nil {
		return err
	}
	pg, err := s.loadProjectAccess(ui, p)
	if err != nil {
		return err
	}
	if fail != nil {
		pg.Form.Values = r.PostForm
		if err := pg.Form.fail(fail); err != nil {
			return err
		}
		pg.Form.only()
	}
	s.render(w, r, ui, status, "projectaccess", pageData{Title: "Access · " + p.Name, Nav: nav, Content: pg})
	return nil
}

// handleKindRuleSubmit serves POST /projects/{project}/access/kinds: sets
// (or, with no level, removes) a kind's level in this project for everyone,
// a role or a member.
func (s *Server) handleKindRuleSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.putFromForm(w, r, ui, "/resource_access_controls", map[string]any{"resource": r.PostForm.Get("resource")}, "Resource access saved.", "Resource access rule removed.")
}

// handleProjectAccessSubmit serves POST /projects/{project}/access: sets
// (or, with no level, removes) the level of everyone, a role or a member.
func (s *Server) handleProjectAccessSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.putFromForm(w, r, ui, "/access_controls", map[string]any{}, "Project access saved.", "Project access rule removed.")
}

// putFromForm PUTs the form's level for its target ("everyone", "role:ID" or
// "member:ID") to the project's access controls at path, with body's other
// fields, and comes back to the tab.
func (s *Server) putFromForm(w http.ResponseWriter, r *http.Request, ui *uiCall, path string, body map[string]any, saved, removed string) error {
	p, _, err := ui.projectNav(r.PathValue("project"), "project-access")
	if err != nil {
		return err
	}
	var level any = r.PostForm.Get("access_level")
	if level == "" {
		level = nil
	}
	body["access_level"] = level
	target := r.PostForm.Get("target")
	switch kind, id, _ := strings.Cut(target, ":"); {
	case target == "everyone":
	case kind == "role" && id != "":
		body["role"] = id
	case kind == "member" && id != "":
		body["organization_member"] = id
	default:
		return s.renderProjectAccess(w, r, ui, http.StatusBadRequest, &apiError{Status: http.StatusBadRequest, errorBody: errorBody{Detail: "Choose who the level is for."}})
	}
	if level != nil {
		at, ok := expiresAt(r.PostForm, s.now())
		if !ok {
			return s.renderProjectAccess(w, r, ui, http.StatusBadRequest, &apiError{Status: http.StatusBadRequest, errorBody: errorBody{Detail: "Choose when the rule ends."}})
		}
		if at != "" {
			body["expires_at"] = at
		}
	}
	whom := map[string]string{"everyone": "everyone", "role": "the role", "member": "the member"}[strings.SplitN(target, ":", 2)[0]]
	what := "Remove the rule for " + whom + "."
	switch {
	case level == nil:
	case path == "/access_controls":
		what = "Set \u201c" + projectLevelLabel(r.PostForm.Get("access_level")) + "\u201d in this project for " + whom + "."
	default:
		what = "Set \u201c" + levelLabel(r.PostForm.Get("access_level")) + "\u201d on every " + strings.ReplaceAll(r.PostForm.Get("resource"), "_", " ") + " of this project for " + whom + "."
	}
	if shown, err := s.confirmFirst(w, r, ui, what, projectPath(p, "/access"), previewCall{apiProjectPath(p, path+"/preview"), body}); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodPut, apiProjectPath(p, path), body, nil); err != nil {
		if e, ok := asAPIError(err); ok && e.Status < 500 {
			return s.renderProjectAccess(w, r, ui, e.Status, err)
		}
		return err
	}
	flash := saved
	if level == nil {
		flash = removed
	}
	s.redirect(w, r, projectPath(p, "/access"), flash)
	return nil
}
