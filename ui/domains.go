package ui

// The organization's domains tab: add and verify domains, set JIT provisioning, SSO
// enforcement and SCIM, and make a SCIM token, which is shown on the answer to its form
// and never again.

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

type domainBody struct {
	ID                     string     `json:"id"`
	Domain                 string     `json:"domain"`
	IsVerified             bool       `json:"is_verified"`
	VerifiedAt             *time.Time `json:"verified_at"`
	JITProvisioningEnabled bool       `json:"jit_provisioning_enabled"`
	SSOEnforcement         string     `json:"sso_enforcement"`
	SCIMEnabled            bool       `json:"scim_enabled"`
	SCIMBaseURL            *string    `json:"scim_base_url"`
	HasOIDC                bool       `json:"has_oidc"`
}

type domainsPage struct {
	Org       *orgBody
	Action    string
	CanSee    bool
	CanManage bool
	CanVerify bool
	Reason    string
	Domains   []domainView
	Form      formState // adding a domain
	// Token is a SCIM token just made for the domain TokenFor, shown this once.
	Token, TokenFor string
}

type domainView struct {
	domainBody
	Error string
}

func (s *Server) loadDomainsPage(r *http.Request, ui *uiCall) (*domainsPage, *navData, error) {
	o, nav, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return nil, nil, err
	}
	pg := &domainsPage{Org: o, Action: orgPath(o, "/domains")}
	var why string
	if pg.CanSee, why, err = ui.may(http.MethodGet, apiOrgPath(o, "/domains")); err != nil {
		return nil, nil, err
	}
	if !pg.CanSee {
		pg.Reason = why
		return pg, nav, nil
	}
	if pg.CanManage, pg.Reason, err = ui.may(http.MethodPost, apiOrgPath(o, "/domains")); err != nil {
		return nil, nil, err
	}
	// Verifying is the owners'; the id is the route's, any will do to ask.
	if pg.CanVerify, _, err = ui.may(http.MethodPost, apiOrgPath(o, "/domains/any/verify")); err != nil {
		return nil, nil, err
	}
	list, err := listAll[domainBody](ui.api, apiOrgPath(o, "/domains"))
	if err != nil {
		return nil, nil, err
	}
	for _, d := range list {
		pg.Domains = append(pg.Domains, domainView{domainBody: d})
	}
	return pg, nav, nil
}

func (s *Server) renderDomains(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, edit func(*domainsPage)) error {
	pg, nav, err := s.loadDomainsPage(r, ui)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(pg)
	}
	s.render(w, r, ui, status, "domains", pageData{Title: "Domains · " + pg.Org.Name, Nav: nav, Content: pg})
	return nil
}

// handleDomainsPage serves GET /organizations/{org}/domains.
func (s *Server) handleDomainsPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	return s.renderDomains(w, r, ui, http.StatusOK, nil)
}

// domainsFail shows the tab again with the API's refusal beside the domain it concerns,
// or on the form that adds one.
func (s *Server) domainsFail(w http.ResponseWriter, r *http.Request, ui *uiCall, err error, id string) error {
	e, ok := asAPIError(err)
	if !ok || e.Status >= 500 {
		return err
	}
	return s.renderDomains(w, r, ui, e.Status, func(pg *domainsPage) {
		for i := range pg.Domains {
			if id != "" && pg.Domains[i].ID == id {
				pg.Domains[i].Error = e.Detail
				return
			}
		}
		pg.Form.Values = r.PostForm
		pg.Form.set(e.attr(), e.Detail)
		pg.Form.only("domain")
	})
}

// handleDomainCreateSubmit serves POST /organizations/{org}/domains.
func (s *Server) handleDomainCreateSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return err
	}
	var d domainBody
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/domains"), map[string]string{"domain": strings.TrimSpace(r.PostForm.Get("domain"))}, &d); err != nil {
		return s.domainsFail(w, r, ui, err, "")
	}
	msg := d.Domain + " added and verified."
	if !d.IsVerified {
		msg = d.Domain + " added: an owner must verify it before it is used."
	}
	s.redirect(w, r, orgPath(o, "/domains"), msg)
	return nil
}

// handleDomainSubmit serves POST /organizations/{org}/domains/{id}: its settings.
func (s *Server) handleDomainSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	body := map[string]any{
		"jit_provisioning_enabled": r.PostForm.Get("jit_provisioning_enabled") == "on",
		"scim_enabled":             r.PostForm.Get("scim_enabled") == "on",
		"sso_enforcement":          r.PostForm.Get("sso_enforcement"),
	}
	var d domainBody
	if _, err := ui.api.call(http.MethodPatch, apiOrgPath(o, "/domains/"+url.PathEscape(id)), body, &d); err != nil {
		return s.domainsFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/domains"), d.Domain+" saved.")
	return nil
}

// handleDomainVerifySubmit serves POST /organizations/{org}/domains/{id}/verify.
func (s *Server) handleDomainVerifySubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var d domainBody
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/domains/"+url.PathEscape(id)+"/verify"), nil, &d); err != nil {
		return s.domainsFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/domains"), d.Domain+" verified.")
	return nil
}

// handleDomainTokenSubmit serves POST /organizations/{org}/domains/{id}/token: the answer
// shows the new token, once; a redirect would have to carry it somewhere.
func (s *Server) handleDomainTokenSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var tok struct {
		Token string `json:"scim_bearer_token"`
	}
	if _, err := ui.api.call(http.MethodPost, apiOrgPath(o, "/domains/"+url.PathEscape(id)+"/scim/token"), nil, &tok); err != nil {
		return s.domainsFail(w, r, ui, err, id)
	}
	// The token must not be kept by the browser's cache or history.
	w.Header().Set("Cache-Control", "no-store")
	return s.renderDomains(w, r, ui, http.StatusOK, func(pg *domainsPage) { pg.Token, pg.TokenFor = tok.Token, id })
}

// handleDomainDeleteSubmit serves POST /organizations/{org}/domains/{id}/delete.
func (s *Server) handleDomainDeleteSubmit(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	o, _, err := ui.orgNav(r.PathValue("org"), "domains")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := ui.api.call(http.MethodDelete, apiOrgPath(o, "/domains/"+url.PathEscape(id)), nil, nil); err != nil {
		return s.domainsFail(w, r, ui, err, id)
	}
	s.redirect(w, r, orgPath(o, "/domains"), "Domain removed.")
	return nil
}
