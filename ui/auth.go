package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// formState is a submitted form shown again: its values and the API's
// errors, by field (the error's attr) or for the whole form.
type formState struct {
	Values url.Values
	Error  string
	Fields map[string]string
}

// Get is the submitted value of name.
func (f formState) Get(name string) string { return f.Values.Get(name) }

// Err is the error to show beside field name.
func (f formState) Err(name string) string { return f.Fields[name] }

// fail takes an API refusal (4xx) into the form, so the page can render
// it beside the field it names; anything else is returned.
func (f *formState) fail(err error) error {
	e, ok := asAPIError(err)
	if !ok || e.Status >= 500 {
		return err
	}
	f.set(e.attr(), e.Detail)
	return nil
}

func (f *formState) set(attr, msg string) {
	if attr == "" {
		f.Error = msg
		return
	}
	if f.Fields == nil {
		f.Fields = map[string]string{}
	}
	f.Fields[attr] = msg
}

// only keeps the field errors of the fields a form shows; the others
// become the form's error, so that no message is lost.
func (f *formState) only(fields ...string) {
	for attr, msg := range f.Fields {
		if !slices.Contains(fields, attr) {
			delete(f.Fields, attr)
			if f.Error == "" {
				f.Error = msg
			}
		}
	}
}

// failed reports whether the form has an error to show.
func (f *formState) failed() bool { return f.Error != "" || len(f.Fields) > 0 }

// passCookies hands the session cookie the API set on to the browser.
func passCookies(w http.ResponseWriter, h http.Header) {
	for _, v := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", v)
	}
}

// teamID is the current project's id, 0 for none.
func (me *meBody) teamID() int64 {
	if me == nil || me.Team == nil {
		return 0
	}
	switch id := me.Team.ID.(type) {
	case float64:
		return int64(id)
	case int64:
		return id
	}
	return 0
}

// handleHomePage serves GET /: the current project, or a list of organizations.
func (s *Server) handleHomePage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	if id := ui.me.teamID(); id != 0 {
		http.Redirect(w, r, fmt.Sprintf("/projects/%d/feature_flags", id), http.StatusSeeOther)
		return nil
	}
	// No project open: the list of projects to open one from.
	return s.handleProjectsPage(w, r, ui)
}

type loginPage struct {
	Next string
	Form formState
	// SignupOpen: the API takes a new account, so the page links to signup.
	SignupOpen bool
	// SSO is the single sign-on the instance offers, nil for none.
	SSO *ssoProvider
}

// ssoProvider is the API's answer for single sign-on (GET /api/login/providers).
type ssoProvider struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
	// Href starts it and comes back to the page's next.
	Href string `json:"-"`
}

// ssoErrors are what the login page says when a sign-in through the provider
// came back refused (its sso_error parameter).
var ssoErrors = map[string]string{
	"no_account":       "No account exists for your email address, and your organization does not create accounts at sign-in. Ask an admin of your organization for an invite.",
	"email_unverified": "Your identity provider did not confirm your email address, so it cannot sign you in here. Ask your identity provider's administrator to verify it.",
	"disabled":         "Your account is disabled: it belongs to no organization any more. Ask an admin of your organization for an invite.",
	"expired":          "This sign-in expired or was already used. Start again.",
	"failed":           "Single sign-on did not succeed. Try again; if it keeps failing, tell your administrator.",
}

// loginPageFor is the login page's content: the instance's sign-in options
// around form.
func (ui *uiCall) loginPageFor(next string, form formState) (loginPage, error) {
	open, err := ui.signupOpen()
	if err != nil {
		return loginPage{}, err
	}
	sso, err := ui.ssoFor(next)
	if err != nil {
		return loginPage{}, err
	}
	return loginPage{Next: next, Form: form, SignupOpen: open, SSO: sso}, nil
}

// signupOpen asks the API whether it takes a new account now (GET
// /api/signup), so that pages say so before a form it would refuse.
func (ui *uiCall) signupOpen() (bool, error) {
	var st struct {
		Open bool `json:"open"`
	}
	if err := ui.api.get("/api/signup", &st); err != nil {
		return false, err
	}
	return st.Open, nil
}

// handleLoginPage serves GET /login.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	next := safeNext(r.URL.Query().Get("next"))
	if ui.me != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	var form formState
	status := http.StatusOK
	if code := r.URL.Query().Get("sso_error"); code != "" {
		msg, ok := ssoErrors[code]
		if !ok {
			msg = ssoErrors["failed"]
		}
		form.set("", msg)
		status = http.StatusUnauthorized
	}
	page, err := ui.loginPageFor(next, form)
	if err != nil {
		return err
	}
	s.render(w, r, ui, status, "login", pageData{Title: "Log in", Content: page})
	return nil
}

// handleLoginSubmit serves POST /login through POST /api/login.
func (s *Server) handleLoginSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	next := safeNext(r.PostForm.Get("next"))
	form := formState{Values: r.PostForm}
	h, err := ui.api.call(http.MethodPost, "/api/login", map[string]string{
		"email": strings.TrimSpace(r.PostForm.Get("email")), "password": r.PostForm.Get("password"),
	}, nil)
	if err != nil {
		if err := form.fail(err); err != nil {
			return err
		}
		form.Values.Del("password")
		form.only("email", "password")
		page, perr := ui.loginPageFor(next, form)
		if perr != nil {
			return perr
		}
		s.render(w, r, ui, http.StatusUnauthorized, "login", pageData{Title: "Log in", Content: page})
		return nil
	}
	passCookies(w, h)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// handleLogoutSubmit serves POST /logout through POST /api/logout.
func (s *Server) handleLogoutSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	h, err := ui.api.call(http.MethodPost, "/api/logout", nil, nil)
	if err != nil {
		return err
	}
	passCookies(w, h)
	s.redirect(w, r, "/login", "You are logged out.")
	return nil
}

type signupPage struct {
	Form formState
	// Closed: the API takes no new account, so the page explains instead
	// of showing a form it would refuse.
	Closed bool
}

// handleSignupPage serves GET /signup: the instance's first account (or
// anyone's, when the server runs with --open-signup).
func (s *Server) handleSignupPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	if ui.me != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	open, err := ui.signupOpen()
	if err != nil {
		return err
	}
	s.render(w, r, ui, http.StatusOK, "signup", pageData{Title: "Create an account", Content: signupPage{Closed: !open}})
	return nil
}

// handleSignupSubmit serves POST /signup through POST /api/signup.
func (s *Server) handleSignupSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	f := r.PostForm
	form := formState{Values: f}
	h, err := ui.api.call(http.MethodPost, "/api/signup", map[string]string{
		"email": strings.TrimSpace(f.Get("email")), "password": f.Get("password"),
		"first_name": f.Get("first_name"), "organization_name": f.Get("organization_name"),
	}, nil)
	if err != nil {
		if err := form.fail(err); err != nil {
			return err
		}
		form.Values.Del("password")
		form.only("email", "password", "first_name", "organization_name")
		// Signup may have closed since the form was shown: then the page
		// explains that, with the API's refusal, instead of the form.
		open, oerr := ui.signupOpen()
		if oerr != nil {
			return oerr
		}
		s.render(w, r, ui, apiStatus(err), "signup", pageData{Title: "Create an account", Content: signupPage{Form: form, Closed: !open}})
		return nil
	}
	passCookies(w, h)
	s.redirect(w, r, "/", "Welcome to Gatehouse.")
	return nil
}

type invitePage struct {
	ID   string
	Form formState
	// SSO, when the instance has it, accepts the invite by signing in
	// through the provider (the way in where passwords are refused).
	SSO *ssoProvider
}

// ssoFor asks the API for its single sign-on, starting at it and coming
// back to next; nil for none.
func (ui *uiCall) ssoFor(next string) (*ssoProvider, error) {
	var providers struct {
		OIDC *ssoProvider `json:"oidc"`
	}
	if err := ui.api.get("/api/login/providers", &providers); err != nil {
		return nil, err
	}
	if p := providers.OIDC; p != nil {
		p.Href = p.LoginURL + "?next=" + url.QueryEscape(next)
	}
	return providers.OIDC, nil
}

// handleInvitePage serves GET /invite/{id}. The API has no public read of
// an invite, so the page does not know whether it is valid until it is used.
func (s *Server) handleInvitePage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	id := r.PathValue("id")
	sso, err := ui.ssoFor("/invite/" + url.PathEscape(id))
	if err != nil {
		return err
	}
	s.render(w, r, ui, http.StatusOK, "invite", pageData{Title: "Join an organization", Content: invitePage{ID: id, SSO: sso}})
	return nil
}

// handleInviteSubmit serves POST /invite/{id} through POST /api/signup/{id}:
// a new user signs up, or the signed-in user joins.
func (s *Server) handleInviteSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	id := r.PathValue("id")
	form := formState{Values: r.PostForm}
	body := map[string]string{}
	if ui.me == nil {
		body["first_name"] = r.PostForm.Get("first_name")
		body["password"] = r.PostForm.Get("password")
	}
	var me meBody
	h, err := ui.api.call(http.MethodPost, "/api/signup/"+url.PathEscape(id), body, &me)
	if err != nil {
		if apiStatus(err) == http.StatusNotFound {
			form.set("", "This invite does not exist: it may have been used or revoked. Ask an admin of the organization for a new one.")
		} else if err := form.fail(err); err != nil {
			return err
		}
		form.Values.Del("password")
		form.only("first_name", "password")
		sso, serr := ui.ssoFor("/invite/" + url.PathEscape(id))
		if serr != nil {
			return serr
		}
		s.render(w, r, ui, apiStatus(err), "invite", pageData{Title: "Join an organization", Content: invitePage{ID: id, Form: form, SSO: sso}})
		return nil
	}
	passCookies(w, h)
	msg := "Welcome!"
	if me.Organization != nil {
		msg = "Welcome to " + me.Organization.Name + "!"
	}
	s.redirect(w, r, "/", msg)
	return nil
}
