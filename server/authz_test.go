package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// persona is one kind of caller in the authorization matrix.
type persona int

const (
	anonymous  persona = iota // no credentials
	unknownKey                // a well-formed personal API key that does not exist
	foreigner                 // owner of another organization, not a member of this one
	member                    // plain member (level 1), no roles
	viewOnly                  // plain member in a role that may only view every kind
	admin                     // admin (level 8)
	owner                     // owner (level 15)
	numPersonas
)

var personaNames = [numPersonas]string{"anonymous", "unknown key", "other organization", "member", "view-only member", "admin", "owner"}

func (p persona) String() string { return personaNames[p] }

// Expected statuses per persona, for the authorization requirements of routes.go.
func everyone(st int) [numPersonas]int { return [numPersonas]int{st, st, st, st, st, st, st} }
func anyUser(st int) [numPersonas]int  { return [numPersonas]int{401, 401, st, st, st, st, st} }
func members(st int) [numPersonas]int  { return [numPersonas]int{401, 401, 404, st, st, st, st} }
func editors(st int) [numPersonas]int  { return [numPersonas]int{401, 401, 404, st, 403, st, st} }
func admins(st int) [numPersonas]int   { return [numPersonas]int{401, 401, 404, 403, 403, st, st} }
func owners(st int) [numPersonas]int   { return [numPersonas]int{401, 401, 404, 403, 403, 403, st} }

// matrixRow is one route of the authorization matrix: what each persona must get from a
// real request with a valid body. setup prepares the request's path values and body for
// one persona (fresh objects for destructive routes, so every cell acts on something
// that exists).
type matrixRow struct {
	pattern  string // exactly as registered: "METHOD /path"
	want     [numPersonas]int
	licensed bool // a configuration write: 402 on the free plan for whoever passes authorization
	// free, when set, is the row on the free plan, where the handler's own refusals
	// (400, 403) give way to the 402 that authorization answers first.
	free  *[numPersonas]int
	setup func(m *matrix, p persona) (vars map[string]string, body any)
}

// onFreePlan is the row's expectation on the free plan: rules are not enforced, so the
// view-only member is a member like any other, and licensed writes answer 402 to whoever
// would have been let through.
func (r *matrixRow) onFreePlan() [numPersonas]int {
	if r.free != nil {
		return *r.free
	}
	w := r.want
	w[viewOnly] = w[member]
	if r.licensed {
		for i, st := range w {
			if st >= 200 && st < 300 {
				w[i] = http.StatusPaymentRequired
			}
		}
	}
	return w
}

// uiRoutes are routes of Routes() that are web pages rather than API endpoints, and so are
// outside the matrix (the pages call the API, which the matrix covers). Every route of
// the server is either a matrix row or listed here, never both.
var uiRoutes = []string{}

// matrix is the world the authorization matrix runs in: organization A with one project,
// a persona of each kind, objects of every kind created by the owner, and targets for
// every route.
type matrix struct {
	e      *env // setup speaks to this server (enterprise)
	target *env // the requests under test go to this one (same database)
	who    [numPersonas]*client
	spare  *client // a plain member of A who is no persona: a target for role memberships
	orgB   string  // the foreigner's organization
	orgD   string  // spare's organization, which no persona belongs to: invites to accept

	scratchRole      string // a role with no members, as target of rules that must change nobody
	sharedRole       string // a role with spare as its only member
	sharedRoleMember string
	objects          [7]string // path of one object of each kind, created by the owner
	grants           [7]string // a role access of scratchRole on objects[k]
	flagID           string
	defaultsTouched  bool
}

func (m *matrix) next() int64 { return m.e.seq.Add(1) }

// joinOrg invites a new user into orgID at level and signs them up; it returns their uuid.
func (m *matrix) joinOrg(orgID string, level int) string {
	m.e.t.Helper()
	n := m.next()
	inv := m.e.owner.must("POST", "/api/organizations/"+orgID+"/invites", map[string]any{"target_email": fmt.Sprintf("joiner%d@example.com", n), "level": level}, 201)
	res := (&client{env: m.e}).must("POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "Joiner", "password": "correct horse"}, 201)
	return res.str("uuid")
}

// invite makes an invite into orgID (A or one the owner made) and returns its id.
func (m *matrix) invite(orgID string, level int) string {
	m.e.t.Helper()
	email := fmt.Sprintf("invitee%d@example.com", m.next())
	return m.e.owner.must("POST", "/api/organizations/"+orgID+"/invites", map[string]any{"target_email": email, "level": level}, 201).str("id")
}

// hostInvite makes an invite into organization D, which no persona belongs to.
func (m *matrix) hostInvite() string {
	m.e.t.Helper()
	email := fmt.Sprintf("guest%d@example.com", m.next())
	return m.spare.must("POST", "/api/organizations/"+m.orgD+"/invites", map[string]any{"target_email": email}, 201).str("id")
}

// enter makes client c a member of orgID at level, through an invite it accepts.
func (m *matrix) enter(c *client, orgID string, level int) {
	m.e.t.Helper()
	c.must("POST", "/api/signup/"+m.invite(orgID, level), nil, 200)
}

// setCurrent switches c's current organization.
func (m *matrix) setCurrent(c *client, orgID string) {
	m.e.t.Helper()
	c.must("PATCH", "/api/users/@me", map[string]any{"set_current_organization": orgID}, 200)
}

// domain adds a fresh domain to organization A.
func (m *matrix) domain() string {
	m.e.t.Helper()
	return m.e.owner.must("POST", m.e.orgPath("/domains"), map[string]any{"domain": fmt.Sprintf("m%d.example.test", m.next())}, 201).str("id")
}

func (m *matrix) newRole() string {
	m.e.t.Helper()
	return m.e.owner.must("POST", m.e.orgPath("/roles"), map[string]any{"name": fmt.Sprintf("role %d", m.next())}, 201).str("id")
}

func (m *matrix) orgDefault() string {
	m.e.t.Helper()
	m.defaultsTouched = true
	return m.e.owner.must("POST", m.e.orgPath("/resource_access"), map[string]any{"resource": "cohorts", "access_level": 37}, 201).str("id")
}

// dropDefaults deletes every organization default, so that no cell's default changes
// another cell's levels.
func (m *matrix) dropDefaults() {
	m.e.t.Helper()
	for _, d := range m.e.owner.must("GET", m.e.orgPath("/resource_access"), nil, 200).list("results") {
		m.e.owner.must("DELETE", m.e.orgPath("/resource_access/"+d.(map[string]any)["id"].(string)), nil, 204)
	}
}

// requestsOnFreePlan: every access-request write is a rule change, refused with 402 to
// whoever passes authorization, before the handler could refuse them otherwise.
var requestsOnFreePlan = [numPersonas]int{401, 401, 404, 402, 402, 402, 402}

// spareAsks makes the spare member ask for manager on a fresh flag; it returns the
// request's id.
func (m *matrix) spareAsks() string {
	m.e.t.Helper()
	path := m.e.owner.create(0)
	return m.spare.as(m.e).must("POST", path+"/access_requests", map[string]any{"access_level": "manager", "reason": "matrix", "duration_seconds": 3600}, 201).str("id")
}

func lastSegment(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// newMatrix builds the world on a fresh database of dialect; the requests under test go to
// a server on the plan, on the same database.
func newMatrix(t *testing.T, dialect string, plan license.Plan) *matrix {
	t.Helper()
	db := sqltest.Open(t, dialect)
	e := newEnvOn(t, db, license.Enterprise)
	m := &matrix{e: e, target: e}
	if plan != license.Enterprise {
		m.target = &env{t: t, srv: newServer(t, db, plan), owner: e.owner, orgID: e.orgID, proj: e.proj}
	}
	m.who[member] = e.member(1)
	m.who[viewOnly] = e.member(1)
	m.who[admin] = e.member(8)
	m.who[owner] = e.owner
	m.spare = e.member(1)

	// The view-only role: viewer on every kind; no organization defaults exist, so a
	// view-only role restricts its members (docs/access-model.md, last row of the table).
	levels := map[string]any{}
	for _, k := range kinds {
		levels[k.v1] = 21
	}
	viewRole := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "view only"}, 201).str("id")
	e.owner.must("PATCH", e.orgPath("/roles/"+viewRole), map[string]any{"resource_access_levels": levels}, 200)
	e.owner.must("POST", e.orgPath("/roles/"+viewRole+"/role_memberships"), map[string]any{"user_uuid": m.who[viewOnly].uuid}, 201)

	m.scratchRole = e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "scratch"}, 201).str("id")
	m.sharedRole = m.newRole()
	m.sharedRoleMember = e.owner.must("POST", e.orgPath("/roles/"+m.sharedRole+"/role_memberships"), map[string]any{"user_uuid": m.spare.uuid}, 201).str("id")
	for ki := range kinds {
		m.objects[ki] = e.owner.create(ki)
		m.grants[ki] = e.owner.must("POST", m.objects[ki]+"/role_access", map[string]any{"role_id": m.scratchRole}, 201).str("id")
	}
	m.flagID = lastSegment(m.objects[0])

	// The foreigner owns organization B and belongs to nothing else.
	m.orgB = e.owner.must("POST", "/api/organizations", map[string]any{"name": "B"}, 201).str("id")
	m.setCurrent(e.owner, e.orgID)
	m.orgD = m.spare.must("POST", "/api/organizations", map[string]any{"name": "D"}, 201).str("id")
	inv := e.owner.must("POST", "/api/organizations/"+m.orgB+"/invites", map[string]any{"target_email": "foreigner@example.com", "level": 15}, 201)
	hc := jarClient()
	if r := rawDo(t, hc, e.srv.URL, "POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "Fred", "password": "correct horse"}, nil); r.status != 201 {
		t.Fatalf("foreigner signup = %d %s", r.status, r.raw)
	}
	m.who[foreigner] = e.keyClient(hc, "foreigner@example.com")
	// A user to log in as.
	inv = m.spare.must("POST", "/api/organizations/"+m.orgD+"/invites", map[string]any{"target_email": "login@example.com"}, 201)
	(&client{env: e}).must("POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "Lou", "password": "correct horse"}, 201)

	m.who[anonymous] = &client{env: e}
	m.who[unknownKey] = &client{env: e, token: "phx_" + strings.Repeat("x", 43)}
	return m
}

// matrixRows is the authorization matrix: every API route with what each persona gets.
func matrixRows() []matrixRow {
	none := func(*matrix, persona) (map[string]string, any) { return nil, nil }
	body := func(b func(m *matrix) any) func(*matrix, persona) (map[string]string, any) {
		return func(m *matrix, _ persona) (map[string]string, any) { return nil, b(m) }
	}
	fixed := func(b any) func(*matrix, persona) (map[string]string, any) {
		return func(*matrix, persona) (map[string]string, any) { return nil, b }
	}
	rows := []matrixRow{
		{pattern: "GET /_health", want: everyone(200), setup: none},
		{pattern: "GET /_ready", want: everyone(200), setup: none},
		{pattern: "GET /metrics", want: everyone(200), setup: none},
		{pattern: "GET /api/schema", want: everyone(200), setup: none},

		// Accounts. Signup is closed once a user exists, for everyone alike;
		// anyone may ask whether it is.
		{pattern: "GET /api/signup", want: everyone(200), setup: none},
		{pattern: "GET /api/login/providers", want: everyone(200), setup: none},
		{pattern: "POST /api/signup", want: everyone(403), setup: body(func(m *matrix) any {
			return map[string]any{"email": fmt.Sprintf("new%d@example.com", m.next()), "password": "correct horse", "first_name": "N"}
		})},
		// An invite (to an organization no persona is in) signs up the anonymous and
		// joins the signed-in; a bad key is no credential at all on a public route.
		{pattern: "POST /api/signup/{invite}", want: [numPersonas]int{201, 201, 200, 200, 200, 200, 200},
			setup: func(m *matrix, p persona) (map[string]string, any) {
				return map[string]string{"invite": m.hostInvite()}, map[string]any{"first_name": "I", "password": "correct horse"}
			}},
		{pattern: "POST /api/login", want: everyone(200), setup: fixed(map[string]any{"email": "login@example.com", "password": "correct horse"})},
		{pattern: "POST /api/logout", want: everyone(204), setup: none},
		{pattern: "GET /api/users/@me", want: anyUser(200), setup: none},
		{pattern: "PATCH /api/users/@me", want: anyUser(200), setup: fixed(map[string]any{"first_name": "Renamed"})},
		{pattern: "GET /api/personal_api_keys", want: anyUser(200), setup: none},
		{pattern: "POST /api/personal_api_keys", want: anyUser(201), setup: fixed(map[string]any{"label": "matrix"})},
		{pattern: "DELETE /api/personal_api_keys/{id}", want: anyUser(204), setup: func(m *matrix, p persona) (map[string]string, any) {
			c := m.who[p]
			if c.token == "" || p == unknownKey {
				c = m.e.owner // the key exists; the caller is refused before it matters
			}
			return map[string]string{"id": c.must("POST", "/api/personal_api_keys", map[string]any{"label": "doomed"}, 201).str("id")}, nil
		}},

		// Organizations, members, invites.
		{pattern: "GET /api/organizations", want: anyUser(200), setup: none},
		{pattern: "POST /api/organizations", want: anyUser(201), setup: body(func(m *matrix) any { return map[string]any{"name": fmt.Sprintf("Org %d", m.next())} })},
		{pattern: "GET /api/organizations/{org}", want: members(200), setup: none},
		{pattern: "PATCH /api/organizations/{org}", want: admins(200), setup: fixed(map[string]any{"name": "Acme"})},
		// Deleting: a fresh organization per cell, which the persona joins at its level.
		{pattern: "DELETE /api/organizations/{org}", want: owners(204), setup: func(m *matrix, p persona) (map[string]string, any) {
			org := m.e.owner.must("POST", "/api/organizations", map[string]any{"name": "Doomed"}, 201).str("id")
			m.setCurrent(m.e.owner, m.e.orgID) // deleting C must not leave the owner without a current organization
			switch p {
			case member, viewOnly:
				m.enter(m.who[p], org, 1)
			case admin:
				m.enter(m.who[p], org, 8)
			}
			return map[string]string{"org": org}, nil
		}},
		{pattern: "GET /api/organizations/{org}/members", want: members(200), setup: none},
		{pattern: "GET /api/organizations/{org}/projects", want: members(200), setup: none},
		{pattern: "POST /api/organizations/{org}/projects", want: admins(201), setup: fixed(map[string]any{"name": "Another"})},
		{pattern: "PATCH /api/organizations/{org}/members/{user}", want: admins(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"user": m.spare.uuid}, map[string]any{"level": 1}
		}},
		// Members may leave by themselves, but only admins remove others.
		{pattern: "DELETE /api/organizations/{org}/members/{user}", want: admins(204), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"user": m.joinOrg(m.e.orgID, 1)}, nil
		}},
		{pattern: "GET /api/organizations/{org}/invites", want: admins(200), setup: none},
		{pattern: "POST /api/organizations/{org}/invites", want: admins(201), setup: body(func(m *matrix) any {
			return map[string]any{"target_email": fmt.Sprintf("invited%d@example.com", m.next())}
		})},
		{pattern: "DELETE /api/organizations/{org}/invites/{id}", want: admins(204), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.invite(m.e.orgID, 1)}, nil
		}},

		// Organization domains: admins manage them, owners verify; writes need the sso
		// feature, SCIM tokens the scim feature.
		{pattern: "GET /api/organizations/{org}/domains", want: admins(200), setup: none},
		{pattern: "POST /api/organizations/{org}/domains", want: admins(201), licensed: true, setup: body(func(m *matrix) any {
			return map[string]any{"domain": fmt.Sprintf("d%d.example.test", m.next())}
		})},
		{pattern: "GET /api/organizations/{org}/domains/{id}", want: admins(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.domain()}, nil
		}},
		{pattern: "PATCH /api/organizations/{org}/domains/{id}", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.domain()}, map[string]any{"jit_provisioning_enabled": true}
		}},
		{pattern: "DELETE /api/organizations/{org}/domains/{id}", want: admins(204), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.domain()}, nil
		}},
		{pattern: "POST /api/organizations/{org}/domains/{id}/verify", want: owners(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.domain()}, nil
		}},
		{pattern: "POST /api/organizations/{org}/domains/{id}/scim/token", want: admins(201), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.domain()}, nil
		}},

		// Projects. POST acts on the caller's current organization: the foreigner's is B,
		// which they own.
		{pattern: "GET /api/projects", want: anyUser(200), setup: none},
		{pattern: "POST /api/projects", want: [numPersonas]int{401, 401, 201, 403, 403, 201, 201}, setup: func(m *matrix, p persona) (map[string]string, any) {
			switch p {
			case foreigner:
				m.setCurrent(m.who[p], m.orgB)
			case member, viewOnly, admin, owner:
				m.setCurrent(m.who[p], m.e.orgID)
			}
			return nil, map[string]any{"name": "Another"}
		}},
		{pattern: "GET /api/projects/{project}", want: members(200), setup: none},
		{pattern: "PATCH /api/projects/{project}", want: admins(200), setup: fixed(map[string]any{"name": "Default project"})},
		{pattern: "DELETE /api/projects/{project}", want: admins(204), setup: func(m *matrix, p persona) (map[string]string, any) {
			m.setCurrent(m.e.owner, m.e.orgID)
			id := m.e.owner.must("POST", "/api/projects", map[string]any{"name": "Doomed"}, 201).num("id")
			return map[string]string{"project": fmt.Sprint(int64(id))}, nil
		}},

		// Role-based access, v1.
		{pattern: "GET /api/organizations/{org}/roles", want: members(200), setup: none},
		{pattern: "POST /api/organizations/{org}/roles", want: admins(201), licensed: true, setup: body(func(m *matrix) any {
			return map[string]any{"name": fmt.Sprintf("new role %d", m.next())}
		})},
		{pattern: "GET /api/organizations/{org}/roles/{role}", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.scratchRole}, nil
		}},
		{pattern: "PUT /api/organizations/{org}/roles/{role}", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.scratchRole}, map[string]any{"name": "scratch"}
		}},
		{pattern: "PATCH /api/organizations/{org}/roles/{role}", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.scratchRole}, map[string]any{"feature_flags_access_level": 37}
		}},
		{pattern: "DELETE /api/organizations/{org}/roles/{role}", want: admins(204), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.newRole()}, nil
		}},
		{pattern: "POST /api/organizations/{org}/roles/{role}/preview", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.scratchRole}, map[string]any{"feature_flags_access_level": 21, "add_members": []string{m.spare.uuid}}
		}},
		{pattern: "GET /api/organizations/{org}/roles/{role}/role_memberships", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.sharedRole}, nil
		}},
		{pattern: "POST /api/organizations/{org}/roles/{role}/role_memberships", want: admins(201), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.newRole()}, map[string]any{"user_uuid": m.spare.uuid}
		}},
		{pattern: "GET /api/organizations/{org}/roles/{role}/role_memberships/{id}", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"role": m.sharedRole, "id": m.sharedRoleMember}, nil
		}},
		{pattern: "DELETE /api/organizations/{org}/roles/{role}/role_memberships/{id}", want: admins(204), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			role := m.newRole()
			rm := m.e.owner.must("POST", m.e.orgPath("/roles/"+role+"/role_memberships"), map[string]any{"user_uuid": m.spare.uuid}, 201).str("id")
			return map[string]string{"role": role, "id": rm}, nil
		}},
		{pattern: "GET /api/organizations/{org}/resource_access", want: members(200), setup: none},
		{pattern: "POST /api/organizations/{org}/resource_access", want: admins(201), licensed: true,
			setup: func(m *matrix, p persona) (map[string]string, any) {
				m.defaultsTouched = true
				return nil, map[string]any{"resource": "cohorts", "access_level": 37}
			}},
		{pattern: "POST /api/organizations/{org}/resource_access/preview", want: admins(200), licensed: true, setup: body(func(m *matrix) any {
			return map[string]any{"resource": "cohorts", "access_level": 21}
		})},
		{pattern: "GET /api/organizations/{org}/resource_access/{id}", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.orgDefault()}, nil
		}},
		{pattern: "PUT /api/organizations/{org}/resource_access/{id}", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.orgDefault()}, map[string]any{"resource": "cohorts", "access_level": 37}
		}},
		{pattern: "PATCH /api/organizations/{org}/resource_access/{id}", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.orgDefault()}, map[string]any{"access_level": 37}
		}},
		{pattern: "DELETE /api/organizations/{org}/resource_access/{id}", want: admins(204), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return map[string]string{"id": m.orgDefault()}, nil
		}},
		{pattern: "GET /api/organizations/{org}/activity_log", want: admins(200), setup: none},

		// Role-based access, v2.
		{pattern: "GET /api/projects/{project}/resource_access_controls", want: members(200), setup: none},
		{pattern: "PUT /api/projects/{project}/resource_access_controls", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return nil, map[string]any{"resource": "feature_flag", "access_level": "editor", "role": m.scratchRole}
		}},
		{pattern: "POST /api/projects/{project}/resource_access_controls/preview", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return nil, map[string]any{"resource": "feature_flag", "access_level": "viewer"}
		}},
		{pattern: "GET /api/projects/{project}/access_controls", want: members(200), setup: none},
		{pattern: "POST /api/projects/{project}/access_controls/preview", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return nil, map[string]any{"access_level": "none"}
		}},
		{pattern: "PUT /api/projects/{project}/access_controls", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
			return nil, map[string]any{"access_level": "member", "role": m.scratchRole}
		}},
		{pattern: "GET /api/projects/{project}/activity_log", want: members(200), setup: none},
		{pattern: "POST /api/projects/{project}/access/check", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
			return nil, map[string]any{"checks": []any{map[string]any{"kind": "feature_flags", "id": m.flagID, "action": "edit"}}}
		}},

		// Access requests. Members ask (admins manage everything already: 400); a request
		// is read and decided by managers, and cancelled by its requester, here the spare
		// member on a fresh flag unless the persona asked itself.
		{pattern: "POST /api/projects/{project}/access_requests", want: [numPersonas]int{401, 401, 404, 201, 201, 400, 400}, licensed: true,
			free: &requestsOnFreePlan, setup: fixed(map[string]any{"resource": "cohort", "access_level": "manager", "reason": "matrix"})},
		{pattern: "GET /api/projects/{project}/access_requests", want: members(200), setup: none},
		{pattern: "GET /api/projects/{project}/access_requests/{id}", want: [numPersonas]int{401, 401, 404, 403, 403, 200, 200},
			setup: func(m *matrix, p persona) (map[string]string, any) {
				return map[string]string{"id": m.spareAsks()}, nil
			}},
		{pattern: "POST /api/projects/{project}/access_requests/{id}/approve", want: [numPersonas]int{401, 401, 404, 403, 403, 200, 200}, licensed: true,
			free: &requestsOnFreePlan, setup: func(m *matrix, p persona) (map[string]string, any) {
				return map[string]string{"id": m.spareAsks()}, map[string]any{"duration_seconds": 60}
			}},
		{pattern: "POST /api/projects/{project}/access_requests/{id}/deny", want: [numPersonas]int{401, 401, 404, 403, 403, 200, 200}, licensed: true,
			free: &requestsOnFreePlan, setup: func(m *matrix, p persona) (map[string]string, any) {
				return map[string]string{"id": m.spareAsks()}, map[string]any{"reason": "no"}
			}},
		{pattern: "POST /api/projects/{project}/access_requests/{id}/cancel", want: [numPersonas]int{401, 401, 404, 200, 200, 403, 403}, licensed: true,
			free: &requestsOnFreePlan, setup: func(m *matrix, p persona) (map[string]string, any) {
				if p == member || p == viewOnly {
					path := m.e.owner.create(0)
					return map[string]string{"id": m.who[p].must("POST", path+"/access_requests", map[string]any{"access_level": "manager", "reason": "matrix"}, 201).str("id")}, nil
				}
				return map[string]string{"id": m.spareAsks()}, nil
			}},
	}

	// Resources: every kind, every route. Objects are the owner's; the plain member edits
	// them by default, the view-only member only views them, and only managers (admins,
	// the creator) change their access.
	for ki, k := range kinds {
		base := "/api/projects/{project}/" + k.path
		obj := base + "/{id}"
		shared := func(m *matrix, p persona) map[string]string {
			return map[string]string{"id": lastSegment(m.objects[ki])}
		}
		fresh := func(m *matrix, p persona) map[string]string {
			return map[string]string{"id": lastSegment(m.e.owner.create(ki))}
		}
		edit := map[string]any{"name": "renamed"}
		if k.path == "session_recordings" {
			edit = map[string]any{"viewed": true}
		}
		del := matrixRow{pattern: "DELETE " + obj, want: editors(204), setup: func(m *matrix, p persona) (map[string]string, any) { return fresh(m, p), nil }}
		if k.path == "feature_flags" {
			// Flags are only soft-deleted (PATCH {"deleted": true}), as in PostHog: 405
			// for whoever may edit the flag.
			del.want = [numPersonas]int{401, 401, 404, 405, 403, 405, 405}
		}
		rows = append(rows,
			matrixRow{pattern: "GET " + base, want: members(200), setup: none},
			matrixRow{pattern: "POST " + base, want: editors(201), setup: func(m *matrix, p persona) (map[string]string, any) {
				return nil, k.body(int(m.next()))
			}},
			matrixRow{pattern: "GET " + obj, want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), nil }},
			matrixRow{pattern: "PATCH " + obj, want: editors(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), edit }},
			matrixRow{pattern: "PUT " + obj, want: editors(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), edit }},
			del,
			matrixRow{pattern: "GET " + obj + "/role_access", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), nil }},
			matrixRow{pattern: "POST " + obj + "/role_access", want: admins(201), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
				return fresh(m, p), map[string]any{"role_id": m.scratchRole}
			}},
			matrixRow{pattern: "GET " + obj + "/role_access/{grant}", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) {
				v := shared(m, p)
				v["grant"] = m.grants[ki]
				return v, nil
			}},
			matrixRow{pattern: "DELETE " + obj + "/role_access/{grant}", want: admins(204), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
				path := m.e.owner.create(ki)
				g := m.e.owner.must("POST", path+"/role_access", map[string]any{"role_id": m.scratchRole}, 201).str("id")
				return map[string]string{"id": lastSegment(path), "grant": g}, nil
			}},
			matrixRow{pattern: "GET " + obj + "/access_controls", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), nil }},
			matrixRow{pattern: "PUT " + obj + "/access_controls", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
				return shared(m, p), map[string]any{"access_level": "editor", "role": m.scratchRole}
			}},
			matrixRow{pattern: "POST " + obj + "/access_controls/preview", want: admins(200), licensed: true, setup: func(m *matrix, p persona) (map[string]string, any) {
				return shared(m, p), map[string]any{"access_level": "none"}
			}},
			matrixRow{pattern: "GET " + obj + "/users_with_access", want: members(200), setup: func(m *matrix, p persona) (map[string]string, any) { return shared(m, p), nil }},
			matrixRow{pattern: "POST " + obj + "/access_requests", want: [numPersonas]int{401, 401, 404, 201, 201, 400, 400}, licensed: true,
				free: &requestsOnFreePlan, setup: func(m *matrix, p persona) (map[string]string, any) {
					return fresh(m, p), map[string]any{"access_level": "manager", "reason": "matrix", "duration_seconds": 3600}
				}},
		)
	}
	return rows
}

// expand fills a pattern's {names} from vars, then from the matrix's organization and project.
func (m *matrix) expand(t *testing.T, pattern string, vars map[string]string) (method, path string) {
	t.Helper()
	method, path, _ = strings.Cut(pattern, " ")
	for {
		i := strings.Index(path, "{")
		if i < 0 {
			return method, path
		}
		j := strings.Index(path[i:], "}") + i
		name := path[i+1 : j]
		v, ok := vars[name]
		if !ok {
			switch name {
			case "org":
				v, ok = m.e.orgID, true
			case "project":
				v, ok = fmt.Sprint(m.e.proj), true
			}
		}
		if !ok {
			t.Fatalf("%s: no value for {%s}", pattern, name)
		}
		path = path[:i] + v + path[j+1:]
	}
}

// TestAuthorizationMatrixCoversEveryRoute fails when a route is added without a row in the
// matrix (or in uiRoutes), or a row names a route that no longer exists.
func TestAuthorizationMatrixCoversEveryRoute(t *testing.T) {
	routes := server.New(server.Config{Passwords: server.Passwords{Memory: 8, Time: 1, Threads: 1}}).Routes()
	rows := map[string]bool{}
	for _, r := range matrixRows() {
		if rows[r.pattern] {
			t.Errorf("matrix has two rows for %q", r.pattern)
		}
		rows[r.pattern] = true
	}
	registered := map[string]bool{}
	for _, p := range routes {
		registered[p] = true
		if strings.Contains(p, " /scim/") {
			continue // no persona's key opens them, only a domain's SCIM token: TestSCIMAuthentication
		}
		inMatrix, inUI := rows[p], slices.Contains(uiRoutes, p)
		switch {
		case inMatrix && inUI:
			t.Errorf("route %q is both a matrix row and a UI route", p)
		case !inMatrix && !inUI:
			t.Errorf("route %q has no row in the authorization matrix (server/authz_test.go): add one with the status each persona must get", p)
		}
	}
	for p := range rows {
		if !registered[p] {
			t.Errorf("matrix row %q names no registered route", p)
		}
	}
	for _, p := range uiRoutes {
		if !registered[p] {
			t.Errorf("uiRoutes lists %q, which is not registered", p)
		}
	}
}

// TestAuthorizationMatrix sends every route a real request, with a valid body, as each
// persona, and checks the status: on the enterprise plan (SQLite and PostgreSQL) and on the
// free plan (SQLite; only the rows the plan changes: licensed writes and what the view-only
// role restricts). Refusals must be PostHog-shaped with the code their status implies.
func TestAuthorizationMatrix(t *testing.T) {
	variants := []struct {
		dialect string
		plan    license.Plan
	}{{"sqlite", license.Enterprise}, {"postgres", license.Enterprise}, {"sqlite", license.Free}}
	for _, v := range variants {
		t.Run(v.dialect+"/"+string(v.plan), func(t *testing.T) {
			t.Parallel()
			m := newMatrix(t, v.dialect, v.plan)
			cells := 0
			for _, row := range matrixRows() {
				want := row.want
				if v.plan == license.Free {
					if !row.licensed && row.want[viewOnly] == row.want[member] {
						continue // the same as on the enterprise plan, checked there
					}
					want = row.onFreePlan()
				}
				for p := range numPersonas {
					vars, body := row.setup(m, p)
					method, path := m.expand(t, row.pattern, vars)
					res := send(t, m.target.srv.URL, method, path, m.who[p].token, body)
					cells++
					if res.status != want[p] {
						t.Errorf("%s as %v: %s %s = %d %s, want %d", row.pattern, p, method, path, res.status, res.raw, want[p])
					} else if res.status >= 400 {
						checkRefusal(t, res, p)
					}
					// Organization defaults change levels: none may outlive its cell.
					if m.defaultsTouched {
						m.dropDefaults()
						m.defaultsTouched = false
					}
				}
			}
			t.Logf("%d cells", cells)
		})
	}
}

// send is client.do that also takes answers that are not JSON (/metrics): their body is
// left nil. A JSON answer that does not decode fails the test.
func send(t testing.TB, base, method, path, token string, body any) *result {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return roundTrip(t, http.DefaultClient, base, method, path, body, h, false)
}

// checkRefusal checks a refusal's body against the status: PostHog's shape and the code the
// status stands for.
func checkRefusal(t *testing.T, res *result, p persona) {
	t.Helper()
	code := map[int]string{401: "not_authenticated", 402: "payment_required", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed"}[res.status]
	if res.status == 401 && p == unknownKey {
		code = "authentication_failed"
	}
	obj, ok := res.body.(map[string]any)
	if !ok || len(obj) != 4 {
		t.Errorf("refusal %d as %v is not {type, code, detail, attr}: %s", res.status, p, res.raw)
		return
	}
	for _, k := range []string{"type", "code", "detail", "attr"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("refusal %d as %v lacks %q: %s", res.status, p, k, res.raw)
		}
	}
	if code != "" && res.str("code") != code {
		t.Errorf("refusal %d as %v: code %q, want %q (%s)", res.status, p, res.str("code"), code, res.raw)
	}
}
