package server

import (
	"context"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// userBasic is PostHog's nested user shape.
type userBasic struct {
	ID         int64  `json:"id"`
	UUID       string `json:"uuid"`
	DistinctID string `json:"distinct_id"`
	FirstName  string `json:"first_name"`
	Email      string `json:"email"`
}

func basicUser(u *gatehouse.User) *userBasic {
	if u == nil {
		return nil
	}
	return &userBasic{ID: u.ID, UUID: u.UUID, DistinctID: u.DistinctID, FirstName: u.FirstName, Email: u.Email}
}

type idName struct {
	ID   any    `json:"id"`
	Name string `json:"name"`
}

type orgSummary struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	MembershipLevel int    `json:"membership_level"`
}

type meBody struct {
	userBasic
	Organization  *idName      `json:"organization"`
	Organizations []orgSummary `json:"organizations"`
	Team          *idName      `json:"team"`
}

const (
	maxNameLength     = 400
	minPasswordLength = 8
	maxPasswordLength = 256
)

func validEmail(email string) bool {
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email && len(email) <= 254
}

func checkText(attr, v string, required bool, maxLen int) error {
	if required && strings.TrimSpace(v) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, attr, "This field is required.")
	}
	if len([]rune(v)) > maxLen {
		return gatehouse.FieldError(gatehouse.EMaxLength, attr, "Ensure this field has no more than "+itoa(maxLen)+" characters.")
	}
	return nil
}

func checkPassword(p *string) error {
	if p == nil || *p == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "password", "This field is required.")
	}
	if len(*p) < minPasswordLength {
		return gatehouse.FieldError(gatehouse.EInvalid, "password", "This password is too short. It must contain at least 8 characters.")
	}
	if len(*p) > maxPasswordLength {
		return gatehouse.FieldError(gatehouse.EMaxLength, "password", "Ensure this field has no more than 256 characters.")
	}
	return nil
}

// signupStatus is GET /api/signup's answer.
type signupStatus struct {
	// Open: POST /api/signup would take a new account now.
	Open bool `json:"open"`
}

// handleSignupStatus serves GET /api/signup: whether signup is open, so
// that a client can say so before asking for a form's worth of details
// that POST would refuse. The answer can be stale by the time the form is
// sent; POST's own check is the one that holds.
func (s *Server) handleSignupStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	open, err := s.signupOpen(r)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, signupStatus{Open: open})
	return nil
}

// signupOpen reports whether the instance takes a signup now: always with
// --open-signup, else only while it has no user (handleSignup's rule).
func (s *Server) signupOpen(r *http.Request) (bool, error) {
	if s.openSignup {
		return true, nil
	}
	n, err := s.store.CountUsers(r.Context())
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// handleSignup serves POST /api/signup: the first user (or anyone, with
// --open-signup) becomes owner of a new organization with one project.
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request, c *call) error {
	var in signupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if open, err := s.signupOpen(r); err != nil {
		return err
	} else if !open {
		return gatehouse.ErrSignupClosed
	}
	email := strings.TrimSpace(deref(in.Email))
	if email == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "email", "This field is required.")
	}
	if !validEmail(email) {
		return gatehouse.FieldError(gatehouse.EInvalid, "email", "Enter a valid email address.")
	}
	if err := checkPassword(in.Password); err != nil {
		return err
	}
	if err := s.passwordRefused(r.Context(), email); err != nil {
		return err
	}
	first := strings.TrimSpace(deref(in.FirstName))
	if err := checkText("first_name", first, true, 150); err != nil {
		return err
	}
	orgName := strings.TrimSpace(deref(in.OrganizationName))
	if orgName == "" {
		orgName = first + "'s organization"
	}
	if err := checkText("organization_name", orgName, true, 64); err != nil {
		return err
	}
	u := &gatehouse.User{Email: email, FirstName: first, PasswordHash: s.passwords.Hash(*in.Password)}
	create := s.store.CreateUser
	if !s.openSignup {
		// The count above only spares a closed instance the work; this is the
		// check that holds when several sign up at once.
		create = s.store.CreateFirstUser
	}
	if err := create(r.Context(), u); err != nil {
		return err
	}
	org := &gatehouse.Organization{Name: orgName}
	p := &gatehouse.Project{Name: "Default project"}
	if err := s.store.CreateOrganization(r.Context(), org, u.ID, p); err != nil {
		return err
	}
	u, err := s.setCurrent(r, u, org.ID, p.ID)
	if err != nil {
		return err
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	// The same body as GET /api/users/@me and an invite signup, so a client
	// reads every signup alike.
	return s.writeMeStatus(w, r, u, http.StatusCreated)
}

// handleLogin serves POST /api/login.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, c *call) error {
	var in loginInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if deref(in.Email) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "email", "This field is required.")
	}
	if deref(in.Password) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "password", "This field is required.")
	}
	// Before the password is checked: a domain's enforcement is no secret of
	// any account, and a refused password costs no hash and no guess.
	if err := s.passwordRefused(r.Context(), strings.TrimSpace(*in.Email)); err != nil {
		return err
	}
	// One account, however its email is spelt: otherwise " a@x" and "A@x" would
	// each get their own allowance of guesses.
	account := strings.ToLower(strings.TrimSpace(*in.Email))
	now := s.now()
	if err := s.limiter.allow(r, account, now); err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.limiter.window.Seconds())))
		return err
	}
	if err := s.limiter.attempt(r, account, now); err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.limiter.window.Seconds())))
		return err
	}
	u, err := s.store.UserByEmail(r.Context(), strings.TrimSpace(*in.Email))
	if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound {
		return err
	}
	hash := ""
	if u != nil && u.DisabledAt == nil {
		// A disabled account's password is checked against nothing, so that it is
		// refused as an unknown email is, after the same work.
		hash = u.PasswordHash
	}
	// Unknown email and wrong password are answered alike, after the same work.
	if !s.passwords.Check(hash, *in.Password) {
		return gatehouse.Errorf(gatehouse.EAuthenticationFailed, "Invalid email or password.") // attempt counted it
	}
	if err := s.limiter.succeeded(r, account, now); err != nil {
		return err
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	return s.writeMeStatus(w, r, u, http.StatusOK)
}

// handleLogout serves POST /api/logout.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.endSession(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleMeGet serves GET /api/users/@me.
func (s *Server) handleMeGet(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.writeMeStatus(w, r, c.user, http.StatusOK)
}

// handleMeUpdate serves PATCH /api/users/@me: the name, or switching the
// current organization or project.
func (s *Server) handleMeUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in meInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u := *c.user
	if in.FirstName != nil {
		if err := checkText("first_name", *in.FirstName, true, 150); err != nil {
			return err
		}
		u.FirstName = strings.TrimSpace(*in.FirstName)
	}
	if in.SetCurrentOrganization != nil {
		oc := &call{user: c.user}
		if err := s.resolveOrg(r.Context(), oc, *in.SetCurrentOrganization); err != nil {
			if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
				return gatehouse.FieldError(gatehouse.EDoesNotExist, "set_current_organization", "Organization does not exist.")
			}
			return err
		}
		u.CurrentOrganizationID = oc.org.ID
		// Follow PostHog: switching organization lands in one of its projects.
		current, err := s.firstProject(r.Context(), oc)
		if err != nil {
			return err
		}
		u.CurrentProjectID = current
	}
	if in.SetCurrentTeam != nil {
		pc := &call{user: c.user}
		if err := s.resolveProject(r.Context(), pc, itoa64(*in.SetCurrentTeam)); err != nil {
			if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
				return gatehouse.FieldError(gatehouse.EDoesNotExist, "set_current_team", "Project does not exist.")
			}
			return err
		}
		u.CurrentProjectID = pc.project.ID
		u.CurrentOrganizationID = pc.org.ID
	}
	// Only the fields this request names are written, onto the row as it is
	// now: a concurrent change of another field (a rename in one tab, a
	// switch of organization in another) survives.
	stored, err := s.store.UpdateUserFunc(r.Context(), u.ID, func(cur *gatehouse.User) error {
		if in.FirstName != nil {
			cur.FirstName = u.FirstName
		}
		if in.SetCurrentOrganization != nil || in.SetCurrentTeam != nil {
			cur.CurrentOrganizationID, cur.CurrentProjectID = u.CurrentOrganizationID, u.CurrentProjectID
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeMeStatus(w, r, stored, http.StatusOK)
}

// firstProject is the first of c.org's projects that c's caller may enter (0:
// none), where switching to the organization, or joining it, lands them.
func (s *Server) firstProject(ctx context.Context, c *call) (int64, error) {
	projects, err := s.store.Projects(ctx, c.org.ID)
	if err != nil {
		return 0, err
	}
	for _, p := range projects {
		if _, ok := c.snap.ProjectAccess(c.user.ID, p.ID); ok {
			return p.ID, nil
		}
	}
	return 0, nil
}

// setCurrent makes the organization and project the user's current ones,
// leaving the rest of the user as it is in the database.
func (s *Server) setCurrent(r *http.Request, u *gatehouse.User, orgID string, projectID int64) (*gatehouse.User, error) {
	return s.store.UpdateUserFunc(r.Context(), u.ID, func(cur *gatehouse.User) error {
		cur.CurrentOrganizationID, cur.CurrentProjectID = orgID, projectID
		return nil
	})
}

func (s *Server) writeMeStatus(w http.ResponseWriter, r *http.Request, u *gatehouse.User, status int) error {
	orgs, err := s.store.OrganizationsOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	body := meBody{userBasic: *basicUser(u), Organizations: make([]orgSummary, 0, len(orgs))}
	for _, o := range orgs {
		body.Organizations = append(body.Organizations, orgSummary{ID: o.ID, Name: o.Name, MembershipLevel: o.Level})
		if o.ID == u.CurrentOrganizationID {
			body.Organization = &idName{o.ID, o.Name}
		}
	}
	if u.CurrentProjectID != 0 && body.Organization != nil {
		// The current project is named only while u may enter it: one closed
		// to them since (or from the start) is a project they are refused.
		pc := &call{user: u}
		switch err := s.resolveProject(r.Context(), pc, itoa64(u.CurrentProjectID)); {
		case err == nil && pc.org.ID == u.CurrentOrganizationID:
			body.Team = &idName{pc.project.ID, pc.project.Name}
		case err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound:
			return err
		}
	}
	encode(w, status, body)
	return nil
}

type apiKeyBody struct {
	ID         string     `json:"id"`
	Label      string     `json:"label"`
	Value      string     `json:"value,omitempty"`
	MaskValue  string     `json:"mask_value"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func apiKeyOut(k *gatehouse.APIKey) apiKeyBody {
	return apiKeyBody{ID: k.ID, Label: k.Label, MaskValue: k.MaskValue, CreatedAt: k.CreatedAt.UTC(), LastUsedAt: k.LastUsedAt}
}

// handleAPIKeyList serves GET /api/personal_api_keys (values are never shown again).
func (s *Server) handleAPIKeyList(w http.ResponseWriter, r *http.Request, c *call) error {
	keys, err := s.store.APIKeys(r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	out := make([]apiKeyBody, len(keys))
	for i := range keys {
		out[i] = apiKeyOut(&keys[i])
	}
	return listOf(w, r, out)
}

// handleAPIKeyCreate serves POST /api/personal_api_keys: the value is shown
// in this answer only; the database keeps its hash.
func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in apiKeyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	label := strings.TrimSpace(deref(in.Label))
	if err := checkText("label", label, true, 40); err != nil {
		return err
	}
	value := apiKeyPrefix + randomToken(32)
	k := &gatehouse.APIKey{UserID: c.user.ID, Label: label, ValueHash: hashToken(value), MaskValue: apiKeyPrefix + "…" + value[len(value)-4:]}
	if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
		return err
	}
	out := apiKeyOut(k)
	out.Value = value
	encode(w, http.StatusCreated, out)
	return nil
}

// handleAPIKeyDelete serves DELETE /api/personal_api_keys/{id}.
func (s *Server) handleAPIKeyDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteAPIKey(r.Context(), c.user.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
