package server

// Organization domains (identity.md): the email domains an organization claims, which
// sign-in through the identity provider and SCIM provisioning rest on.

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

type domainInput struct {
	Domain *string `json:"domain" api:"required"`
}

type domainUpdateInput struct {
	JITProvisioningEnabled *bool   `json:"jit_provisioning_enabled"`
	SSOEnforcement         *string `json:"sso_enforcement" api:"enum=|oidc"`
	SCIMEnabled            *bool   `json:"scim_enabled"`
}

type domainBody struct {
	ID                     string     `json:"id"`
	Domain                 string     `json:"domain"`
	IsVerified             bool       `json:"is_verified"`
	VerifiedAt             *time.Time `json:"verified_at"`
	JITProvisioningEnabled bool       `json:"jit_provisioning_enabled"`
	SSOEnforcement         string     `json:"sso_enforcement" api:"enum=|oidc"`
	SCIMEnabled            bool       `json:"scim_enabled"`
	// SCIMBaseURL is where the identity provider's SCIM client is pointed; null while
	// SCIM is off.
	SCIMBaseURL *string `json:"scim_base_url"`
	HasOIDC     bool    `json:"has_oidc"`
}

// emptyInput is the body of an action that takes nothing: {} or none, read all the same so
// that what cannot be a body is refused as on every other route.
type emptyInput struct{}

type scimTokenBody struct {
	SCIMBearerToken string `json:"scim_bearer_token"`
}

// scimTokenPrefix marks a SCIM bearer token, so that one pasted in the wrong place is
// recognised for what it is.
const scimTokenPrefix = "gh_scim_"

func featureMissing(feature string) error {
	what := map[string]string{
		license.FeatureSSO:  "Organization domains and single sign-on are",
		license.FeatureSCIM: "SCIM provisioning is",
	}[feature]
	if what == "" {
		what = "This is"
	}
	return gatehouse.Errorf(gatehouse.EPaymentRequired, "%s an enterprise feature: add a licence to use it.", what)
}

// validDomain reports whether s is a DNS name an email can be at: two labels or more of
// letters, digits and inner hyphens, 253 characters at most, the last not all digits (an
// address is no domain).
func validDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}

func (s *Server) domainOut(r *http.Request, d *gatehouse.Domain) domainBody {
	out := domainBody{ID: d.ID, Domain: d.Domain, IsVerified: d.Verified(), VerifiedAt: d.VerifiedAt,
		JITProvisioningEnabled: d.JITProvisioningEnabled, SSOEnforcement: d.SSOEnforcement, SCIMEnabled: d.SCIMEnabled,
		HasOIDC: s.hasOIDC()}
	if d.SCIMEnabled {
		scheme, host := linkBase(r)
		u := scheme + "://" + host + "/scim/v2/" + d.ID
		out.SCIMBaseURL = &u
	}
	return out
}

// domainFromPath returns {id} if it is c.org's domain: another organization's is not found.
func (s *Server) domainFromPath(r *http.Request, c *call) (*gatehouse.Domain, error) {
	d, err := s.store.Domain(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if d.OrganizationID != c.org.ID {
		return nil, gatehouse.NotFound()
	}
	return d, nil
}

// handleDomainList serves GET /api/organizations/{org}/domains.
func (s *Server) handleDomainList(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.store.Domains(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	out := make([]domainBody, len(ds))
	for i := range ds {
		out[i] = s.domainOut(r, &ds[i])
	}
	return listOf(w, r, out)
}

// handleDomainCreate serves POST /api/organizations/{org}/domains: an owner's domain is
// verified at once, an admin's waits for an owner (access.VerifiesDomainAtOnce).
func (s *Server) handleDomainCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in domainInput
	if err := decode(r, &in); err != nil {
		return err
	}
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(deref(in.Domain)), "."))
	if name == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "domain", "This field is required.")
	}
	if !validDomain(name) {
		return gatehouse.FieldError(gatehouse.EInvalid, "domain", "Enter a domain name, such as example.com.")
	}
	d := &gatehouse.Domain{OrganizationID: c.org.ID, Domain: name}
	if access.VerifiesDomainAtOnce(c.membership()) {
		now := s.now().UTC()
		d.VerifiedAt = &now
	}
	if err := s.store.CreateDomain(r.Context(), d, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusCreated, s.domainOut(r, d))
	return nil
}

// handleDomainGet serves GET /api/organizations/{org}/domains/{id}.
func (s *Server) handleDomainGet(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.domainFromPath(r, c)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.domainOut(r, d))
	return nil
}

// handleDomainUpdate serves PATCH /api/organizations/{org}/domains/{id}.
func (s *Server) handleDomainUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in domainUpdateInput
	if err := decode(r, &in); err != nil {
		return err
	}
	d, err := s.domainFromPath(r, c)
	if err != nil {
		return err
	}
	if in.JITProvisioningEnabled != nil {
		d.JITProvisioningEnabled = *in.JITProvisioningEnabled
	}
	if in.SSOEnforcement != nil {
		switch *in.SSOEnforcement {
		case gatehouse.SSONone:
		case gatehouse.SSOOIDC:
			if !s.hasOIDC() && d.SSOEnforcement != gatehouse.SSOOIDC {
				// Enforcing a sign-in the instance does not offer would lock the domain out.
				return gatehouse.FieldError(gatehouse.EInvalid, "sso_enforcement", "OpenID Connect is not configured on this instance.")
			}
		default:
			return gatehouse.FieldError(gatehouse.EInvalid, "sso_enforcement", `Choose "oidc" or "".`)
		}
		d.SSOEnforcement = *in.SSOEnforcement
	}
	if in.SCIMEnabled != nil {
		if *in.SCIMEnabled && !d.SCIMEnabled && !s.currentPlan().Has(license.FeatureSCIM) {
			return featureMissing(license.FeatureSCIM)
		}
		d.SCIMEnabled = *in.SCIMEnabled
	}
	if err := s.store.UpdateDomain(r.Context(), d, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusOK, s.domainOut(r, d))
	return nil
}

// handleDomainDelete serves DELETE /api/organizations/{org}/domains/{id}.
func (s *Server) handleDomainDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteDomain(r.Context(), c.org.ID, r.PathValue("id"), c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleDomainVerify serves POST /api/organizations/{org}/domains/{id}/verify (owners).
func (s *Server) handleDomainVerify(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := decode(r, &emptyInput{}); err != nil {
		return err
	}
	d, err := s.store.VerifyDomain(r.Context(), c.org.ID, r.PathValue("id"), c.user.ID)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.domainOut(r, d))
	return nil
}

// handleDomainSCIMToken serves POST /api/organizations/{org}/domains/{id}/scim/token: the
// token is in this answer only; the database keeps its hash, and the old token stops
// working as this one is stored.
func (s *Server) handleDomainSCIMToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := decode(r, &emptyInput{}); err != nil {
		return err
	}
	if _, err := s.domainFromPath(r, c); err != nil {
		return err
	}
	token := scimTokenPrefix + randomToken(32)
	if err := s.store.SetDomainSCIMToken(r.Context(), c.org.ID, r.PathValue("id"), hashToken(token), c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusCreated, scimTokenBody{SCIMBearerToken: token})
	return nil
}

// scimTokenMatches compares a presented token with the stored hash in constant time; a
// domain without a token matches nothing.
func scimTokenMatches(d *gatehouse.Domain, token string) bool {
	if d.SCIMTokenHash == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(d.SCIMTokenHash)) == 1
}
