// Package access decides what a user may do with a resource: the level (none, viewer, editor,
// manager) and the source that gave it. It generalises PostHog's role-based access (2023) to
// every resource kind and to the per-member and per-project rules PostHog added later.
//
// Storage loads an organization's Facts; Compile turns them into an immutable Snapshot that
// answers every request of that organization until the facts change. Nothing else in
// Gatehouse decides access.
package access

// Decision is the level a user has on an object and where it came from.
type Decision struct {
	Level  Level
	Source Source
	Role   string // the role id whose rule gave the level when Source is SourceRole or SourceExplicitRole; else ""
}

// NoAccess reports that the user must not even learn the object exists: the API answers 404,
// never 403, as PostHog does across organizations.
func (d Decision) NoAccess() bool {
	return d.Source == SourceOrganization || d.Source == SourceProject
}

// CanView reports whether the level allows reading the object.
func (d Decision) CanView() bool { return d.Level >= Viewer }

// CanEdit reports whether the level allows changing the object.
func (d Decision) CanEdit() bool { return d.Level >= Editor }

// CanManage reports whether the level allows changing the object's access rules.
func (d Decision) CanManage() bool { return d.Level == Manager }

// Facts are everything the decision needs about one organization, loaded by storage beforehand.
//
// Compile tolerates untidy facts rather than failing a request over them: a repeated member
// user or role id keeps its first entry; rules naming an unknown role, a non-member, an
// unknown kind, scope or level, or both a role and a user are ignored.
type Facts struct {
	Enforced bool // the organization's plan has role_based_access; false = free plan
	// Now is the instant the snapshot is compiled for, in Unix nanoseconds: rules that
	// expire at or before it are left out (Snapshot.ValidUntil says until when the
	// snapshot may decide). Compile never reads the clock itself.
	Now     int64
	Members []Member
	Roles   []Role
	Rules   []Rule
}

// Member is one membership of the organization.
type Member struct {
	User  int64
	Level int // MemberLevel, AdminLevel or OwnerLevel
}

// Role is a named group of members with a level for every kind (PostHog's v1 role levels).
// Every role contributes its level for a kind to its members' type level, so a zero Levels
// means none for every kind, not "no opinion".
type Role struct {
	ID      string
	Name    string
	Levels  [NumKinds]Level
	Members []int64 // user ids
}

// Scope is what a rule applies to.
type Scope uint8

// The scopes, from broadest to narrowest.
const (
	ScopeProject Scope = iota
	ScopeKind
	ScopeObject
)

// Rule targets everyone (Role == "" && User == 0), one role (Role != ""), or one member (User != 0).
type Rule struct {
	Scope Scope
	// ScopeProject: the project. ScopeKind: 0 = organization-wide (v1 resource_access,
	// the organization default), else one project (v2 resource_access_controls).
	// ScopeObject: ignored, the object is named by Kind and Object.
	Project      int64
	Kind         Kind  // ScopeKind and ScopeObject
	Object       int64 // ScopeObject
	Role         string
	User         int64
	Level        Level        // ScopeKind, ScopeObject
	ProjectLevel ProjectLevel // ScopeProject
	// ExpiresAt is the instant the rule stops granting anything, in Unix nanoseconds;
	// 0: never.
	ExpiresAt int64
}

// ExpiredAt reports whether the rule grants nothing at now (Unix nanoseconds).
func (r *Rule) ExpiredAt(now int64) bool { return r.ExpiresAt != 0 && r.ExpiresAt <= now }

// Object is what the decision needs to know about one resource.
type Object struct {
	ID      int64
	Kind    Kind
	Project int64
	Creator int64 // 0 = none
}
