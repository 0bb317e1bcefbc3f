package server

// Authorization: a route's need checked against the caller, the URL's
// organization, project and object, and the access snapshot.

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/google/uuid"
)

// call is what the authorization resolved for one request.
type call struct {
	user    *gatehouse.User
	org     *gatehouse.Organization
	snap    *access.Snapshot
	project *gatehouse.Project
	kind    access.Kind
	// obj is {id}'s head, all that authorizing it needs; res is its row,
	// read by s.resource when a handler needs more than the head.
	obj       access.Object
	res       *gatehouse.Resource
	decision  access.Decision
	viaCookie bool
	// minRevision is X-Gatehouse-Min-Revision: decide on rules at least this fresh.
	minRevision int64
	// revision is the rules revision snap reflects: the one the request's
	// writes must still find (gatehouse.WithDecidedRevision).
	revision int64
	// target is {user}'s membership, for routes that resolve it (removal).
	target *gatehouse.Membership
	// scim is the domain whose SCIM client calls (scopeSCIM); org stays nil, since the
	// client is no member and its writes rest on no member's decision.
	scim *gatehouse.Domain
	// rests is an object the handler found its write to rest on beyond the route's own
	// (the object of an access request its caller decides): the caller's level on it is
	// held to the write as the route's own object's is.
	rests access.Object
}

// membership is the caller's membership level in c.org.
func (c *call) membership() int { return c.snap.MembershipLevel(c.user.ID) }

// authorize resolves the caller and the URL's organization, project and
// object, and checks n. Unknown and foreign things are 404, never 403, so
// existence does not leak across organizations.
func (s *Server) authorize(r *http.Request, n need) (*call, error) {
	c := &call{}
	if n.scope == scopePublic {
		// Public routes still learn who is calling (invite acceptance, logout).
		u, viaCookie, err := s.authenticate(r)
		if err == nil {
			c.user, c.viaCookie = u, viaCookie
		}
		// Unlike other routes, a public write is checked even without a cookie:
		// a page on another site must not log a visitor in to the attacker's
		// account (login CSRF). Only a bearer request is exempt.
		if isWrite(r) && (c.viaCookie || r.Header.Get("Authorization") == "") {
			if err := s.cop.Check(r); err != nil {
				return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "CSRF Failed: cross-origin request.")
			}
		}
		return c, nil
	}
	if n.scope == scopeSCIM {
		return c, s.authorizeSCIM(r, c)
	}
	u, viaCookie, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, gatehouse.Errorf(gatehouse.ENotAuthenticated, "Authentication credentials were not provided.")
	}
	c.user, c.viaCookie = u, viaCookie
	if v := r.Header.Get("X-Gatehouse-Min-Revision"); v != "" {
		c.minRevision, _ = strconv.ParseInt(v, 10, 64)
	}
	// Bearer requests carry no ambient credential, so only cookie-authenticated
	// writes need the cross-origin check.
	if viaCookie && isWrite(r) {
		if err := s.cop.Check(r); err != nil {
			return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "CSRF Failed: cross-origin request.")
		}
	}
	ctx := r.Context()
	switch n.scope {
	case scopeUser:
		return c, nil
	case scopeOrg:
		org := r.PathValue("org")
		if n.current {
			org = "@current"
		}
		if err := s.resolveOrg(ctx, c, org); err != nil {
			return nil, err
		}
		if err := access.RequireMembership(c.membership(), n.membership); err != nil {
			return nil, err
		}
		if n.removal {
			m, err := s.targetMember(r, c)
			if err != nil {
				return nil, err
			}
			if err := access.MayRemoveMember(c.membership(), m.Level, m.User.ID == u.ID); err != nil {
				return nil, err
			}
			c.target = m
		}
	default:
		if err := s.resolveProject(ctx, c, r.PathValue("project")); err != nil {
			return nil, err
		}
		switch n.scope {
		case scopeProject:
			switch {
			case n.deletesProject:
				if err := c.snap.MayDeleteProject(u.ID); err != nil {
					return nil, err
				}
			case n.project:
				if !c.snap.MayAdministerProject(u.ID, c.project.ID) {
					return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "You need to have admin level or higher.")
				}
			}
		case scopeKind:
			c.kind = n.kind
			c.decision = c.snap.KindLevel(u.ID, c.project.ID, n.kind)
			if err := access.RequireKindLevel(c.decision, n.level, n.kind); err != nil {
				s.metrics.decided(n.kind, resultDenied, 1)
				return nil, err
			}
		case scopeObject:
			c.kind = n.kind
			if err := s.resolveObject(ctx, c, n, r.PathValue("id")); err != nil {
				if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
					s.metrics.decided(n.kind, resultHidden, 1)
				}
				return nil, err
			}
			if err := access.RequireObjectLevel(c.decision, n.level, n.kind); err != nil {
				s.metrics.decided(n.kind, resultDenied, 1)
				return nil, err
			}
		}
		if n.scope >= scopeKind {
			s.metrics.decided(n.kind, resultAllowed, 1)
		}
	}
	if n.needsLicence && isWrite(r) && !s.enforced() {
		return nil, gatehouse.Errorf(gatehouse.EPaymentRequired, "Role-based access is an enterprise feature: add a licence to use it.")
	}
	if n.feature != "" && isWrite(r) && !s.currentPlan().Has(n.feature) {
		return nil, featureMissing(n.feature)
	}
	return c, nil
}

// resolveOrg loads {org} ("@current" or a UUID) and the caller's snapshot of it.
func (s *Server) resolveOrg(ctx context.Context, c *call, id string) error {
	if id == "@current" {
		if cur := c.user.CurrentOrganizationID; cur != "" {
			if err := s.resolveOrg(ctx, c, cur); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				return err
			}
		}
		// The current organization was deleted or the user left it: fall back
		// to the oldest one they still belong to, as PostHog does.
		orgs, err := s.store.OrganizationsOf(ctx, c.user.ID)
		if err != nil {
			return err
		}
		if len(orgs) == 0 {
			return gatehouse.NotFound()
		}
		id = orgs[0].ID
	}
	if _, err := uuid.Parse(id); err != nil {
		return gatehouse.NotFound()
	}
	org, err := s.store.Organization(ctx, id)
	if err != nil {
		return err
	}
	return s.useOrg(ctx, c, org)
}

// useOrg checks the caller is a member of org and sets c's organization
// and snapshot.
func (s *Server) useOrg(ctx context.Context, c *call, org *gatehouse.Organization) error {
	if c.minRevision > org.RulesRevision {
		// The client saw a newer revision elsewhere: read again rather than
		// decide on rules older than its own write.
		fresh, err := s.store.Organization(ctx, org.ID)
		if err != nil {
			return err
		}
		org = fresh
	}
	snap, rev, err := s.snapshot(ctx, org)
	if err != nil {
		return err
	}
	if !access.IsMember(snap.MembershipLevel(c.user.ID)) {
		return gatehouse.NotFound()
	}
	c.org, c.snap, c.revision = org, snap, rev
	return nil
}

// resolveProject loads {project} ("@current" or an id) and its organization,
// and checks the caller may enter it.
func (s *Server) resolveProject(ctx context.Context, c *call, id string) error {
	var pid int64
	if id == "@current" {
		pid = c.user.CurrentProjectID
	} else {
		n, err := parseID(id)
		if err != nil || n <= 0 {
			return gatehouse.NotFound()
		}
		pid = n
	}
	p, org, err := s.store.ProjectOrganization(ctx, pid)
	if err != nil {
		return err
	}
	if err := s.useOrg(ctx, c, org); err != nil {
		return err
	}
	if _, ok := c.snap.ProjectAccess(c.user.ID, p.ID); !ok {
		return gatehouse.NotFound()
	}
	c.project = p
	return nil
}

// resolveObject finds {id} of kind n.kind in c.project and decides the
// caller's level. Unless the route shows the row (n.row), a numeric id needs
// only the object's head, which the store keeps in memory: an edit or a
// delete then reads the row once, in its own transaction, not here too.
func (s *Server) resolveObject(ctx context.Context, c *call, n need, id string) error {
	k := n.kind
	num, err := parseID(id)
	switch {
	case kindSpecs[k].stringID:
		c.res, err = s.store.ResourceByKey(ctx, c.project.ID, k, id)
	case err != nil || num <= 0:
		return gatehouse.NotFound()
	case n.row:
		c.res, err = s.store.Resource(ctx, c.project.ID, k, num)
	default:
		var heads []access.Object
		if heads, err = s.store.HeadsByID(ctx, nil, []int64{num}); err == nil {
			if len(heads) != 1 || heads[0].Project != c.project.ID || heads[0].Kind != k {
				return gatehouse.NotFound()
			}
			c.obj = heads[0]
		}
	}
	if err != nil {
		return err
	}
	if c.res != nil {
		c.obj = c.res.Object()
	}
	d := c.snap.Decide(c.user.ID, c.obj)
	if !d.CanView() {
		return gatehouse.NotFound()
	}
	c.decision = d
	return nil
}

// resource returns the row of the object c names, reading it once.
func (s *Server) resource(ctx context.Context, c *call) (*gatehouse.Resource, error) {
	if c.res == nil {
		res, err := s.store.Resource(ctx, c.project.ID, c.kind, c.obj.ID)
		if err != nil {
			return nil, err
		}
		c.res = res
	}
	return c.res, nil
}

// parseID reads a numeric id in its one canonical form: "+1" and "01" name
// no object, so one object has one URL.
func parseID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, gatehouse.NotFound()
	}
	return n, nil
}
