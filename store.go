package gatehouse

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/access"
)

// Store is the storage contract. sqlstore implements it on SQLite and on
// PostgreSQL; sqlstore/storetest holds the conformance suite both run.
//
// Unless a method says otherwise: a missing row is an *Error with code
// ENotFound; a uniqueness violation is an *Error with code EUnique and Attr
// naming the field; every method that changes who may do what (members,
// roles, role memberships, rules) writes its activity-log row and bumps the
// organization's RulesRevision in the same transaction, attributing the
// change to actor (a user id).
//
// Decisions are held to the write they guard: when ctx carries the rules
// revision its request was authorized on (WithDecidedRevision), every write
// in that organization that a decision guards (permission changes, objects,
// projects, invites, the organization itself) reads the organization's
// revision inside its own transaction and returns ErrStaleDecision (EConflict)
// when it has moved, writing nothing. On PostgreSQL the read holds the
// organization's row (FOR SHARE, or FOR UPDATE for permission changes), so a
// permission change and a write decided before it cannot both commit. A
// permission change that commits advances the revision ctx carries.
type Store interface {
	Close() error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error

	// CountUsers returns how many users exist (signup is open while 0).
	CountUsers(ctx context.Context) (int, error)
	// CreateFirstUser inserts u as CreateUser does, but only while no user
	// exists; ErrSignupClosed otherwise, with nothing written. However many
	// run at once, at most one user is created.
	CreateFirstUser(ctx context.Context, u *User) error
	// CreateUser inserts u, setting ID, UUID, DistinctID (if empty) and
	// CreatedAt. Returns EUnique attr "email" when the email (compared
	// case-insensitively) is taken.
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id int64) (*User, error)
	// UsersByID returns the users with these ids, in any order; unknown ids are left out.
	UsersByID(ctx context.Context, ids []int64) ([]User, error)
	UserByUUID(ctx context.Context, uuid string) (*User, error)
	// UserIDsByUUID returns the ids of the users with these uuids, in their order, 0 for a
	// uuid that names no user: one call for a batch of checks about many users.
	UserIDsByUUID(ctx context.Context, uuids []string) ([]int64, error)
	// UserByEmail compares case-insensitively.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser saves FirstName, PasswordHash, CurrentOrganizationID and CurrentProjectID.
	UpdateUser(ctx context.Context, u *User) error
	// LoginFailures returns the failed logins counted against each key in windows that
	// began after now−window; keys without any are left out.
	LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]int, error)
	// RecordLoginFailure counts one failed login against each key and returns each key's
	// count, this one included; a key whose window has run out starts a new one at now.
	// Every process on the database sees the counts. The counts are read in the
	// transaction that adds to them, so of several concurrent calls for one key each sees
	// a different count: the server counts a login before it checks the password, and so
	// checks no more passwords at once than the bound lets through.
	RecordLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) (map[string]int, error)
	// ForgiveLoginFailure takes back one failure counted against each key in its current
	// window (a login counted before its password was checked, and then let in); a key
	// left at none is forgotten.
	ForgiveLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) error
	// UpdateUserFunc reads the user (ENotFound when there is none), lets modify change
	// those fields, and saves them as UpdateUser does, in one transaction that holds the
	// row: two concurrent changes of different fields both survive. An error from modify
	// is returned as is and nothing is written.
	UpdateUserFunc(ctx context.Context, id int64, modify func(u *User) error) (*User, error)

	CreateSession(ctx context.Context, s Session) error
	// SessionUser returns the user of an unexpired session; ENotFound otherwise.
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (*User, error)
	DeleteSession(ctx context.Context, tokenHash string) error

	// CreateOIDCLogin stores a sign-in under way.
	CreateOIDCLogin(ctx context.Context, l OIDCLogin) error
	// TakeOIDCLogin deletes the sign-in with this state hash and returns it, so that a
	// state is honoured once whatever the replica; ENotFound when there is none or it
	// expired by now.
	TakeOIDCLogin(ctx context.Context, stateHash string, now time.Time) (*OIDCLogin, error)
	// JoinOrganization makes u a member at level (creating u first when u.ID is 0) in one
	// transaction, the activity row naming u as actor. EUnique attr "user" when u is a
	// member already, attr "email" when a new u's email is taken.
	JoinOrganization(ctx context.Context, orgID string, u *User, level int) (*Membership, error)
	// SyncSSORoles makes the member's sign-in-added role memberships follow groups: it
	// adds them to every role named in groups (case-insensitively, as role names are
	// compared) and removes those an earlier call added that groups no longer names,
	// leaving memberships added otherwise alone. Returns the roles joined and left;
	// ENotFound when userID is not a member.
	SyncSSORoles(ctx context.Context, orgID string, userID int64, groups []string) (joined, left []Role, err error)

	// CreateAPIKey inserts k, setting ID and CreatedAt.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKeys(ctx context.Context, userID int64) ([]APIKey, error)
	// DeleteAPIKey removes one of userID's keys; ENotFound when it is not theirs.
	DeleteAPIKey(ctx context.Context, userID int64, id string) error
	// APIKeyUser returns the owner of the key with this hash and records now
	// as its last use, at most once a minute per key so that authenticating
	// stays a read; ENotFound otherwise.
	APIKeyUser(ctx context.Context, valueHash string, now time.Time) (*User, error)

	// CreateOrganization inserts org (setting ID, CreatedAt), makes owner its
	// owner (level 15) and inserts first as its first project (setting
	// first's ID, UUID, OrganizationID, CreatedAt), all in one transaction.
	CreateOrganization(ctx context.Context, org *Organization, owner int64, first *Project) error
	Organization(ctx context.Context, id string) (*Organization, error)
	// OrganizationsOf lists the organizations userID belongs to, oldest membership first.
	OrganizationsOf(ctx context.Context, userID int64) ([]UserOrganization, error)
	// UpdateOrganization saves Name.
	UpdateOrganization(ctx context.Context, org *Organization) error
	// DeleteOrganization removes the organization and everything in it.
	DeleteOrganization(ctx context.Context, id string) error

	// Members lists an organization's memberships with users, oldest first.
	Members(ctx context.Context, orgID string) ([]Membership, error)
	Membership(ctx context.Context, orgID string, userID int64) (*Membership, error)
	// MembershipByID returns the organization's membership with this
	// membership id.
	MembershipByID(ctx context.Context, orgID, id string) (*Membership, error)
	// SetMemberLevel changes a member's level (activity scope "Membership").
	// Returns access.ErrLastOwnerDemote when the organization would be left
	// without an owner: the owners are counted inside the transaction, under
	// the organization's lock (access.KeepsOwner), so two owners demoting
	// each other at once cannot both succeed.
	SetMemberLevel(ctx context.Context, orgID string, userID int64, level int, actor int64) error
	// RemoveMember deletes the membership, the user's role memberships in the
	// organization and every rule targeting them there (activity "Membership").
	// Returns access.ErrLastOwnerLeave for the last owner, counted as
	// SetMemberLevel counts them.
	RemoveMember(ctx context.Context, orgID string, userID int64, actor int64) error

	// CreateInvite inserts inv, setting ID and CreatedAt.
	CreateInvite(ctx context.Context, inv *Invite) error
	Invites(ctx context.Context, orgID string) ([]Invite, error)
	Invite(ctx context.Context, id string) (*Invite, error)
	DeleteInvite(ctx context.Context, orgID, id string) error
	// AcceptInvite makes userID a member at the invite's level and deletes
	// the invite, in one transaction (activity "Membership", actor userID).
	// ENotFound when the invite is unknown or no longer honoured: its
	// inviter's membership, read inside the transaction, must still be at or
	// above its level (access.InviteHonoured). EUnique attr "user" when userID
	// is already a member. Nothing is written on an error.
	AcceptInvite(ctx context.Context, inviteID string, userID int64) (*Membership, error)
	// AcceptInviteAsNewUser creates u (as CreateUser) and accepts the invite
	// for it (as AcceptInvite) in one transaction: on any error, including an
	// invite no longer honoured, no user is left behind.
	AcceptInviteAsNewUser(ctx context.Context, inviteID string, u *User) (*Membership, error)

	// CreateProject inserts p, setting ID, UUID, APIToken (if empty) and CreatedAt.
	CreateProject(ctx context.Context, p *Project) error
	Projects(ctx context.Context, orgID string) ([]Project, error)
	Project(ctx context.Context, id int64) (*Project, error)
	// ProjectOrganization returns the project and its organization in one read.
	ProjectOrganization(ctx context.Context, id int64) (*Project, *Organization, error)
	// UpdateProject saves Name.
	UpdateProject(ctx context.Context, p *Project) error
	// DeleteProject removes the project, its resources and their rules.
	DeleteProject(ctx context.Context, id int64) error

	// CreateResource inserts r, setting ID, CreatedAt and UpdatedAt. EUnique
	// attr "key" when a live resource of the kind in the project has r.Key.
	CreateResource(ctx context.Context, r *Resource) error
	// Resource returns one resource of the kind in the project, deleted or not.
	Resource(ctx context.Context, projectID int64, kind access.Kind, id int64) (*Resource, error)
	// ResourceByKey returns the live resource with this key.
	ResourceByKey(ctx context.Context, projectID int64, kind access.Kind, key string) (*Resource, error)
	// ResourceHeads returns what the decision needs of the live resources of
	// the kind in the project, newest first (created_at desc, id desc): what
	// a list decides in memory before reading its page's rows. The answer may
	// be shared with other callers: it must not be modified.
	ResourceHeads(ctx context.Context, projectID int64, kind access.Kind) ([]access.Object, error)
	// HeadsByID appends to dst what the decision needs of the resources with
	// these ids (deleted or not), in any order; unknown ids are left out. A
	// caller answering many requests passes the same dst[:0] each time.
	HeadsByID(ctx context.Context, dst []access.Object, ids []int64) ([]access.Object, error)
	// ResourcesByID returns the resources with these ids, in the order given.
	ResourcesByID(ctx context.Context, ids []int64) ([]Resource, error)
	// UpdateResource saves Key, Deleted and Data and sets UpdatedAt. EUnique attr "key" as CreateResource.
	UpdateResource(ctx context.Context, r *Resource) error
	// UpdateResourceFunc reads the resource (ENotFound when it does not exist),
	// lets modify change its Key, Deleted and Data, and saves them as
	// UpdateResource does, all in one transaction that holds the row: two
	// concurrent changes of different fields both survive. An error from
	// modify is returned as is and nothing is written.
	UpdateResourceFunc(ctx context.Context, projectID int64, kind access.Kind, id int64, modify func(r *Resource) error) (*Resource, error)
	// DeleteResource removes the resource of the kind in the project and the
	// rules on it. ENotFound when the project has no resource of that kind
	// with this id (another project's included); nothing is removed then.
	DeleteResource(ctx context.Context, projectID int64, kind access.Kind, id int64) error

	// CreateRole inserts r (setting ID, CreatedAt, UpdatedAt). EUnique attr
	// "name" when the organization has a role of that name in any case.
	CreateRole(ctx context.Context, r *Role, actor int64) error
	Roles(ctx context.Context, orgID string) ([]Role, error)
	Role(ctx context.Context, orgID, id string) (*Role, error)
	// UpdateRole saves Name and Levels; EUnique attr "name" as CreateRole
	// (a case variant of the role's own name is allowed).
	UpdateRole(ctx context.Context, r *Role, actor int64) error
	// UpdateRoleFunc is UpdateRole as a read-modify-write in one transaction:
	// modify gets the stored role (ENotFound when the organization has none
	// with this id) and may change its Name and Levels, so that concurrent
	// changes of different levels both survive. An error from modify is
	// returned as is and nothing is written.
	UpdateRoleFunc(ctx context.Context, orgID, id string, actor int64, modify func(r *Role) error) (*Role, error)
	// DeleteRole removes the role, its memberships and every rule targeting it.
	DeleteRole(ctx context.Context, orgID, id string, actor int64) error

	// AddRoleMember inserts m (setting ID, JoinedAt, UpdatedAt; m.User.ID
	// names the user, and m.User is filled in). EUnique attr "user_uuid" when
	// the user is already in the role.
	AddRoleMember(ctx context.Context, orgID string, m *RoleMembership, actor int64) error
	RoleMembers(ctx context.Context, roleID string) ([]RoleMembership, error)
	RoleMember(ctx context.Context, roleID, id string) (*RoleMembership, error)
	RemoveRoleMember(ctx context.Context, orgID, roleID, id string, actor int64) error

	// CreateRule inserts r (setting ID, CreatedAt, UpdatedAt). EUnique attr
	// "resource" when a rule with the same scope, project, kind, object and
	// target exists.
	CreateRule(ctx context.Context, r *Rule, actor int64) error
	// PutRule inserts r or, when a rule with the same scope, project, kind,
	// object and target exists, changes that rule's level and expiry; r is
	// filled in with the stored rule either way.
	PutRule(ctx context.Context, r *Rule, actor int64) error
	// Rule and Rules leave out rules whose ExpiresAt has passed.
	Rule(ctx context.Context, orgID, id string) (*Rule, error)
	Rules(ctx context.Context, f RuleFilter) ([]Rule, error)
	DeleteRule(ctx context.Context, orgID, id string, actor int64) error
	// ExpireRules deletes up to limit rules whose ExpiresAt has passed,
	// each with its activity-log row ("expired", no actor), and returns how
	// many it deleted. Several processes may call it at once: each expired
	// rule is deleted and recorded once.
	ExpireRules(ctx context.Context, limit int) (int, error)

	// CreateAccessRequest inserts rq as pending (setting ID, Status and CreatedAt).
	// EUnique attr "resource" when its requester has a pending request on the same
	// object (or kind in the project): one at most, held inside the write. ENotFound when
	// the project or object is not the organization's; EDoesNotExist attr "user" when the
	// requester is not a member. Activity "AccessRequest" "created".
	CreateAccessRequest(ctx context.Context, rq *AccessRequest) error
	// AccessRequest returns the organization's request with this id.
	AccessRequest(ctx context.Context, orgID, id string) (*AccessRequest, error)
	// AccessRequests lists the requests f selects, newest first.
	AccessRequests(ctx context.Context, f AccessRequestFilter) ([]AccessRequest, error)
	// DecideAccessRequest moves a pending request to d.Status, attributed to actor, in one
	// transaction that holds it (and, as every permission change, the organization's row and
	// the decision ctx carries): EInvalidInput when it is no longer pending. An approval
	// puts the member rule d describes (as PutRule, with d.ExpiresAt) and names it in the
	// request, in that same transaction. Activity "AccessRequest" "updated" with the status.
	DecideAccessRequest(ctx context.Context, orgID, id string, d RequestDecision, actor int64) (*AccessRequest, *Rule, error)

	// CreateDomain inserts d (setting ID and CreatedAt; Domain is stored lower-cased).
	// EUnique attr "domain" when any organization of the instance has that domain;
	// ENotFound when the organization does not exist. Activity "OrganizationDomain".
	CreateDomain(ctx context.Context, d *Domain, actor int64) error
	// Domains lists an organization's domains, oldest first.
	Domains(ctx context.Context, orgID string) ([]Domain, error)
	// Domain returns the domain with this id, whichever organization it is of.
	Domain(ctx context.Context, id string) (*Domain, error)
	// VerifiedDomain returns the verified domain named name (compared
	// case-insensitively), for sign-in by email; false when no organization has
	// verified it.
	VerifiedDomain(ctx context.Context, name string) (Domain, bool, error)
	// UpdateDomain saves JITProvisioningEnabled, SSOEnforcement and SCIMEnabled of
	// the organization's domain d.ID. Activity "OrganizationDomain" with what changed.
	UpdateDomain(ctx context.Context, d *Domain, actor int64) error
	// VerifyDomain marks the organization's domain verified (keeping an earlier
	// verification's time) and returns it.
	VerifyDomain(ctx context.Context, orgID, id string, actor int64) (*Domain, error)
	// SetDomainSCIMToken replaces the domain's SCIM token hash: the old token stops
	// working when this commits.
	SetDomainSCIMToken(ctx context.Context, orgID, id, tokenHash string, actor int64) error
	// DeleteDomain removes the organization's domain and its SCIM links (the users
	// and roles it provisioned stay).
	DeleteDomain(ctx context.Context, orgID, id string, actor int64) error

	// SCIMUsers lists the users the domain's SCIM client provisioned, oldest first.
	SCIMUsers(ctx context.Context, domainID string) ([]SCIMUser, error)
	// SCIMUser returns the domain's link to the user; ENotFound when it has none.
	SCIMUser(ctx context.Context, domainID string, userID int64) (*SCIMUser, error)
	// ProvisionSCIMUser links the account with email su.UserName to su.DomainID (creating
	// it, without a password, when there is none) and, when su.Active, makes it a member of
	// orgID at member level unless it is one. EUnique attr "userName" when the domain has
	// provisioned that userName already. Activity as the membership changes.
	ProvisionSCIMUser(ctx context.Context, orgID string, su *SCIMUser) error
	// UpdateSCIMUser is a read-modify-write of the domain's link to the user (ENotFound
	// when there is none) under orgID's lock. Going inactive removes the user's membership
	// of orgID, with their role memberships and the rules targeting them, and disables a
	// user left in no organization (DisabledAt set, sessions and API keys deleted); going
	// active again restores a membership at member level and lifts the disabling.
	// access.ErrLastOwnerLeave for the organization's last owner. A deprovisioning
	// returns only once every replica has applied it: the user's very next request is
	// refused wherever it goes.
	UpdateSCIMUser(ctx context.Context, orgID, domainID string, userID int64, modify func(su *SCIMUser) error) (*SCIMUser, error)
	// DeleteSCIMUser deprovisions the user as going inactive does and removes the link.
	DeleteSCIMUser(ctx context.Context, orgID, domainID string, userID int64) error
	// SCIMGroupLinks returns the roles the domain's SCIM client manages, by role id, each
	// with the client's external id.
	SCIMGroupLinks(ctx context.Context, domainID string) (map[string]string, error)
	// LinkSCIMGroup records that the domain's client manages the role, as externalID.
	LinkSCIMGroup(ctx context.Context, domainID, roleID, externalID string) error

	// AccessFacts loads everything the access decision needs about one
	// organization (Enforced is left false: the plan is not stored) and the
	// RulesRevision it reflects, read in one transaction.
	AccessFacts(ctx context.Context, orgID string) (access.Facts, int64, error)
	// RuleChanges returns the rule changes that took the organization's rules
	// from revision from to the latest revision it logs, in order, and that
	// revision (from when nothing changed). ok is false when they cannot be
	// replayed onto the rules of from (a change other than a rule's came
	// between, or the log no longer reaches back): read AccessFacts then.
	RuleChanges(ctx context.Context, orgID string, from int64) (changes []access.RuleChange, rev int64, ok bool, err error)

	// ActivityLog returns a page of matching rows (with User filled in),
	// newest first, and the total count (both without the rows that
	// f.OptionalObjects leaves out).
	ActivityLog(ctx context.Context, f ActivityFilter) ([]Activity, int, error)
	// ActivityObjects returns the ids of the objects that rows matching f are
	// about, each once, in any order; f's Limit, Offset and OptionalObjects are
	// ignored.
	ActivityObjects(ctx context.Context, f ActivityFilter) ([]int64, error)
}
