package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// orgNav loads {org} and places the page in its settings.
func (ui *uiCall) orgNav(org, section string) (*orgBody, *navData, error) {
	var o orgBody
	if err := ui.api.get("/api/organizations/"+url.PathEscape(org), &o); err != nil {
		return nil, nil, err
	}
	nav := &navData{OrgID: o.ID, OrgName: o.Name, Section: section}
	if id := ui.me.teamID(); id != 0 {
		nav.ProjectID, nav.ProjectName = id, ui.me.Team.Name
	}
	return &o, nav, nil
}

func orgPath(o *orgBody, rest string) string { return "/organizations/" + url.PathEscape(o.ID) + rest }

func apiOrgPath(o *orgBody, rest string) string {
	return "/api/organizations/" + url.PathEscape(o.ID) + rest
}

// handleOrgPage serves GET /organizations/{org}: its settings' first tab.
func (s *Server) handleOrgPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return err
	}
	http.Redirect(w, r, orgPath(o, "/members"), http.StatusSeeOther)
	return nil
}

// Role-based access tab.

type accessPage struct {
	Org        *orgBody
	Action     string
	Enterprise bool
	CanManage  bool
	Reason     string
	Defaults   []defaultView
	// NewRole is the level each kind of a new role starts at.
	NewRole []kindLevelView
	Roles   []roleView
	Form    formState // creating a role, saving the defaults
}

// defaultView is the organization's default for one kind: not set, or a
// v1 level. The three are distinct to the decision (access-model.md): with
// no default a view-only role restricts its members, with an "edit"
// default it does not.
type defaultView struct {
	Kind    string // URL segment; the select is named "default-" + Kind
	Label   string
	Options []option
	Meaning string // what a member who is neither admin nor creator gets
}

// defaultMeanings say, per stored default, what the decision makes of it
// for a plain member (access-model.md, "The decision", type level).
var defaultMeanings = map[int]string{
	0:      "No default: a member without a role can edit; a member with roles gets their roles' highest level, so a view-only role restricts them.",
	v1Edit: "Every member can edit, whatever their roles.",
	v1View: "View only, except for members with a role that can edit.",
}

// kindLevelView is one kind's level in the defaults or in a role: "View"
// is always on, "Edit" is the v1 level 37 (21 without it).
type kindLevelView struct {
	Kind  string // URL segment, the form value
	Label string
	Edit  bool
	Set   bool // the organization has a default row for the kind
}

// levelGrid is a table of kinds with a "View" and an "Edit" checkbox each.
type levelGrid struct {
	ID       string // prefix of the Edit checkboxes' ids
	Caption  string
	Owner    string // whose levels, for the checkboxes' labels
	Levels   []kindLevelView
	Disabled bool
}

type roleView struct {
	ID, Name string
	Grid     levelGrid
	Members  []roleMemberView
	Choices  []option
	Flags    []string
	Form     formState
}

type roleMemberView struct {
	ID, Name string
}

// PostHog's v1 levels, the two values of an "Edit" checkbox.
var (
	v1View = access.Viewer.V1()
	v1Edit = access.Editor.V1()
)

// loadAccessPage reads the organization's defaults, roles and members, and
// asks the API whether the caller may change them.
func (s *Server) loadAccessPage(r *http.Request, ui *uiCall) (*accessPage, *navData, error) {
	o, nav, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return nil, nil, err
	}
	defaults, err := listAll[resourceAccessBody](ui.api, apiOrgPath(o, "/resource_access"))
	if err != nil {
		return nil, nil, err
	}
	roles, err := listAll[roleBody](ui.api, apiOrgPath(o, "/roles"))
	if err != nil {
		return nil, nil, err
	}
	members, err := listAll[memberBody](ui.api, apiOrgPath(o, "/members"))
	if err != nil {
		return nil, nil, err
	}
	pg := &accessPage{Org: o, Action: orgPath(o, ""), Enterprise: !slices.Contains(o.AvailableFeatures, license.FeatureRoleBasedAccess)}
	// Every write of this tab has the same requirement (admin+ on a plan
	// with the feature); ask the API about one of them.
	if pg.CanManage, pg.Reason, err = ui.may(http.MethodPost, apiOrgPath(o, "/roles")); err != nil {
		return nil, nil, err
	}
	for _, k := range access.Kinds {
		level := 0
		for _, d := range defaults {
			if d.Resource == k.V1Name() {
				level = d.AccessLevel
			}
		}
		pg.Defaults = append(pg.Defaults, defaultView{
			Kind: k.String(), Label: kindLabel(k), Meaning: defaultMeanings[level],
			Options: []option{
				{Value: "", Label: "Not set", Selected: level == 0},
				{Value: strconv.Itoa(v1Edit), Label: "View & edit", Selected: level == v1Edit},
				{Value: strconv.Itoa(v1View), Label: "View only", Selected: level == v1View},
			},
		})
		// The API sets a new role's levels from the defaults, editing
		// where none is set (access-model.md): say so before it is made.
		pg.NewRole = append(pg.NewRole, kindLevelView{Kind: k.String(), Label: kindLabel(k), Edit: level != v1View, Set: level != 0})
	}
	for _, rl := range roles {
		rv := roleView{ID: rl.ID, Name: rl.Name}
		rv.Grid = levelGrid{ID: "role-" + rl.ID + "-edit", Caption: "Access of role " + rl.Name + " per resource", Owner: "Role " + rl.Name, Disabled: !pg.CanManage}
		for _, k := range access.Kinds {
			rv.Grid.Levels = append(rv.Grid.Levels, kindLevelView{Kind: k.String(), Label: kindLabel(k), Edit: rl.ResourceAccessLevels[k.V1Name()] == v1Edit})
		}
		in := map[string]bool{}
		for _, m := range rl.Members {
			rv.Members = append(rv.Members, roleMemberView{ID: m.ID, Name: personName(m.User)})
			if m.User != nil {
				in[m.User.UUID] = true
			}
		}
		for _, m := range members {
			if m.User != nil && !in[m.User.UUID] {
				rv.Choices = append(rv.Choices, option{Value: m.User.UUID, Label: personName(m.User)})
			}
		}
		for _, f := range rl.AssociatedFlags {
			rv.Flags = append(rv.Flags, f.Key)
		}
		pg.Roles = append(pg.Roles, rv)
	}
	return pg, nav, nil
}

func (s *Server) renderAccess(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, edit func(*accessPage)) error {
	pg, nav, err := s.loadAccessPage(r, ui)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(pg)
	}
	s.render(w, r, ui, status, "access", pageData{Title: "Role-based access · " + pg.Org.Name, Nav: nav, Content: pg})
	return nil
}

// handleAccessPage serves GET /organizations/{org}/access: the
// "Role-based access" tab of the organization's settings.
func (s *Server) handleAccessPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderAccess(w, r, ui, http.StatusOK, nil)
}

// accessFail shows the tab again with the API's refusal: on the role it
// concerns (roleID) or on the page.
func (s *Server) accessFail(w http.ResponseWriter, r *http.Request, ui *uiCall, err error, roleID string) error {
	e, ok := asAPIError(err)
	if !ok || e.Status >= 500 {
		return err
	}
	return s.renderAccess(w, r, ui, e.Status, func(pg *accessPage) {
		if roleID == "" {
			pg.Form.Values = r.PostForm
			pg.Form.set(e.attr(), e.Detail)
			pg.Form.only("name")
			return
		}
		for i := range pg.Roles {
			if pg.Roles[i].ID == roleID {
				pg.Roles[i].Form.Values = r.PostForm
				pg.Roles[i].Form.set(e.attr(), e.Detail)
				pg.Roles[i].Form.only("name")
				return
			}
		}
		pg.Form.set("", e.Detail)
	})
}

// handleDefaultsSubmit serves POST /organizations/{org}/access/defaults:
// each kind whose choice differs from the stored default becomes a POST,
// PATCH or DELETE of its organization default (resource_access 21 or 37,
// or none).
func (s *Server) handleDefaultsSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	current, err := listAll[resourceAccessBody](ui.api, apiOrgPath(o, "/resource_access"))
	if err != nil {
		return err
	}
	type write struct {
		method, path string
		body         any
	}
	var writes []write
	var previews []previewCall
	for _, k := range access.Kinds {
		name := "default-" + k.String()
		if _, sent := r.PostForm[name]; !sent {
			continue // a kind the form did not show is left as it is
		}
		want := 0
		switch v := r.PostForm.Get(name); v {
		case "":
		case strconv.Itoa(v1View):
			want = v1View
		case strconv.Itoa(v1Edit):
			want = v1Edit
		default:
			return s.accessFail(w, r, ui, &apiError{Status: http.StatusBadRequest, errorBody: errorBody{Detail: "Choose a default for " + kindLabel(k) + "."}}, "")
		}
		i := slices.IndexFunc(current, func(d resourceAccessBody) bool { return d.Resource == k.V1Name() })
		var level any = want
		switch {
		case i >= 0 && want == 0:
			writes = append(writes, write{http.MethodDelete, apiOrgPath(o, "/resource_access/"+url.PathEscape(current[i].ID)), nil})
			level = nil
		case i >= 0 && current[i].AccessLevel != want:
			writes = append(writes, write{http.MethodPatch, apiOrgPath(o, "/resource_access/"+url.PathEscape(current[i].ID)), map[string]int{"access_level": want}})
		case i < 0 && want != 0:
			writes = append(writes, write{http.MethodPost, apiOrgPath(o, "/resource_access"), map[string]any{"resource": k.V1Name(), "access_level": want}})
		default:
			continue
		}
		previews = append(previews, previewCall{apiOrgPath(o, "/resource_access/preview"), map[string]any{"resource": k.V1Name(), "access_level": level}})
	}
	if shown, err := s.confirmFirst(w, r, ui, "Change the organization's defaults.", orgPath(o, "/access"), previews...); shown || err != nil {
		return err
	}
	for _, wr := range writes {
		if _, err := ui.api.call(wr.method, wr.path, wr.body, nil); err != nil {
			return s.accessFail(w, r, ui, err, "")
		}
	}
	changed := len(writes)
	msg := "Organization defaults saved."
	if changed == 0 {
		msg = "Nothing to change."
	}
	s.redirect(w, r, orgPath(o, "/access"), msg)
	return nil
}

// handleRoleCreateSubmit serves POST /organizations/{org}/roles.
func (s *Server) handleRoleCreateSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	var role roleBody
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/roles"), map[string]string{"name": r.PostForm.Get("name")}, &role); err != nil {
		return s.accessFail(w, r, ui, err, "")
	}
	s.redirect(w, r, orgPath(o, "/access")+"#role-"+role.ID, "Created role "+role.Name+".")
	return nil
}

// handleRoleSubmit serves POST /organizations/{org}/roles/{role}: PATCH its
// name and its level for every kind.
func (s *Server) handleRoleSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	id := r.PathValue("role")
	levels := map[string]int{}
	for _, k := range access.Kinds {
		levels[k.V1Name()] = v1View
		if slices.Contains(r.PostForm["edit"], k.String()) {
			levels[k.V1Name()] = v1Edit
		}
	}
	body := map[string]any{"name": r.PostForm.Get("name"), "resource_access_levels": levels}
	preview := previewCall{apiOrgPath(o, "/roles/"+url.PathEscape(id)+"/preview"), body}
	if shown, err := s.confirmFirst(w, r, ui, "Change the role's levels.", orgPath(o, "/access")+"#role-"+id, preview); shown || err != nil {
		return err
	}
	var role roleBody
	if _, err := ui.api.call(http.MethodPatch, apiOrgPath(o, "/roles/"+url.PathEscape(id)), body, &role); err != nil {
		return s.accessFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/access")+"#role-"+role.ID, "Saved role "+role.Name+".")
	return nil
}

// handleRoleDeleteSubmit serves POST /organizations/{org}/roles/{role}/delete.
func (s *Server) handleRoleDeleteSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	id := r.PathValue("role")
	if _, err := ui.api.call(http.MethodDelete, apiOrgPath(o, "/roles/"+url.PathEscape(id)), nil, nil); err != nil {
		return s.accessFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/access"), "Role deleted.")
	return nil
}

// handleRoleMemberSubmit serves POST /organizations/{org}/roles/{role}/members.
func (s *Server) handleRoleMemberSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	id := r.PathValue("role")
	body := map[string]string{"user_uuid": r.PostForm.Get("user_uuid")}
	preview := previewCall{apiOrgPath(o, "/roles/"+url.PathEscape(id)+"/preview"), map[string]any{"add_members": []string{body["user_uuid"]}}}
	if shown, err := s.confirmFirst(w, r, ui, "Add a member to the role.", orgPath(o, "/access")+"#role-"+id, preview); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/roles/"+url.PathEscape(id)+"/role_memberships"), body, nil); err != nil {
		return s.accessFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/access")+"#role-"+id, "Member added to the role.")
	return nil
}

// handleRoleMemberDeleteSubmit serves POST /organizations/{org}/roles/{role}/members/{id}/delete.
func (s *Server) handleRoleMemberDeleteSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "access")
	if err != nil {
		return err
	}
	role := r.PathValue("role")
	path := apiOrgPath(o, "/roles/"+url.PathEscape(role)+"/role_memberships/"+url.PathEscape(r.PathValue("id")))
	var m roleMemberBody
	if err := ui.api.get(path, &m); err != nil {
		return s.accessFail(w, r, ui, err, role)
	}
	if m.User != nil {
		preview := previewCall{apiOrgPath(o, "/roles/"+url.PathEscape(role)+"/preview"), map[string]any{"remove_members": []string{m.User.UUID}}}
		if shown, err := s.confirmFirst(w, r, ui, "Remove "+personName(m.User)+" from the role.", orgPath(o, "/access")+"#role-"+role, preview); shown || err != nil {
			return err
		}
	}
	if _, err := ui.api.call(http.MethodDelete, path, nil, nil); err != nil {
		return s.accessFail(w, r, ui, err, role)
	}
	s.redirect(w, r, orgPath(o, "/access")+"#role-"+role, "Member removed from the role.")
	return nil
}

// Members tab.

type membersPage struct {
	Org          *orgBody
	Action       string
	MyLevel      int
	CanManage    bool
	Reason       string
	Members      []memberRow
	Invites      []inviteRow
	InviteReason string
	InviteLevels []option
	Form         formState // the invite form
}

type memberRow struct {
	UUID, Name, Email string
	Level             int
	Joined            time.Time
	Self              bool
	Options           []option
	Why               string // why the level can't be changed here
	CanRemove         bool
	Error             string
}

type inviteRow struct {
	ID, Email, Link string
	Level           int
	Created         time.Time
}

// levelOptions offers levels as membership choices, with sel selected.
func levelOptions(levels []int, sel int) []option {
	var out []option
	for _, l := range levels {
		out = append(out, option{Value: strconv.Itoa(l), Label: membershipNames[l], Selected: l == sel})
	}
	return out
}

func (s *Server) loadMembersPage(r *http.Request, ui *uiCall) (*membersPage, *navData, error) {
	o, nav, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return nil, nil, err
	}
	members, err := listAll[memberBody](ui.api, apiOrgPath(o, "/members"))
	if err != nil {
		return nil, nil, err
	}
	pg := &membersPage{Org: o, Action: orgPath(o, ""), MyLevel: o.MembershipLevel}
	if pg.CanManage, pg.Reason, err = ui.may(http.MethodPatch, apiOrgPath(o, "/members/"+url.PathEscape(ui.me.UUID))); err != nil {
		return nil, nil, err
	}
	for _, m := range members {
		if m.User == nil {
			continue
		}
		row := memberRow{UUID: m.User.UUID, Name: m.User.FirstName, Email: m.User.Email, Level: m.Level, Joined: m.JoinedAt, Self: m.User.UUID == ui.me.UUID}
		// The API's own rules for level changes and removals (access/), so
		// that only changes it can accept are offered; it still decides.
		if pg.CanManage {
			if err := access.MayChangeLevel(pg.MyLevel, m.Level, m.Level, row.Self); err != nil {
				row.Why = err.Error()
			} else {
				row.Options = levelOptions(access.AssignableLevels(pg.MyLevel, m.Level, row.Self), m.Level)
			}
			// Leaving is not offered here: the row's button removes others.
			row.CanRemove = !row.Self && access.MayRemoveMember(pg.MyLevel, m.Level, false) == nil
		}
		pg.Members = append(pg.Members, row)
	}
	invites, err := listAll[inviteBody](ui.api, apiOrgPath(o, "/invites"))
	switch e, _ := asAPIError(err); {
	case err == nil:
		for _, inv := range invites {
			pg.Invites = append(pg.Invites, inviteRow{ID: inv.ID, Email: inv.TargetEmail, Level: inv.Level, Created: inv.CreatedAt, Link: s.api.AbsoluteURL(r, "/invite/"+url.PathEscape(inv.ID))})
		}
		var invitable []int
		for _, l := range access.MembershipLevels {
			if access.MayInvite(pg.MyLevel, l) == nil {
				invitable = append(invitable, l)
			}
		}
		pg.InviteLevels = levelOptions(invitable, access.MemberLevel)
	case e != nil && e.Status < 500:
		pg.InviteReason = e.Detail
	default:
		return nil, nil, err
	}
	return pg, nav, nil
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, edit func(*membersPage)) error {
	pg, nav, err := s.loadMembersPage(r, ui)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(pg)
	}
	s.render(w, r, ui, status, "members", pageData{Title: "Members · " + pg.Org.Name, Nav: nav, Content: pg})
	return nil
}

// handleMembersPage serves GET /organizations/{org}/members.
func (s *Server) handleMembersPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderMembers(w, r, ui, http.StatusOK, nil)
}

// membersFail shows the tab again with the API's refusal beside the member
// it concerns (uuid), or on the invite form.
func (s *Server) membersFail(w http.ResponseWriter, r *http.Request, ui *uiCall, err error, uuid string) error {
	e, ok := asAPIError(err)
	if !ok || e.Status >= 500 {
		return err
	}
	return s.renderMembers(w, r, ui, e.Status, func(pg *membersPage) {
		for i := range pg.Members {
			if uuid != "" && pg.Members[i].UUID == uuid {
				pg.Members[i].Error = e.Detail
				return
			}
		}
		pg.Form.Values = r.PostForm
		pg.Form.set(e.attr(), e.Detail)
		pg.Form.only("target_email", "level")
	})
}

// handleMemberLevelSubmit serves POST /organizations/{org}/members/{user}: PATCH its level.
func (s *Server) handleMemberLevelSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return err
	}
	uuid := r.PathValue("user")
	level, err := strconv.Atoi(r.PostForm.Get("level"))
	if err != nil {
		return s.membersFail(w, r, ui, &apiError{Status: http.StatusBadRequest, errorBody: errorBody{Detail: "Choose a level."}}, uuid)
	}
	var m memberBody
	if _, err := ui.api.call(http.MethodPatch, apiOrgPath(o, "/members/"+url.PathEscape(uuid)), map[string]int{"level": level}, &m); err != nil {
		return s.membersFail(w, r, ui, err, uuid)
	}
	name := uuid
	if m.User != nil {
		name = m.User.Email
	}
	s.redirect(w, r, orgPath(o, "/members"), name+" is now "+strings.ToLower(membershipNames[m.Level])+".")
	return nil
}

// handleMemberRemoveSubmit serves POST /organizations/{org}/members/{user}/delete.
func (s *Server) handleMemberRemoveSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return err
	}
	uuid := r.PathValue("user")
	if _, err := ui.api.call(http.MethodDelete, apiOrgPath(o, "/members/"+url.PathEscape(uuid)), nil, nil); err != nil {
		return s.membersFail(w, r, ui, err, uuid)
	}
	s.redirect(w, r, orgPath(o, "/members"), "Member removed.")
	return nil
}

// handleInviteCreateSubmit serves POST /organizations/{org}/invites.
func (s *Server) handleInviteCreateSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return err
	}
	body := map[string]any{"target_email": strings.TrimSpace(r.PostForm.Get("target_email"))}
	if l, err := strconv.Atoi(r.PostForm.Get("level")); err == nil {
		body["level"] = l
	}
	var inv inviteBody
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/invites"), body, &inv); err != nil {
		return s.membersFail(w, r, ui, err, "")
	}
	s.redirect(w, r, orgPath(o, "/members")+"#invites", "Invite created for "+inv.TargetEmail+": send them its link.")
	return nil
}

// handleInviteRevokeSubmit serves POST /organizations/{org}/invites/{id}/delete.
func (s *Server) handleInviteRevokeSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "members")
	if err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodDelete, apiOrgPath(o, "/invites/"+url.PathEscape(r.PathValue("id"))), nil, nil); err != nil {
		return s.membersFail(w, r, ui, err, "")
	}
	s.redirect(w, r, orgPath(o, "/members")+"#invites", "Invite revoked.")
	return nil
}
