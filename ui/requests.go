package ui

// Access requests in the pages: "Request edit access" where a viewer meets a read-only
// object, the project's requests page for those who decide them and for requesters, and
// the pending count in the header. The API decides who may do what; each request it
// answers says whether the reader may decide or cancel it.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// accessRequestBody is an access request as the API answers it.
type accessRequestBody struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	RequestedBy     *userBasic `json:"requested_by"`
	AccessLevel     string     `json:"access_level"`
	Reason          string     `json:"reason"`
	DurationSeconds *int64     `json:"duration_seconds"`
	Resource        string     `json:"resource"`
	ResourceID      *string    `json:"resource_id"`
	CreatedAt       time.Time  `json:"created_at"`
	DecidedBy       *userBasic `json:"decided_by"`
	DecidedAt       *time.Time `json:"decided_at"`
	DecisionReason  string     `json:"decision_reason"`
	AccessControl   *struct {
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"access_control"`
	CanDecide bool `json:"can_decide"`
	CanCancel bool `json:"can_cancel"`
}

// durations are the choices of how long access lasts, "" for permanent.
var durations = []struct{ Value, Label string }{
	{"3600", "1 hour"}, {"28800", "8 hours"}, {"86400", "1 day"}, {"604800", "7 days"}, {"", "Permanent"},
}

// durationLabel says a number of seconds the way the choices do.
func durationLabel(seconds *int64) string {
	if seconds == nil {
		return "permanently"
	}
	for _, d := range durations {
		if d.Value == strconv.FormatInt(*seconds, 10) {
			return "for " + d.Label
		}
	}
	return "for " + (time.Duration(*seconds) * time.Second).String()
}

// requestForm is the "Request edit access" form of a read-only object page, or the
// caller's pending request on it.
type requestForm struct {
	Action    string
	Durations []option
	Pending   *requestRow
}

// requestRow is one request as the pages show it.
type requestRow struct {
	ID, Who, What, Link, Level, Reason, Duration, Status, Decision string
	Approve, Deny, Cancel                                          string // form actions; "" when not offered
	Levels, Durations                                              []option
}

// loadRequestForm offers "Request edit access" on a read-only object, unless the API
// would refuse the request (the free plan), or shows the caller's pending one.
func (s *Server) loadRequestForm(ui *uiCall, p *projectBody, k access.Kind, id string) (*requestForm, error) {
	api := apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(id)+"/access_requests")
	ok, _, err := ui.may(http.MethodPost, api)
	if err != nil || !ok {
		return nil, err
	}
	f := &requestForm{Action: objectPath(p, k, id) + "/request"}
	mine, err := listAll[accessRequestBody](ui.api, apiProjectPath(p, "/access_requests?mine=true&status=pending"))
	if err != nil {
		return nil, err
	}
	for _, rq := range mine {
		if rq.Resource == k.Singular() && rq.ResourceID != nil && *rq.ResourceID == id {
			row := requestRowOf(p, rq)
			f.Pending = &row
			return f, nil
		}
	}
	for i, d := range durations {
		f.Durations = append(f.Durations, option{Value: d.Value, Label: d.Label, Selected: i == 0})
	}
	return f, nil
}

func requestRowOf(p *projectBody, rq accessRequestBody) requestRow {
	row := requestRow{ID: rq.ID, Level: levelLabel(rq.AccessLevel), Reason: rq.Reason, Duration: durationLabel(rq.DurationSeconds), Status: rq.Status}
	if rq.RequestedBy != nil {
		row.Who = personLabel(rq.RequestedBy)
	}
	if k, ok := access.KindFromSingular(rq.Resource); ok {
		row.What = "all " + kindLabel(k) + " in this project"
		row.Link = projectPath(p, "/"+k.String())
		if rq.ResourceID != nil {
			row.What, row.Link = k.Noun()+" "+*rq.ResourceID, objectPath(p, k, *rq.ResourceID)
		}
	}
	switch rq.Status {
	case "approved":
		row.Decision = "Approved"
		if rq.AccessControl != nil && rq.AccessControl.ExpiresAt != nil {
			row.Decision += " until " + formatDate(*rq.AccessControl.ExpiresAt)
		}
	case "denied":
		row.Decision = "Denied: " + rq.DecisionReason
	case "cancelled":
		row.Decision = "Cancelled"
	}
	if rq.DecidedBy != nil && rq.Status != "cancelled" {
		row.Decision += " (by " + personLabel(rq.DecidedBy) + ")"
	}
	base := projectPath(p, "/access_requests/"+url.PathEscape(rq.ID))
	if rq.CanDecide {
		row.Approve, row.Deny = base+"/approve", base+"/deny"
		asked, _ := access.ParseLevel(rq.AccessLevel)
		for _, l := range access.ApprovableLevels(asked) {
			row.Levels = append(row.Levels, option{Value: l.String(), Label: levelLabel(l.String()), Selected: l == asked})
		}
		if rq.DurationSeconds != nil {
			row.Durations = append(row.Durations, option{Value: "asked", Label: "As asked, " + durationLabel(rq.DurationSeconds), Selected: true})
		}
		for _, d := range durations {
			row.Durations = append(row.Durations, option{Value: d.Value, Label: d.Label})
		}
		if rq.DurationSeconds == nil {
			row.Durations[0].Selected = true
		}
	}
	if rq.CanCancel {
		row.Cancel = base + "/cancel"
	}
	return row
}

func personLabel(u *userBasic) string {
	if u.FirstName == "" {
		return u.Email
	}
	return u.FirstName + " (" + u.Email + ")"
}

// handleRequestSubmit serves POST /projects/{project}/{kind}/{id}/request: asks for edit
// access on the object, for the chosen time.
func (s *Server) handleRequestSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	k, p, _, err := ui.kindNav(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	body := map[string]any{"access_level": "editor", "reason": r.PostForm.Get("reason")}
	if d := r.PostForm.Get("duration_seconds"); d != "" {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			s.redirect(w, r, objectPath(p, k, id), "!Not sent: choose how long you need access.")
			return nil
		}
		body["duration_seconds"] = n
	}
	_, err = ui.api.call(http.MethodPost, apiProjectPath(p, "/"+k.String()+"/"+url.PathEscape(id)+"/access_requests"), body, nil)
	if e, ok := asAPIError(err); ok && e.Status < 500 && e.Status != http.StatusNotFound {
		msg := e.Detail
		if a := e.attr(); a != "" {
			msg = fieldLabel(a) + ": " + msg
		}
		s.redirect(w, r, objectPath(p, k, id), "!Request not sent. "+msg)
		return nil
	}
	if err != nil {
		return err
	}
	s.redirect(w, r, objectPath(p, k, id), "Request sent: you'll be able to edit once someone who manages this "+k.Noun()+" approves it.")
	return nil
}

// requestsPage is the project's access requests: those the reader may decide, and their own.
type requestsPage struct {
	ToDecide []requestRow
	Mine     []requestRow
	Decided  []requestRow
}

// handleRequestsPage serves GET /projects/{project}/access_requests.
func (s *Server) handleRequestsPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	p, nav, err := ui.projectNav(r.PathValue("project"), "requests")
	if err != nil {
		return err
	}
	all, err := listAll[accessRequestBody](ui.api, apiProjectPath(p, "/access_requests"))
	if err != nil {
		return err
	}
	pg := &requestsPage{}
	for _, rq := range all {
		row := requestRowOf(p, rq)
		switch {
		case rq.CanDecide:
			pg.ToDecide = append(pg.ToDecide, row)
		case rq.RequestedBy != nil && ui.me != nil && rq.RequestedBy.UUID == ui.me.UUID:
			pg.Mine = append(pg.Mine, row)
		case rq.Status != "pending":
			pg.Decided = append(pg.Decided, row)
		}
	}
	s.render(w, r, ui, http.StatusOK, "requests", pageData{Title: "Access requests · " + p.Name, Nav: nav, Content: pg})
	return nil
}

// decide posts one decision about a request and comes back to the requests page.
// back is where to go after it, "" for the requests page.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, ui *uiCall, verb string, body map[string]any, done, back string) error {
	p, _, err := ui.projectNav(r.PathValue("project"), "requests")
	if err != nil {
		return err
	}
	if back == "" {
		back = projectPath(p, "/access_requests")
	}
	_, err = ui.api.call(http.MethodPost, apiProjectPath(p, "/access_requests/"+url.PathEscape(r.PathValue("id"))+"/"+verb), body, nil)
	if e, ok := asAPIError(err); ok && e.Status < 500 {
		msg := e.Detail
		if a := e.attr(); a != "" {
			msg = fieldLabel(a) + ": " + msg
		}
		s.redirect(w, r, back, "!Not done. "+msg)
		return nil
	}
	if err != nil {
		return err
	}
	s.redirect(w, r, back, done)
	return nil
}

// handleApproveSubmit serves POST /projects/{project}/access_requests/{id}/approve.
func (s *Server) handleApproveSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	body := map[string]any{"access_level": r.PostForm.Get("access_level")}
	switch d := r.PostForm.Get("duration_seconds"); d {
	case "asked":
	case "":
		body["permanent"] = true
	default:
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			n = 0 // the API refuses it, with its reason
		}
		body["duration_seconds"] = n
	}
	return s.decide(w, r, ui, "approve", body, "Request approved.", "")
}

// handleDenySubmit serves POST /projects/{project}/access_requests/{id}/deny.
func (s *Server) handleDenySubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.decide(w, r, ui, "deny", map[string]any{"reason": r.PostForm.Get("reason")}, "Request denied.", "")
}

// handleCancelSubmit serves POST /projects/{project}/access_requests/{id}/cancel; a cancel
// from the object's page comes back to it (next, a path of this site).
func (s *Server) handleCancelSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	back := r.PostForm.Get("next")
	if u, err := url.Parse(back); err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(back, "/projects/") {
		back = ""
	}
	return s.decide(w, r, ui, "cancel", nil, "Request cancelled.", back)
}

// pendingCount is how many pending requests the caller may decide in project, for the
// header: "" when none, or when it cannot be told.
func (ui *uiCall) pendingCount(project int64) string {
	var page struct {
		Results []accessRequestBody `json:"results"`
		Next    *string             `json:"next"`
	}
	if err := ui.api.get(fmt.Sprintf("/api/projects/%d/access_requests?status=pending&limit=100", project), &page); err != nil {
		return ""
	}
	n := 0
	for _, rq := range page.Results {
		if rq.CanDecide {
			n++
		}
	}
	switch {
	case n == 0:
		return ""
	case page.Next != nil:
		return strconv.Itoa(n) + "+"
	}
	return strconv.Itoa(n)
}
