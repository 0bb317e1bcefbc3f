package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

type orgBody struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	MembershipLevel   int       `json:"membership_level"`
	AvailableFeatures []string  `json:"available_features"`
	Plan              string    `json:"plan"`
}

func (s *Server) orgOut(o *gatehouse.Organization, level int) orgBody {
	plan := s.currentPlan()
	return orgBody{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), MembershipLevel: level,
		AvailableFeatures: plan.Features(), Plan: string(plan)}
}

// handleOrganizationList serves GET /api/organizations.
func (s *Server) handleOrganizationList(w http.ResponseWriter, r *http.Request, c *call) error {
	orgs, err := s.store.OrganizationsOf(r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	out := make([]orgBody, len(orgs))
	for i := range orgs {
		out[i] = s.orgOut(&orgs[i].Organization, orgs[i].Level)
	}
	return listOf(w, r, out)
}

func readOrgName(r *http.Request) (string, error) {
	var in nameInput
	if err := decode(r, &in); err != nil {
		return "", err
	}
	name := strings.TrimSpace(deref(in.Name))
	return name, checkText("name", name, true, 64)
}

// handleOrganizationCreate serves POST /api/organizations: the caller owns
// the new organization, which starts with one project.
func (s *Server) handleOrganizationCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := readOrgName(r)
	if err != nil {
		return err
	}
	org := &gatehouse.Organization{Name: name}
	p := &gatehouse.Project{Name: "Default project"}
	if err := s.store.CreateOrganization(r.Context(), org, c.user.ID, p); err != nil {
		return err
	}
	if _, err := s.setCurrent(r, c.user, org.ID, p.ID); err != nil {
		return err
	}
	encode(w, http.StatusCreated, s.orgOut(org, access.OwnerLevel))
	return nil
}

// handleOrganizationGet serves GET /api/organizations/{org}.
func (s *Server) handleOrganizationGet(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, s.orgOut(c.org, c.membership()))
	return nil
}

// handleOrganizationUpdate serves PATCH /api/organizations/{org}.
func (s *Server) handleOrganizationUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := readOrgName(r)
	if err != nil {
		return err
	}
	org := *c.org
	org.Name = name
	if err := s.store.UpdateOrganization(r.Context(), &org); err != nil {
		return err
	}
	encode(w, http.StatusOK, s.orgOut(&org, c.membership()))
	return nil
}

// handleOrganizationDelete serves DELETE /api/organizations/{org}.
func (s *Server) handleOrganizationDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteOrganization(r.Context(), c.org.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberBody struct {
	ID        string     `json:"id"`
	User      *userBasic `json:"user"`
	Level     int        `json:"level"`
	JoinedAt  time.Time  `json:"joined_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func memberOut(m *gatehouse.Membership) memberBody {
	return memberBody{ID: m.ID, User: basicUser(&m.User), Level: m.Level, JoinedAt: m.JoinedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
}

// handleMemberList serves GET /api/organizations/{org}/members.
func (s *Server) handleMemberList(w http.ResponseWriter, r *http.Request, c *call) error {
	ms, err := s.store.Members(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	out := make([]memberBody, len(ms))
	for i := range ms {
		out[i] = memberOut(&ms[i])
	}
	return listOf(w, r, out)
}

// targetMember finds {user} (a user UUID) among c.org's members.
func (s *Server) targetMember(r *http.Request, c *call) (*gatehouse.Membership, error) {
	u, err := s.store.UserByUUID(r.Context(), r.PathValue("user"))
	if err != nil {
		return nil, err
	}
	return s.store.Membership(r.Context(), c.org.ID, u.ID)
}

// invalidLevel is the answer to a membership level that is not one.
func invalidLevel(l int) error {
	return gatehouse.FieldError(gatehouse.EInvalidChoice, "level", "\""+itoa(l)+"\" is not a valid choice.")
}

// handleMemberUpdate serves PATCH /api/organizations/{org}/members/{user}, as
// access.MayChangeLevel allows; the store keeps the last owner an owner
// (access.KeepsOwner, inside its transaction).
func (s *Server) handleMemberUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in memberInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Level == nil {
		return gatehouse.FieldError(gatehouse.ERequired, "level", "This field is required.")
	}
	if !access.ValidMembershipLevel(*in.Level) {
		return invalidLevel(*in.Level)
	}
	m, err := s.targetMember(r, c)
	if err != nil {
		return err
	}
	c.target = m // the write rests on m's level too
	if err := access.MayChangeLevel(c.membership(), m.Level, *in.Level, m.User.ID == c.user.ID); err != nil {
		return err
	}
	if *in.Level != m.Level {
		if err := s.store.SetMemberLevel(r.Context(), c.org.ID, m.User.ID, *in.Level, c.user.ID); err != nil {
			return err
		}
		m.Level, m.UpdatedAt = *in.Level, s.now()
	}
	encode(w, http.StatusOK, memberOut(m))
	return nil
}

// handleMemberDelete serves DELETE /api/organizations/{org}/members/{user}:
// its route (orgAdminOrSelf) found the member and applied
// access.MayRemoveMember; the store refuses to remove the last owner.
func (s *Server) handleMemberDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.RemoveMember(r.Context(), c.org.ID, c.target.User.ID, c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type inviteBody struct {
	ID          string     `json:"id"`
	TargetEmail string     `json:"target_email"`
	Level       int        `json:"level"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *userBasic `json:"created_by"`
	IsExpired   bool       `json:"is_expired"`
}

func (s *Server) inviteOut(r *http.Request, inv *gatehouse.Invite, users *userCache) inviteBody {
	return inviteBody{ID: inv.ID, TargetEmail: inv.TargetEmail, Level: inv.Level, CreatedAt: inv.CreatedAt.UTC(), CreatedBy: users.get(r, inv.CreatedBy)}
}

// handleInviteList serves GET /api/organizations/{org}/invites: the invites
// the caller may see (access.MaySeeInvite). An invite above their level is
// left out, count included: its id is the link that joins at its level.
func (s *Server) handleInviteList(w http.ResponseWriter, r *http.Request, c *call) error {
	invs, err := s.store.Invites(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	users := s.newUserCache()
	out := make([]inviteBody, 0, len(invs))
	for i := range invs {
		if access.MaySeeInvite(c.membership(), invs[i].Level) {
			out = append(out, s.inviteOut(r, &invs[i], users))
		}
	}
	return listOf(w, r, out)
}

// handleInviteCreate serves POST /api/organizations/{org}/invites.
func (s *Server) handleInviteCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in inviteInput
	if err := decode(r, &in); err != nil {
		return err
	}
	email := strings.TrimSpace(deref(in.TargetEmail))
	if email == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "target_email", "This field is required.")
	}
	if !validEmail(email) {
		return gatehouse.FieldError(gatehouse.EInvalid, "target_email", "Enter a valid email address.")
	}
	level := access.MemberLevel
	if in.Level != nil {
		level = *in.Level
	}
	if !access.ValidMembershipLevel(level) {
		return invalidLevel(level)
	}
	if err := access.MayInvite(c.membership(), level); err != nil {
		return err
	}
	inv := &gatehouse.Invite{OrganizationID: c.org.ID, TargetEmail: email, Level: level, CreatedBy: c.user.ID}
	if err := s.store.CreateInvite(r.Context(), inv); err != nil {
		return err
	}
	encode(w, http.StatusCreated, s.inviteOut(r, inv, s.newUserCache()))
	return nil
}

// handleInviteDelete serves DELETE /api/organizations/{org}/invites/{id}: an
// invite the caller may not see (access.MaySeeInvite) is not found.
func (s *Server) handleInviteDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	inv, err := s.store.Invite(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if inv.OrganizationID != c.org.ID || !access.MaySeeInvite(c.membership(), inv.Level) {
		return gatehouse.NotFound()
	}
	if err := s.store.DeleteInvite(r.Context(), c.org.ID, inv.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleInviteAccept serves POST /api/signup/{invite}: a new user signs up
// through the invite, or a signed-in user joins with an empty body. The store
// honours the invite only while its inviter is still a member at or above its
// level (access.InviteHonoured), in the transaction that accepts it and, for a
// new user, creates them: an invite no longer honoured leaves no account.
func (s *Server) handleInviteAccept(w http.ResponseWriter, r *http.Request, c *call) error {
	var in inviteAcceptInput
	if err := decode(r, &in); err != nil {
		return err
	}
	inv, err := s.store.Invite(r.Context(), r.PathValue("invite"))
	if err != nil {
		return err
	}
	u := c.user
	status := http.StatusOK
	if u == nil {
		if err := checkText("first_name", strings.TrimSpace(deref(in.FirstName)), true, 150); err != nil {
			return err
		}
		if err := checkPassword(in.Password); err != nil {
			return err
		}
		if err := s.passwordRefused(r.Context(), inv.TargetEmail); err != nil {
			return err
		}
		u = &gatehouse.User{Email: inv.TargetEmail, FirstName: strings.TrimSpace(*in.FirstName), PasswordHash: s.passwords.Hash(*in.Password)}
		if _, err := s.store.AcceptInviteAsNewUser(r.Context(), inv.ID, u); err != nil {
			return err
		}
		status = http.StatusCreated
	} else if _, err := s.store.AcceptInvite(r.Context(), inv.ID, u.ID); err != nil {
		return err
	}
	// The new member lands in the first project they may enter, not in one
	// closed to them, whose name @me would show.
	oc := &call{user: u}
	if err := s.resolveOrg(r.Context(), oc, inv.OrganizationID); err != nil {
		return err
	}
	current, err := s.firstProject(r.Context(), oc)
	if err != nil {
		return err
	}
	if u, err = s.setCurrent(r, u, inv.OrganizationID, current); err != nil {
		return err
	}
	if c.user == nil {
		if err := s.startSession(w, r, u); err != nil {
			return err
		}
	}
	return s.writeMeStatus(w, r, u, status)
}

type projectBody struct {
	ID           int64     `json:"id"`
	UUID         string    `json:"uuid"`
	Name         string    `json:"name"`
	Organization string    `json:"organization"`
	APIToken     string    `json:"api_token"`
	CreatedAt    time.Time `json:"created_at"`
}

func projectOut(p *gatehouse.Project) projectBody {
	return projectBody{ID: p.ID, UUID: p.UUID, Name: p.Name, Organization: p.OrganizationID, APIToken: p.APIToken, CreatedAt: p.CreatedAt.UTC()}
}

// handleProjectList serves GET /api/projects: the current organization's
// projects that the caller may enter.
func (s *Server) handleProjectList(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.resolveOrg(r.Context(), c, "@current"); err != nil {
		return err
	}
	return s.handleOrgProjectList(w, r, c)
}

// handleOrgProjectList serves GET /api/organizations/{org}/projects, as
// PostHog nests them: the organization's projects the caller may enter.
func (s *Server) handleOrgProjectList(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := s.store.Projects(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	out := []projectBody{}
	for i := range ps {
		if _, ok := c.snap.ProjectAccess(c.user.ID, ps[i].ID); ok {
			out = append(out, projectOut(&ps[i]))
		}
	}
	return listOf(w, r, out)
}

// handleOrgProjectCreate serves POST /api/organizations/{org}/projects
// (admin+), as PostHog nests it: whatever organization is current; and POST
// /api/projects, in the current one.
func (s *Server) handleOrgProjectCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := readOrgName(r)
	if err != nil {
		return err
	}
	p := &gatehouse.Project{OrganizationID: c.org.ID, Name: name}
	if err := s.store.CreateProject(r.Context(), p); err != nil {
		return err
	}
	encode(w, http.StatusCreated, projectOut(p))
	return nil
}

// handleProjectGet serves GET /api/projects/{project}.
func (s *Server) handleProjectGet(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, projectOut(c.project))
	return nil
}

// handleProjectUpdate serves PATCH /api/projects/{project}.
func (s *Server) handleProjectUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := readOrgName(r)
	if err != nil {
		return err
	}
	p := *c.project
	p.Name = name
	if err := s.store.UpdateProject(r.Context(), &p); err != nil {
		return err
	}
	encode(w, http.StatusOK, projectOut(&p))
	return nil
}

// handleProjectDelete serves DELETE /api/projects/{project}.
func (s *Server) handleProjectDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteProject(r.Context(), c.project.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
