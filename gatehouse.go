// Package gatehouse holds the domain: the workspace's entities, the one
// application error type and the storage contract. It has no I/O; storage
// lives in sqlstore, the HTTP API in server and the access decision in access.
package gatehouse

import (
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// User is a person with a login. CurrentOrganizationID and CurrentProjectID
// mirror PostHog's "current organization/team", which `@current` resolves to.
type User struct {
	ID                    int64
	UUID                  string
	DistinctID            string
	Email                 string
	FirstName             string
	PasswordHash          string
	CurrentOrganizationID string
	CurrentProjectID      int64
	CreatedAt             time.Time
	// DisabledAt is when deprovisioning left the user in no organization: no session,
	// key or sign-in lets them in while it is set.
	DisabledAt *time.Time
}

// Session is a browser login; only the SHA-256 of its token is stored.
type Session struct {
	TokenHash string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// OIDCLogin is a sign-in with OpenID Connect between the redirect to the provider and
// the provider's redirect back: what the callback checks the answer against.
type OIDCLogin struct {
	StateHash   string // SHA-256 of the state sent to the provider
	BrowserHash string // SHA-256 of the cookie that binds the sign-in to its browser
	Nonce       string // the ID token must carry it
	Verifier    string // the PKCE code verifier
	Next        string // the local path to land on
	ExpiresAt   time.Time
}

// APIKey is a personal API key; only the SHA-256 of its value is stored.
type APIKey struct {
	ID         string
	UserID     int64
	Label      string
	ValueHash  string
	MaskValue  string // "phx_…abcd", safe to show again
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Organization is the tenant: every rule, role and project belongs to one.
type Organization struct {
	ID        string // UUID
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// RulesRevision grows with every permission change in the organization,
	// in the same transaction, so any replica can tell whether its compiled
	// snapshot is stale with one indexed read.
	RulesRevision int64
}

// UserOrganization is one organization a user belongs to, with their level.
type UserOrganization struct {
	Organization
	Level int
}

// Membership is a user's place in an organization (level 1, 8 or 15).
type Membership struct {
	ID             string // UUID
	OrganizationID string
	User           User
	Level          int
	JoinedAt       time.Time
	UpdatedAt      time.Time
}

// Invite lets whoever holds its id join the organization at Level.
type Invite struct {
	ID             string // UUID
	OrganizationID string
	TargetEmail    string
	Level          int
	CreatedBy      int64
	CreatedAt      time.Time
}

// Project is PostHog's "team": the container of resources.
type Project struct {
	ID             int64
	UUID           string
	OrganizationID string
	Name           string
	APIToken       string
	CreatedAt      time.Time
}

// Resource is one object of any of the seven kinds. The kinds share storage,
// handlers and access; only the fields inside Data and their validation differ.
type Resource struct {
	ID        int64
	Kind      access.Kind
	ProjectID int64
	// Key is the kind's natural key where it has one: a flag's key, an
	// insight's short_id, a session recording's string id. Unique per project
	// and kind among live objects; "" when the kind has none.
	Key       string
	CreatedBy int64 // 0 when unknown
	CreatedAt time.Time
	UpdatedAt time.Time
	Deleted   bool
	Data      json.RawMessage // the kind's own fields, a JSON object
}

// Object is what the access decision needs to know about r.
func (r *Resource) Object() access.Object {
	return access.Object{ID: r.ID, Kind: r.Kind, Project: r.ProjectID, Creator: r.CreatedBy}
}

// Role is a named group of members holding a level for every kind.
type Role struct {
	ID             string // UUID
	OrganizationID string
	Name           string
	Levels         [access.NumKinds]access.Level
	CreatedBy      int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RoleMembership puts a user in a role.
type RoleMembership struct {
	ID        string // UUID
	RoleID    string
	User      User
	JoinedAt  time.Time
	UpdatedAt time.Time
}

// Rule is a stored access rule: v1 organization defaults (kind rules for
// everyone, project 0), v1 role access on objects (object rules for a role
// at editor), and every v2 access control.
type Rule struct {
	ID             string // UUID
	OrganizationID string
	access.Rule
	CreatedBy int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AccessRequest asks for a higher level on one object, or on a whole kind in a project,
// for a while or for good; the people who may change the object's rules decide it.
type AccessRequest struct {
	ID             string // UUID
	OrganizationID string
	Project        int64
	Kind           access.Kind
	Object         int64 // 0: the whole kind in the project
	RequestedBy    int64
	Level          access.Level  // viewer, editor or manager
	Reason         string        // the requester's
	Duration       time.Duration // whole seconds; 0: none asked
	Status         string        // RequestPending, RequestApproved, RequestDenied or RequestCancelled
	DecidedBy      int64         // 0 while pending (or when the decider's account is gone)
	DecidedAt      time.Time     // zero while pending
	DecisionReason string        // the decider's, on a denial
	RuleID         string        // the member rule an approval wrote
	CreatedAt      time.Time
}

// The statuses of an access request: pending until approved, denied or cancelled, once.
const (
	RequestPending   = "pending"
	RequestApproved  = "approved"
	RequestDenied    = "denied"
	RequestCancelled = "cancelled"
)

// RequestStatuses lists every status, pending first.
var RequestStatuses = []string{RequestPending, RequestApproved, RequestDenied, RequestCancelled}

// AccessRequestFilter selects access requests of one project, newest first.
type AccessRequestFilter struct {
	OrganizationID      string
	Project             int64
	OptionalStatus      string // "" = any
	OptionalRequestedBy int64  // 0 = anyone
}

// RequestDecision is what becomes of a pending access request.
type RequestDecision struct {
	Status string // RequestApproved, RequestDenied or RequestCancelled
	Reason string // a denial's
	// Approval: the member rule written at Level, expiring at ExpiresAt (zero: never).
	Level     access.Level
	ExpiresAt time.Time
	// Check, when set, is asked inside the deciding transaction with the stored, still
	// pending request, before anything is written: an error from it is returned as is.
	Check func(*AccessRequest) error
}

// Change is one field's before and after in an activity-log entry.
type Change struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Activity is an activity-log row, written in the same transaction as the
// change it records.
type Activity struct {
	ID             int64
	OrganizationID string
	ProjectID      int64  // 0 for organization-wide changes
	ObjectID       int64  // the object a rule change is about; 0 when the change is about none
	Scope          string // what changed: "Role", "RoleMembership", "AccessControl", "Membership", …
	Activity       string // "created", "updated", "deleted"
	ItemID         string
	UserID         int64 // the actor
	User           *User
	// ActorName names an actor that is no user, such as "SCIM (acme.test)"; "" for a user.
	ActorName string
	Changes   []Change
	CreatedAt time.Time
}

// ActivityFilter selects activity-log rows, newest first.
type ActivityFilter struct {
	OrganizationID    string
	OptionalProjectID int64  // 0 = any
	OptionalItemID    string // "" = any
	OptionalUserID    int64  // 0 = any
	// OptionalObjects, when set, keeps of the rows about an object (ObjectID ≠ 0) only
	// those about one it lists: a reader's view lists the objects the reader may see, so
	// that a row about any other, even one written after the list was made, is left out
	// of the page and of the count.
	OptionalObjects *[]int64
	Limit, Offset   int
}

// RuleFilter selects rules of one organization.
type RuleFilter struct {
	OrganizationID  string
	OptionalScope   *access.Scope
	OptionalProject *int64
	OptionalKind    *access.Kind
	OptionalObject  *int64
}

// The values of Domain.SSOEnforcement.
const (
	SSONone = ""
	SSOOIDC = "oidc"
)

// Domain is an email domain an organization claims: once verified, people whose
// email is at it may sign in through the instance's identity provider (and join,
// with JIT provisioning), and its SCIM client provisions the organization's members.
type Domain struct {
	ID             string // UUID
	OrganizationID string
	// Domain is the DNS name, lower-cased; unique across the instance.
	Domain                 string
	VerifiedAt             *time.Time // nil until an owner verifies it
	JITProvisioningEnabled bool
	SSOEnforcement         string // SSONone or SSOOIDC
	SCIMEnabled            bool
	// SCIMTokenHash is the SHA-256 (hex) of the SCIM bearer token; "" while none was made.
	SCIMTokenHash string
	CreatedAt     time.Time
}

// Verified reports whether an owner has verified the domain: only then does it
// take part in sign-in and provisioning.
func (d *Domain) Verified() bool { return d.VerifiedAt != nil }

// SCIMUser is a user a domain's SCIM client provisioned, as the client calls them.
type SCIMUser struct {
	DomainID   string
	User       User
	UserName   string
	ExternalID string
	GivenName  string
	FamilyName string
	// Active is whether the client has the user active: an inactive user keeps the link
	// but not the membership.
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}
