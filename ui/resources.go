package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// apiObject is a resource as the API serializes it.
type apiObject map[string]json.RawMessage

func (o apiObject) str(name string) string {
	var s string
	_ = json.Unmarshal(o[name], &s)
	return s
}

func (o apiObject) flag(name string) bool {
	var b bool
	_ = json.Unmarshal(o[name], &b)
	return b
}

func (o apiObject) time(name string) time.Time {
	var t time.Time
	_ = json.Unmarshal(o[name], &t)
	return t
}

// id is the object's public id as text: a number, or a recording's string id.
func (o apiObject) id() string {
	raw := o["id"]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (o apiObject) creator() string {
	var u *userBasic
	if json.Unmarshal(o["created_by"], &u) != nil || u == nil {
		return ""
	}
	return personName(u)
}

func personName(u *userBasic) string {
	if u == nil {
		return ""
	}
	if u.FirstName != "" {
		return u.FirstName + " (" + u.Email + ")"
	}
	return u.Email
}

// title names an object in a list or a heading.
func (o apiObject) title(k access.Kind) string {
	switch k {
	case access.FeatureFlags:
		return o.str("key")
	case access.SessionRecordings:
		return o.id()
	}
	if n := o.str("name"); n != "" {
		return n
	}
	if k == access.Insights {
		return "Insight " + o.str("short_id")
	}
	return capitalize(k.Noun()) + " " + o.id()
}

func (o apiObject) subtitle(k access.Kind) string {
	switch k {
	case access.FeatureFlags:
		return o.str("name")
	case access.SessionRecordings:
		if d := o.str("distinct_id"); d != "" {
			return "Person " + d
		}
		return ""
	}
	return o.str("description")
}

// projectNav loads {project} and places the page in it.
func (ui *uiCall) projectNav(project string, section string) (*projectBody, *navData, error) {
	var p projectBody
	if err := ui.api.get("/api/projects/"+url.PathEscape(project), &p); err != nil {
		return nil, nil, err
	}
	nav := &navData{ProjectID: p.ID, ProjectName: p.Name, OrgID: p.Organization, Section: section}
	for _, o := range ui.me.Organizations {
		if o.ID == p.Organization {
			nav.OrgName = o.Name
		}
	}
	return &p, nav, nil
}

func kindFromPath(r *http.Request) (access.Kind, error) {
	k, ok := access.KindFromPath(r.PathValue("kind"))
	if !ok {
		return 0, &apiError{Status: http.StatusNotFound}
	}
	return k, nil
}

// kindNav resolves the {project} and {kind} of a page's URL, with the
// navigation marking that kind's tab.
func (ui *uiCall) kindNav(r *http.Request) (access.Kind, *projectBody, *navData, error) {
	k, err := kindFromPath(r)
	if err != nil {
		return 0, nil, nil, err
	}
	p, nav, err := ui.projectNav(r.PathValue("project"), "project")
	if err != nil {
		return 0, nil, nil, err
	}
	nav.Kind = k.String()
	return k, p, nav, nil
}

func projectPath(p *projectBody, rest string) string {
	return "/projects/" + strconv.FormatInt(p.ID, 10) + rest
}

func apiProjectPath(p *projectBody, rest string) string {
	return "/api/projects/" + strconv.FormatInt(p.ID, 10) + rest
}

// objectPath is the UI path of an object: /projects/{p}/{kind}/{id}.
func objectPath(p *projectBody, k access.Kind, id string) string {
	return projectPath(p, "/"+k.String()+"/"+url.PathEscape(id))
}

type checkAnswer struct {
	Allowed bool   `json:"allowed"`
	Level   string `json:"access_level"`
	Source  string `json:"access_source"`
	Reason  string `json:"reason"`
}

type checkQuestion struct {
	Kind   string          `json:"kind"`
	ID     json.RawMessage `json:"id"`
	Action string          `json:"action"`
}

// why asks POST /api/projects/{p}/access/check why the caller may or may not
// act on each object: the API's own explanation, shown to the person.
func (ui *uiCall) why(p *projectBody, qs []checkQuestion) ([]checkAnswer, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	var out struct {
		Results []checkAnswer `json:"results"`
	}
	_, err := ui.api.call(http.MethodPost, apiProjectPath(p, "/access/check"), map[string]any{"checks": qs}, &out)
	if err != nil {
		return nil, err
	}
	if len(out.Results) != len(qs) {
		return nil, fmt.Errorf("access check answered %d results for %d checks", len(out.Results), len(qs))
	}
	return out.Results, nil
}

type objectRow struct {
	URL, Title, Subtitle string
	CanEdit              bool
	Level                string
	Reason               string
	CreatedBy            string
	Updated              time.Time
	Deleted              bool
}

type kindPage struct {
	Kind         kindTab
	Noun         string
	Rows         []objectRow
	Count        int
	First, Last  int
	Prev, Next   string
	CanCreate    bool
	CreateReason string
	NewURL       string
}

const uiPageSize = 50

// handleProjectPage serves GET /projects/{project}: its first tab.
// handleProjectsPage serves GET /projects: every organization of the user
// with the projects open to them, to switch between.
func (s *Server) handleProjectsPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderProjects(w, r, ui, http.StatusOK, "", nil)
}

// renderProjects shows the Projects page; fail, a refusal of creating a
// project in organization failOrg, shows on that organization's form.
func (s *Server) renderProjects(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, failOrg string, fail error) error {
	type orgProjects struct {
		orgSummary
		Projects  []projectBody
		CanCreate bool // admins and owners make projects
		Form      formState
	}
	var orgs []orgProjects
	for _, o := range ui.me.Organizations {
		projects, err := listAll[projectBody](ui.api, "/api/organizations/"+url.PathEscape(o.ID)+"/projects")
		if err != nil {
			return err
		}
		op := orgProjects{orgSummary: o, Projects: projects, CanCreate: access.IsAdmin(o.MembershipLevel)}
		if fail != nil && o.ID == failOrg {
			op.Form.Values = r.PostForm
			if err := op.Form.fail(fail); err != nil {
				return err
			}
			op.Form.only("name")
		}
		orgs = append(orgs, op)
	}
	s.render(w, r, ui, status, "projects", pageData{Title: "Projects", Content: struct{ Orgs []orgProjects }{orgs}})
	return nil
}

// handleProjectCreateSubmit serves POST /organizations/{org}/projects:
// creates the project in that organization and opens it.
func (s *Server) handleProjectCreateSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	org := r.PathValue("org")
	var p projectBody
	if _, err := ui.api.call(http.MethodPost, "/api/organizations/"+url.PathEscape(org)+"/projects", map[string]string{"name": r.PostForm.Get("name")}, &p); err != nil {
		if e, ok := asAPIError(err); ok && e.Status < 500 && e.Status != http.StatusNotFound {
			return s.renderProjects(w, r, ui, e.Status, org, err)
		}
		return err
	}
	s.redirect(w, r, projectPath(&p, "/"+access.FeatureFlags.String()), "Created project "+p.Name+".")
	return nil
}

func (s *Server) handleProjectPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, _, err := ui.projectNav(r.PathValue("project"), "project")
	if err != nil {
		return err
	}
	http.Redirect(w, r, projectPath(p, "/"+access.FeatureFlags.String()), http.StatusSeeOther)
	return nil
}

// handleKindPage serves GET /projects/{project}/{kind}: one tab of the
// project, listing the objects the caller can see, each marked "can edit"
// or "view only" as the API says, with the API's reason.
func (s *Server) handleKindPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	k, p, nav, err := ui.kindNav(r)
	if err != nil {
		return err
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	var list struct {
		Count   int         `json:"count"`
		Results []apiObject `json:"results"`
	}
	if err := ui.api.get(fmt.Sprintf("%s?limit=%d&offset=%d", apiProjectPath(p, "/"+k.String()), uiPageSize, offset), &list); err != nil {
		return err
	}
	page := kindPage{Kind: kindTab{Path: k.String(), Label: kindLabel(k)}, Noun: k.Noun(), Count: list.Count, NewURL: projectPath(p, "/new/"+k.String())}
	var qs []checkQuestion
	var qi []int
	for _, o := range list.Results {
		row := objectRow{
			URL: objectPath(p, k, o.id()), Title: o.title(k), Subtitle: o.subtitle(k),
			CanEdit: o.flag("can_edit"), Level: o.str("user_access_level"), CreatedBy: o.creator(), Updated: o.time("updated_at"),
			Deleted: o.flag("deleted"),
		}
		if !row.CanEdit {
			qs = append(qs, checkQuestion{Kind: k.String(), ID: o["id"], Action: "edit"})
			qi = append(qi, len(page.Rows))
		}
		page.Rows = append(page.Rows, row)
	}
	answers, err := ui.why(p, qs)
	if err != nil {
		return err
	}
	for i, a := range answers {
		page.Rows[qi[i]].Reason = a.Reason
	}
	if len(page.Rows) > 0 {
		page.First, page.Last = offset+1, offset+len(page.Rows)
	}
	base := projectPath(p, "/"+k.String())
	if offset > 0 {
		page.Prev = fmt.Sprintf("%s?offset=%d", base, max(0, offset-uiPageSize))
	}
	if offset+len(list.Results) < list.Count {
		page.Next = fmt.Sprintf("%s?offset=%d", base, offset+len(list.Results))
	}
	page.CanCreate, page.CreateReason, err = ui.may(http.MethodPost, apiProjectPath(p, "/"+k.String()))
	if err != nil {
		return err
	}
	s.render(w, r, ui, http.StatusOK, "kind", pageData{Title: kindLabel(k) + " · " + p.Name, Nav: nav, Content: page})
	return nil
}

// formField is one field of a create or edit form.
type formField struct {
	Name     string
	Label    string
	Input    string // "text", "textarea", "json", "checkbox" or "number"
	Value    string
	Checked  bool
	Required bool
	MaxLen   int
	Help     string
	Error    string
}

// Rows is a textarea's height: its text's, within bounds.
func (ff formField) Rows() int {
	n := strings.Count(ff.Value, "\n") + 1
	if ff.Input == "json" {
		return min(max(n, 4), 16)
	}
	return min(max(n, 3), 10)
}

type readField struct {
	Label, Value string
}

type objectPage struct {
	Kind     kindTab
	Noun     string
	Create   bool
	ID       string
	Title    string
	CanEdit  bool
	Level    string
	Reason   string
	Fields   []formField
	Info     []readField
	Form     formState
	Action   string
	Delete   string
	ListURL  string
	Deleted  bool
	Perms    *permissionsView
	NoCreate string // why the caller cannot create one
	// Request is "Request edit access" on a read-only object (or the caller's pending
	// request on it); nil when the API would refuse a request.
	Request *requestForm
}

var fieldHelp = map[string]string{
	"key":                "Letters, numbers, hyphens (-) and underscores (_).",
	"filters":            "JSON object.",
	"parameters":         "JSON object.",
	"query":              "JSON object, or empty for none.",
	"groups":             "JSON list.",
	"steps":              "JSON list.",
	"tiles":              "JSON list of insight ids.",
	"dashboards":         "JSON list of dashboard ids.",
	"start_date":         "Date and time (RFC 3339), or empty.",
	"end_date":           "Date and time (RFC 3339), or empty.",
	"start_time":         "Date and time (RFC 3339), or empty.",
	"end_time":           "Date and time (RFC 3339), or empty.",
	"recording_duration": "Seconds.",
}

func inputFor(f field) string {
	switch f.typ {
	case "boolean":
		return "checkbox"
	case "number":
		return "number"
	case "object", "array":
		return "json"
	}
	if f.name == "description" {
		return "textarea"
	}
	return "text"
}

func newFormField(f field) formField {
	ff := formField{Name: f.name, Label: fieldLabel(f.name), Input: inputFor(f), Required: f.required, MaxLen: f.maxLen, Help: fieldHelp[f.name]}
	if f.nullable && f.typ != "string" {
		ff.Help = strings.TrimSuffix(ff.Help, ".") + ", or empty for none."
	}
	return ff
}

// setRaw shows a JSON value in the field.
func (ff *formField) setRaw(raw json.RawMessage) {
	typ, null := jsonType(raw)
	switch {
	case null:
		ff.Value = ""
	case ff.Input == "checkbox":
		ff.Checked = string(raw) == "true"
	case typ == "string":
		_ = json.Unmarshal(raw, &ff.Value)
	case ff.Input == "json":
		ff.Value = prettyJSON(raw)
	default:
		ff.Value = string(raw)
	}
}

// formFields lays out kind k's fields with values from the object, the
// kind's defaults (create) or the submitted form (f not nil).
func (s *Server) formFields(k access.Kind, obj apiObject, create bool, f url.Values) []formField {
	fields := s.kinds.fieldsOf(k, create)
	out := make([]formField, 0, len(fields))
	for _, fd := range fields {
		ff := newFormField(fd)
		if fd.name == "id" {
			ff.Help = "Letters, numbers, hyphens (-) and underscores (_); leave empty to generate one."
		}
		switch {
		case f != nil && ff.Input == "checkbox":
			ff.Checked = f.Get(fd.name) == "true"
		case f != nil:
			ff.Value = f.Get(fd.name)
		case obj != nil:
			ff.setRaw(obj[fd.name])
		case fd.def != nil:
			ff.setRaw(fd.def)
		}
		out = append(out, ff)
	}
	return out
}

// fieldsOf is kind k's fields in its create (with the id, when the client
// may choose it) or edit form.
func (kf *kindForms) fieldsOf(k access.Kind, create bool) []field {
	form := &kf[k]
	if create && form.createID != nil {
		return append([]field{*form.createID}, form.fields...)
	}
	return form.fields
}

// resourceBody turns a submitted form into the API body. Only the form's
// own decoding (a number, JSON text) is checked here; the API validates
// the rest and its errors come back beside their fields.
func (s *Server) resourceBody(k access.Kind, f url.Values, create bool) (map[string]any, formState) {
	form := formState{Values: f}
	body := map[string]any{}
	for _, fd := range s.kinds.fieldsOf(k, create) {
		v := f.Get(fd.name)
		switch fd.typ {
		case "boolean":
			body[fd.name] = v == "true"
		case "number":
			v = strings.TrimSpace(v)
			if v == "" {
				if fd.nullable {
					body[fd.name] = nil
				} else if !create {
					form.set(fd.name, "Enter a number.")
				}
				continue
			}
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				form.set(fd.name, "Enter a number.")
				continue
			}
			body[fd.name] = json.RawMessage(v)
		case "object", "array":
			v = strings.TrimSpace(v)
			if v == "" {
				switch {
				case fd.nullable:
					body[fd.name] = nil
				case fd.typ == "object":
					body[fd.name] = json.RawMessage(`{}`)
				default:
					body[fd.name] = json.RawMessage(`[]`)
				}
				continue
			}
			if !json.Valid([]byte(v)) {
				want := "an object"
				if fd.typ == "array" {
					want = "a list"
				}
				form.set(fd.name, "Enter valid JSON ("+want+").")
				continue
			}
			body[fd.name] = json.RawMessage(v)
		default:
			if fd.name == "id" {
				if v = strings.TrimSpace(v); v != "" {
					body["id"] = v
				}
				continue
			}
			if v == "" && fd.nullable {
				body[fd.name] = nil
				continue
			}
			body[fd.name] = v
		}
	}
	return body, form
}

// loadObjectPage reads everything an object's page shows: the object with
// the caller's level, the reason when it is view only, and its permissions.
func (s *Server) loadObjectPage(r *http.Request, ui *uiCall) (*objectPage, *projectBody, *navData, apiObject, error) {
	k, p, nav, err := ui.kindNav(r)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	id := r.PathValue("id")
	var obj apiObject
	if err := ui.api.get(apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(id)), &obj); err != nil {
		return nil, nil, nil, nil, err
	}
	pg := &objectPage{
		Kind: kindTab{Path: k.String(), Label: kindLabel(k)}, Noun: k.Noun(), ID: obj.id(), Title: obj.title(k),
		CanEdit: obj.flag("can_edit"), Level: obj.str("user_access_level"), Deleted: obj.flag("deleted"),
		Fields: s.formFields(k, obj, false, nil), ListURL: projectPath(p, "/"+k.String()),
	}
	pg.Action = objectPath(p, k, pg.ID)
	pg.Delete = pg.Action + "/delete"
	if key := s.kinds[k].generated; key != "" {
		pg.Info = append(pg.Info, readField{fieldLabel(key), obj.str(key)})
	}
	if k == access.FeatureFlags {
		rollout := "—"
		if raw := obj["rollout_percentage"]; len(raw) > 0 && string(raw) != "null" {
			rollout = string(raw) + "%"
		}
		pg.Info = append(pg.Info, readField{"Rollout percentage", rollout})
	}
	if c := obj.creator(); c != "" {
		pg.Info = append(pg.Info, readField{"Created by", c})
	}
	pg.Info = append(pg.Info,
		readField{"Created", formatDate(obj.time("created_at"))},
		readField{"Updated", formatDate(obj.time("updated_at"))},
		readField{"Your access", levelLabel(pg.Level)})
	if !pg.CanEdit {
		ans, err := ui.why(p, []checkQuestion{{Kind: k.String(), ID: obj["id"], Action: "edit"}})
		if err != nil {
			return nil, nil, nil, nil, err
		}
		pg.Reason = ans[0].Reason
		if !pg.Deleted {
			if pg.Request, err = s.loadRequestForm(ui, p, k, pg.ID); err != nil {
				return nil, nil, nil, nil, err
			}
		}
	}
	if pg.Perms, err = s.loadPermissions(ui, p, k, obj); err != nil {
		return nil, nil, nil, nil, err
	}
	return pg, p, nav, obj, nil
}

// handleObjectPage serves GET /projects/{project}/{kind}/{id}.
func (s *Server) handleObjectPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	pg, _, nav, _, err := s.loadObjectPage(r, ui)
	if err != nil {
		return err
	}
	// A message from the Permissions panel is shown in the panel, which
	// is all that htmx swaps after the panel's forms.
	if msg, ok := strings.CutPrefix(ui.flash, "@"); ok {
		pg.Perms.Flash, ui.flash = msg, ""
	}
	s.render(w, r, ui, http.StatusOK, "object", pageData{Title: pg.Title + " · " + pg.Kind.Label, Nav: nav, Content: pg})
	return nil
}

// handleObjectSubmit serves POST /projects/{project}/{kind}/{id}: PATCH the object.
func (s *Server) handleObjectSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	pg, p, nav, _, err := s.loadObjectPage(r, ui)
	if err != nil {
		return err
	}
	k, _ := kindFromPath(r)
	body, form := s.resourceBody(k, r.PostForm, false)
	status := http.StatusBadRequest
	if !form.failed() {
		_, err := ui.api.call(http.MethodPatch, apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(pg.ID)), body, nil)
		if err == nil {
			s.redirect(w, r, pg.Action, "Saved "+k.Noun()+" "+pg.Title+".")
			return nil
		}
		if err := form.fail(err); err != nil {
			return err
		}
		status = apiStatus(err)
	}
	if status == http.StatusForbidden || !pg.CanEdit {
		// Refused, not invalid: nothing was saved, and a read-only form
		// cannot be corrected, so the page shows what is stored, read
		// again (the refusal may come of a change made since the form was
		// shown), with the reason. The submitted values would read as if
		// they had been saved.
		fresh, _, _, _, err := s.loadObjectPage(r, ui)
		if err != nil {
			return err
		}
		form.only()
		fresh.Form = formState{Error: form.Error}
		s.render(w, r, ui, status, "object", pageData{Title: fresh.Title + " · " + fresh.Kind.Label, Nav: nav, Content: fresh})
		return nil
	}
	pg.Form = form
	pg.Fields = withErrors(s.formFields(k, nil, false, r.PostForm), &pg.Form)
	s.render(w, r, ui, status, "object", pageData{Title: pg.Title + " · " + pg.Kind.Label, Nav: nav, Content: pg})
	return nil
}

// withErrors puts the form's field errors beside their fields; an error for
// a field the form does not show stays an error of the whole form.
func withErrors(fields []formField, form *formState) []formField {
	for attr, msg := range form.Fields {
		i := slices.IndexFunc(fields, func(f formField) bool { return f.Name == attr })
		if i < 0 {
			if form.Error == "" {
				form.Error = fieldLabel(attr) + ": " + msg
			}
			continue
		}
		fields[i].Error = msg
	}
	return fields
}

// handleObjectDelete serves POST /projects/{project}/{kind}/{id}/delete:
// PostHog soft-deletes flags (PATCH {"deleted": true}); other kinds DELETE.
func (s *Server) handleObjectDelete(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	k, p, _, err := ui.kindNav(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	path := apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(id))
	if k == access.FeatureFlags {
		_, err = ui.api.call(http.MethodPatch, path, map[string]any{"deleted": true}, nil)
	} else {
		_, err = ui.api.call(http.MethodDelete, path, nil, nil)
	}
	if e, ok := asAPIError(err); ok && e.Status < 500 && e.Status != http.StatusNotFound {
		s.redirect(w, r, objectPath(p, k, id), "!Not deleted: "+e.Detail)
		return nil
	}
	if err != nil {
		return err
	}
	s.redirect(w, r, projectPath(p, "/"+k.String()), "Deleted the "+k.Noun()+".")
	return nil
}

// handleNewObjectPage serves GET /projects/{project}/new/{kind}.
func (s *Server) handleNewObjectPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderNewObject(w, r, ui, nil, formState{}, http.StatusOK)
}

func (s *Server) renderNewObject(w http.ResponseWriter, r *http.Request, ui *uiCall, submitted url.Values, form formState, status int) error {
	k, p, nav, err := ui.kindNav(r)
	if err != nil {
		return err
	}
	pg := &objectPage{
		Kind: kindTab{Path: k.String(), Label: kindLabel(k)}, Noun: k.Noun(), Create: true, CanEdit: true,
		Title: "New " + k.Noun(), Action: projectPath(p, "/new/"+k.String()), ListURL: projectPath(p, "/"+k.String()),
		Form: form,
	}
	ok, why, err := ui.may(http.MethodPost, apiProjectPath(p, "/"+k.String()))
	if err != nil {
		return err
	}
	if !ok {
		pg.CanEdit, pg.NoCreate, status = false, why, http.StatusForbidden
	}
	pg.Fields = withErrors(s.formFields(k, nil, true, submitted), &pg.Form)
	s.render(w, r, ui, status, "object", pageData{Title: pg.Title, Nav: nav, Content: pg})
	return nil
}

// handleNewObjectSubmit serves POST /projects/{project}/new/{kind}: POST to the kind.
func (s *Server) handleNewObjectSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	k, p, _, err := ui.kindNav(r)
	if err != nil {
		return err
	}
	body, form := s.resourceBody(k, r.PostForm, true)
	if form.failed() {
		return s.renderNewObject(w, r, ui, r.PostForm, form, http.StatusBadRequest)
	}
	var created apiObject
	if _, err := ui.api.call(http.MethodPost, apiProjectPath(p, "/"+k.String()), body, &created); err != nil {
		if err := form.fail(err); err != nil {
			return err
		}
		return s.renderNewObject(w, r, ui, r.PostForm, form, apiStatus(err))
	}
	s.redirect(w, r, objectPath(p, k, created.id()), "Created "+k.Noun()+" "+created.title(k)+".")
	return nil
}

// permissionsView is an object's "Permissions" panel.
type permissionsView struct {
	Action         string // base path of the panel's forms
	CanManage      bool
	Reason         string // why the caller can't change them
	Enterprise     bool   // the plan lacks role-based access
	Roles          []grantView
	Members        []memberRuleView
	Everyone       string // level of a rule for everyone on the object, if any
	EveryoneExpiry string
	RoleChoices    []option
	MemberChoices  []option
	LevelChoices   []option
	Access         []userAccessView
	Form           formState
	RolesURL       string
	Flash          string // the result of the panel's last change
}

type grantView struct {
	ID, RoleName, Level string
}

type memberRuleView struct {
	MemberID, Name, Level string
	Expiry                string // "until …", or "" for a permanent rule
}

type userAccessView struct {
	Name, Level, Source string
}

type option struct {
	Value, Label string
	Selected     bool
}

// sourcePhrases say where a level comes from (users_with_access).
var sourcePhrases = map[string]string{
	"creator":              "created it",
	"organization_admin":   "organization admin",
	"project_admin":        "project admin",
	"explicit_member":      "a rule for this member",
	"explicit_role":        "a role given access to it",
	"object_default":       "its rule for everyone",
	"organization_default": "organization default",
	"role":                 "their role's level",
	"default":              "every member's default",
}

type roleAccessItem struct {
	ID     string `json:"id"`
	RoleID string `json:"role_id"`
	Role   struct {
		Name string `json:"name"`
	} `json:"role"`
}

// loadPermissions reads an object's rules (v1 role access and v2 access
// controls), whether the caller may change them, and who has access.
func (s *Server) loadPermissions(ui *uiCall, p *projectBody, k access.Kind, obj apiObject) (*permissionsView, error) {
	base := apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(obj.id()))
	grants, err := listAll[roleAccessItem](ui.api, base+"/role_access")
	if err != nil {
		return nil, err
	}
	var acl struct {
		AccessControls []accessControlBody `json:"access_controls"`
		Levels         []string            `json:"available_access_levels"`
		CanEdit        bool                `json:"user_can_edit_access_levels"`
	}
	if err := ui.api.get(base+"/access_controls", &acl); err != nil {
		return nil, err
	}
	org, roles, members, err := ui.orgPeople(p.Organization)
	if err != nil {
		return nil, err
	}
	var who struct {
		Users []userAccess `json:"users"`
	}
	if err := ui.api.get(base+"/users_with_access", &who); err != nil {
		return nil, err
	}
	pv := &permissionsView{
		Action: objectPath(p, k, obj.id()) + "/permissions", CanManage: acl.CanEdit,
		Enterprise: !slices.Contains(org.AvailableFeatures, license.FeatureRoleBasedAccess),
		RolesURL:   "/organizations/" + url.PathEscape(p.Organization) + "/access",
	}
	levels := map[string]string{}
	for _, ac := range acl.AccessControls {
		levels[ac.ID] = ac.AccessLevel
		switch {
		case ac.OrganizationMember != nil:
			name := *ac.OrganizationMember
			for _, m := range members {
				if m.ID == *ac.OrganizationMember {
					name = personName(m.User)
				}
			}
			pv.Members = append(pv.Members, memberRuleView{MemberID: *ac.OrganizationMember, Name: name, Level: ac.AccessLevel, Expiry: expiryLabel(ac.ExpiresAt)})
		case ac.Role == nil:
			pv.Everyone, pv.EveryoneExpiry = ac.AccessLevel, expiryLabel(ac.ExpiresAt)
		}
	}
	granted := map[string]bool{}
	for _, g := range grants {
		lvl := levels[g.ID]
		if lvl == "" {
			lvl = access.Editor.String()
		}
		pv.Roles = append(pv.Roles, grantView{ID: g.ID, RoleName: g.Role.Name, Level: lvl})
		granted[g.RoleID] = true
	}
	for _, rl := range roles {
		if !granted[rl.ID] {
			pv.RoleChoices = append(pv.RoleChoices, option{Value: rl.ID, Label: rl.Name})
		}
	}
	// "Everyone" sets the object's rule for every member no rule of their own
	// (or of their roles) reaches: "No access" makes the object private.
	pv.MemberChoices = append(pv.MemberChoices, option{Value: "everyone", Label: "Everyone"})
	for _, m := range members {
		pv.MemberChoices = append(pv.MemberChoices, option{Value: m.ID, Label: personName(m.User)})
	}
	for _, l := range acl.Levels {
		pv.LevelChoices = append(pv.LevelChoices, option{Value: l, Label: levelLabel(l), Selected: l == access.Editor.String()})
	}
	byUUID := map[string]*userBasic{}
	for _, m := range members {
		byUUID[m.User.UUID] = m.User
	}
	for _, u := range who.Users {
		name := u.UserID
		if b := byUUID[u.UserID]; b != nil {
			name = personName(b)
		}
		src := sourcePhrases[u.Source]
		if src == "" {
			src = u.Source
		}
		pv.Access = append(pv.Access, userAccessView{Name: name, Level: u.AccessLevel, Source: src})
	}
	if !pv.CanManage {
		switch {
		case pv.Enterprise:
			pv.Reason = "Per-object permissions are part of role-based access, an enterprise feature; on this plan every member can edit every " + k.Noun() + "."
		default:
			ans, err := ui.why(p, []checkQuestion{{Kind: k.String(), ID: obj["id"], Action: "manage"}})
			if err != nil {
				return nil, err
			}
			pv.Reason = "Only its creator, organization admins and members given Manage can change who may edit this " + k.Noun() + ". Your access: " + ans[0].Reason + "."
		}
	}
	return pv, nil
}

// renderPermissionsError shows the object page again with the API's
// refusal in its Permissions panel.
func (s *Server) renderPermissionsError(w http.ResponseWriter, r *http.Request, ui *uiCall, err error) error {
	e, ok := asAPIError(err)
	if !ok || e.Status >= 500 {
		return err
	}
	pg, _, nav, _, lerr := s.loadObjectPage(r, ui)
	if lerr != nil {
		return lerr
	}
	pg.Perms.Form.set(e.attr(), e.Detail)
	pg.Perms.Form.only()
	s.render(w, r, ui, e.Status, "object", pageData{Title: pg.Title + " · " + pg.Kind.Label, Nav: nav, Content: pg})
	return nil
}

// objectAPIPath is the API path of the page's object.
func (ui *uiCall) objectAPIPath(r *http.Request) (*projectBody, access.Kind, string, error) {
	k, p, _, err := ui.kindNav(r)
	if err != nil {
		return nil, 0, "", err
	}
	return p, k, apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(r.PathValue("id"))), nil
}

// handleRoleGrantSubmit serves POST /projects/{project}/{kind}/{id}/permissions/roles:
// POST …/role_access, the role may edit this object.
func (s *Server) handleRoleGrantSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, k, path, err := ui.objectAPIPath(r)
	if err != nil {
		return err
	}
	// A v1 grant is an object rule for the role at editor: its preview is that rule's.
	preview := previewCall{path + "/access_controls/preview", map[string]any{"access_level": access.Editor.String(), "role": r.PostForm.Get("role_id")}}
	if shown, err := s.confirmFirst(w, r, ui, "Let the role edit this "+k.Noun()+".", objectPath(p, k, r.PathValue("id"))+"#permissions", preview); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodPost, path+"/role_access", map[string]string{"role_id": r.PostForm.Get("role_id")}, nil); err != nil {
		return s.renderPermissionsError(w, r, ui, err)
	}
	s.redirect(w, r, objectPath(p, k, r.PathValue("id"))+"#permissions", "@Role added.")
	return nil
}

// handleRoleGrantDelete serves POST /projects/{project}/{kind}/{id}/permissions/roles/{grant}/delete.
func (s *Server) handleRoleGrantDelete(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, k, path, err := ui.objectAPIPath(r)
	if err != nil {
		return err
	}
	var g roleAccessItem
	if err := ui.api.get(path+"/role_access/"+url.PathEscape(r.PathValue("grant")), &g); err != nil {
		return s.renderPermissionsError(w, r, ui, err)
	}
	preview := previewCall{path + "/access_controls/preview", map[string]any{"access_level": nil, "role": g.RoleID}}
	if shown, err := s.confirmFirst(w, r, ui, "Remove role "+g.Role.Name+" from this "+k.Noun()+".", objectPath(p, k, r.PathValue("id"))+"#permissions", preview); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodDelete, path+"/role_access/"+url.PathEscape(r.PathValue("grant")), nil, nil); err != nil {
		return s.renderPermissionsError(w, r, ui, err)
	}
	s.redirect(w, r, objectPath(p, k, r.PathValue("id"))+"#permissions", "@Role removed.")
	return nil
}

// handleMemberRuleSubmit serves POST /projects/{project}/{kind}/{id}/permissions/members:
// PUT …/access_controls for one member.
func (s *Server) handleMemberRuleSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, k, path, err := ui.objectAPIPath(r)
	if err != nil {
		return err
	}
	body := map[string]any{"access_level": r.PostForm.Get("access_level")}
	who := "everyone"
	if m := r.PostForm.Get("organization_member"); m != "everyone" {
		body["organization_member"], who = m, "this member"
	}
	at, ok := expiresAt(r.PostForm, s.now())
	if !ok {
		return s.renderPermissionsError(w, r, ui, &apiError{Status: http.StatusBadRequest, errorBody: errorBody{Detail: "Choose when the rule ends."}})
	}
	if at != "" {
		body["expires_at"] = at
	}
	page := objectPath(p, k, r.PathValue("id"))
	what := "Set \u201c" + levelLabel(r.PostForm.Get("access_level")) + "\u201d on this " + k.Noun() + " for " + who + "."
	if shown, err := s.confirmFirst(w, r, ui, what, page+"#permissions", previewCall{path + "/access_controls/preview", body}); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodPut, path+"/access_controls", body, nil); err != nil {
		return s.renderPermissionsError(w, r, ui, err)
	}
	s.redirect(w, r, page+"#permissions", "@Access saved.")
	return nil
}

// handleMemberRuleDelete serves POST /projects/{project}/{kind}/{id}/permissions/members/{member}/delete:
// PUT …/access_controls with access_level null.
func (s *Server) handleMemberRuleDelete(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, k, path, err := ui.objectAPIPath(r)
	if err != nil {
		return err
	}
	body := map[string]any{"organization_member": r.PathValue("member"), "access_level": nil}
	if r.PathValue("member") == "everyone" {
		delete(body, "organization_member")
	}
	page := objectPath(p, k, r.PathValue("id"))
	if shown, err := s.confirmFirst(w, r, ui, "Remove the rule.", page+"#permissions", previewCall{path + "/access_controls/preview", body}); shown || err != nil {
		return err
	}
	if _, err := ui.api.call(http.MethodPut, path+"/access_controls", body, nil); err != nil {
		return s.renderPermissionsError(w, r, ui, err)
	}
	s.redirect(w, r, objectPath(p, k, r.PathValue("id"))+"#permissions", "@Member rule removed.")
	return nil
}
