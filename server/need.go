package server

// The vocabulary routes.go declares each route's authorization in.

import (
	"github.com/gatehouse/gatehouse/access"
)

// scope is how much of the URL a route's authorization resolves.
type scope uint8

const (
	scopePublic  scope = iota // anyone
	scopeUser                 // any signed-in user
	scopeOrg                  // a member of {org}
	scopeProject              // a member allowed into {project}
	scopeKind                 // {project}, then a level on a new object of the kind
	scopeObject               // {project} and {id}, then a level on that object
	scopeSCIM                 // {domain_id}'s SCIM client, by the domain's bearer token
)

// need is a route's authorization requirement, declared where it is registered.
type need struct {
	scope      scope
	membership int          // scopeOrg: the least membership level
	project    bool         // scopeProject: needs project admin (org admin+ or a project admin rule)
	kind       access.Kind  // scopeKind, scopeObject
	level      access.Level // scopeKind, scopeObject: the least level
	// licensed: the route changes access configuration, which needs the
	// role_based_access feature (402 otherwise, as PostHog does).
	needsLicence bool
	// feature: the route's writes need this licence feature (402 otherwise):
	// organization domains need sso, SCIM tokens scim.
	feature string
	// query: a POST that only asks (access/check) and changes nothing.
	query bool
	// row: scopeObject, the handler shows the object's row, so authorization
	// reads it rather than only the head.
	row bool
	// deletesProject: scopeProject, the route destroys the project and every
	// object in it, which only organization admins may (access.MayDeleteProject).
	deletesProject bool
	// removal: scopeOrg, {user} is a member the caller may remove
	// (access.MayRemoveMember: themselves, or, for an admin, a member at or
	// below their level); it is resolved into call.target.
	removal bool
	// current: scopeOrg on a route that names no {org} (POST /api/projects, as
	// PostHog has it): the caller's current organization. Resolved here, not in
	// the handler, so that its write is tied to the decision like any other
	// and decided again when the rules change under it.
	current bool
}

var (
	public         = need{scope: scopePublic}
	signedIn       = need{scope: scopeUser}
	orgMember      = need{scope: scopeOrg, membership: access.MemberLevel}
	orgAdmin       = need{scope: scopeOrg, membership: access.AdminLevel}
	orgOwner       = need{scope: scopeOrg, membership: access.OwnerLevel}
	orgAdminOrSelf = need{scope: scopeOrg, membership: access.MemberLevel, removal: true}
	currentAdmin   = need{scope: scopeOrg, membership: access.AdminLevel, current: true}
	projectMember  = need{scope: scopeProject}
	projectAdmin   = need{scope: scopeProject, project: true}
	projectDelete  = need{scope: scopeProject, deletesProject: true}
	scimClient     = need{scope: scopeSCIM}
)

func kindLevel(k access.Kind, l access.Level) need {
	return need{scope: scopeKind, kind: k, level: l}
}

func objectLevel(k access.Kind, l access.Level) need {
	return need{scope: scopeObject, kind: k, level: l}
}

func (n need) licensed() need { n.needsLicence = true; return n }

func (n need) licensedFor(feature string) need { n.feature = feature; return n }

func (n need) asks() need { n.query = true; return n }

func (n need) withRow() need { n.row = true; return n }
