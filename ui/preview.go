package ui

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// Before a form changes anyone's access, it shows whom the change reaches:
// the form's handler asks the API's preview of the write it is about to
// make and, unless the post is the confirmation (confirm=1), renders that
// answer with a button that posts the same form again, confirmed. A change
// that alters nobody's level is saved at once.

// previewAnswer is the API's answer to a preview.
type previewAnswer struct {
	Changes []struct {
		User struct {
			UUID      string `json:"uuid"`
			Email     string `json:"email"`
			FirstName string `json:"first_name"`
		} `json:"user"`
		Resource     string  `json:"resource"`
		ResourceID   *string `json:"resource_id"`
		ProjectID    int64   `json:"project_id"`
		Before       string  `json:"before"`
		After        string  `json:"after"`
		SourceBefore string  `json:"source_before"`
		SourceAfter  string  `json:"source_after"`
	} `json:"changes"`
	Gaining int `json:"gaining"`
	Losing  int `json:"losing"`
}

// previewCall is one preview the page asks for: the API path and the body of
// the write it previews.
type previewCall struct {
	path string
	body any
}

// previewPage is the confirmation page.
type previewPage struct {
	What            string // the change, in words
	Lines           []previewLine
	Gaining, Losing int
	Action          string        // where the form posts
	Fields          []hiddenField // the form as sent
	Back            string        // cancel
}

type previewLine struct {
	Name, Email, Subject      string
	Before, After             string
	SourceBefore, SourceAfter string
	Gains                     bool
}

// confirmFirst shows the confirmation page for r's form and reports true,
// unless r confirms it already or the previews change nobody's level. A
// preview the API refuses is left for the write itself to answer, with the
// same error. what says what the form changes; back is where Cancel goes.
func (s *Server) confirmFirst(w http.ResponseWriter, r *http.Request, ui *uiCall, what, back string, calls ...previewCall) (bool, error) {
	if r.PostForm.Get("confirm") == "1" {
		return false, nil
	}
	pg := previewPage{What: what, Action: r.URL.Path, Back: back}
	for _, c := range calls {
		var ans previewAnswer
		if _, err := ui.api.call(http.MethodPost, c.path, c.body, &ans); err != nil {
			if _, ok := asAPIError(err); ok {
				return false, nil
			}
			return false, err
		}
		pg.Gaining += ans.Gaining
		pg.Losing += ans.Losing
		for _, ch := range ans.Changes {
			name := ch.User.FirstName
			if name == "" {
				name = ch.User.Email
			}
			pg.Lines = append(pg.Lines, previewLine{
				Name: name, Email: ch.User.Email, Subject: previewSubject(ch.Resource, ch.ResourceID),
				Before: ch.Before, After: ch.After,
				SourceBefore: sourcePhrase(ch.SourceBefore), SourceAfter: sourcePhrase(ch.SourceAfter),
				Gains: levelRank(ch.After) > levelRank(ch.Before),
			})
		}
	}
	if len(pg.Lines) == 0 {
		return false, nil
	}
	for name, vs := range r.PostForm {
		if name == "confirm" {
			continue
		}
		for _, v := range vs {
			pg.Fields = append(pg.Fields, hiddenField{Name: name, Value: v})
		}
	}
	if r.Header.Get("HX-Request") != "" {
		// The form was sent from a panel htmx swaps: the confirmation takes
		// the whole page instead.
		w.Header().Set("HX-Retarget", "#main")
		w.Header().Set("HX-Reselect", "#main")
		w.Header().Set("HX-Reswap", "outerHTML")
	}
	s.render(w, r, ui, http.StatusOK, "preview", pageData{Title: "Confirm the change", Nav: nil, Content: pg})
	return true, nil
}

// previewSubject names what a change is on: an object, or a whole kind.
func previewSubject(resource string, id *string) string {
	k, ok := access.KindFromSingular(resource)
	if !ok {
		return resource
	}
	if id == nil {
		return kindLabel(k) + " (those without rules of their own)"
	}
	return capitalize(k.Noun()) + " " + *id
}

func sourcePhrase(source string) string {
	switch source {
	case "organization", "project":
		return "no access to the " + source
	}
	if p, ok := sourcePhrases[source]; ok {
		return p
	}
	return source
}

func levelRank(l string) int {
	l2, _ := access.ParseLevel(l)
	return int(l2)
}

// expiryChoices are the durations a rule form offers; "" is permanent.
var expiryChoices = []option{
	{Value: "", Label: "Never", Selected: true},
	{Value: "1h", Label: "In 1 hour"},
	{Value: "8h", Label: "In 8 hours"},
	{Value: "24h", Label: "In 1 day"},
	{Value: "168h", Label: "In 7 days"},
}

// expiresAt reads a rule form's expiry: a duration from expiryChoices
// ("expires_in") or a date ("expires_on", the end of that day, UTC). ok is
// false for a value the form never offers; "" means permanent.
func expiresAt(form url.Values, now time.Time) (at string, ok bool) {
	if on := form.Get("expires_on"); on != "" {
		d, err := time.Parse(time.DateOnly, on)
		if err != nil {
			return "", false
		}
		return d.Add(24*time.Hour - time.Second).Format(time.RFC3339), true
	}
	in := form.Get("expires_in")
	if in == "" {
		return "", true
	}
	for _, c := range expiryChoices {
		if c.Value == in {
			d, _ := time.ParseDuration(in)
			return now.Add(d).UTC().Format(time.RFC3339), true
		}
	}
	return "", false
}

// expiryLabel shows a rule's expiry in a list; "" for a permanent rule.
func expiryLabel(t *time.Time) string {
	if t == nil {
		return ""
	}
	return "until " + formatDate(*t)
}
