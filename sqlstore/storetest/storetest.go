// Package storetest is the conformance suite of gatehouse.Store: every implementation runs
// Run, so that the contracts in store.go hold on every database alike.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// Run runs the suite. open returns a store on a fresh, empty database for each subtest and
// closes it when that test ends; subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) gatehouse.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Users", testUsers},
		{"UsersByID", testUsersByID},
		{"Timestamps", testTimestamps},
		{"Sessions", testSessions},
		{"APIKeys", testAPIKeys},
		{"LoginFailures", testLoginFailures},
		{"Organizations", testOrganizations},
		{"Projects", testProjects},
		{"Members", testMembers},
		{"Invites", testInvites},
		{"Resources", testResources},
		{"ResourceHeads", testResourceHeads},
		{"ResourcesByID", testResourcesByID},
		{"ResourceHeadsLive", testResourceHeadsLive},
		{"Roles", testRoles},
		{"RoleMembers", testRoleMembers},
		{"RoleNamesFoldUnicode", testRoleNamesFoldUnicode},
		{"Rules", testRules},
		{"RuleTargets", testRuleTargets},
		{"PutRuleTargets", testPutRuleTargets},
		{"RuleExpiry", testRuleExpiry},
		{"RuleChangeLog", testRuleChangeLog},
		{"Cascades", testCascades},
		{"PermissionChanges", testPermissionChanges},
		{"AccessFacts", testAccessFacts},
		{"ActivityLog", testActivityLog},
		{"ActivityLogObjects", testActivityLogObjects},
		{"ConcurrentChanges", testConcurrentChanges},
		{"ReadsAfterWrites", testReadsAfterWrites},
		{"LastOwner", testLastOwner},
		{"InviteHonoured", testInviteHonoured},
		{"FirstUser", testFirstUser},
		{"DeleteResourceScoped", testDeleteResourceScoped},
		{"DecidedRevision", testDecidedRevision},
		{"Domains", testDomains},
		{"SCIMUsers", testSCIMUsers},
		{"SCIMGroupLinks", testSCIMGroupLinks},
		{"OIDCLogins", testOIDCLogins},
		{"JoinOrganization", testJoinOrganization},
		{"SyncSSORoles", testSyncSSORoles},
		{"AccessRequests", testAccessRequests},
		{"ConcurrentApprovals", testConcurrentApprovals},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, &env{t: t, ctx: t.Context(), s: open(t)})
		})
	}
}

// env is one subtest's store with helpers that fail the test on any error.
type env struct {
	t   *testing.T
	ctx context.Context
	s   gatehouse.Store
	n   int // for unique names
}

func (e *env) seq() int { e.n++; return e.n }

// user creates a user with this email.
func (e *env) user(email string) *gatehouse.User {
	e.t.Helper()
	u := &gatehouse.User{Email: email, FirstName: "User " + email, PasswordHash: "hash"}
	if err := e.s.CreateUser(e.ctx, u); err != nil {
		e.t.Fatalf("CreateUser(%q) = %v", email, err)
	}
	return u
}

// org creates an organization owned by owner, with its first project.
func (e *env) org(name string, owner *gatehouse.User) (*gatehouse.Organization, *gatehouse.Project) {
	e.t.Helper()
	o := &gatehouse.Organization{Name: name}
	p := &gatehouse.Project{Name: name + " default"}
	if err := e.s.CreateOrganization(e.ctx, o, owner.ID, p); err != nil {
		e.t.Fatalf("CreateOrganization(%q) = %v", name, err)
	}
	return o, p
}

// project creates another project in the organization.
func (e *env) project(orgID, name string) *gatehouse.Project {
	e.t.Helper()
	p := &gatehouse.Project{OrganizationID: orgID, Name: name}
	if err := e.s.CreateProject(e.ctx, p); err != nil {
		e.t.Fatalf("CreateProject(%q) = %v", name, err)
	}
	return p
}

// join makes u a member of the organization at level, through an invite from its first
// owner (an invite is honoured only while its inviter is a member at or above its level).
func (e *env) join(orgID string, u *gatehouse.User, level int) *gatehouse.Membership {
	e.t.Helper()
	inv := &gatehouse.Invite{OrganizationID: orgID, TargetEmail: u.Email, Level: level, CreatedBy: e.owner(orgID)}
	if err := e.s.CreateInvite(e.ctx, inv); err != nil {
		e.t.Fatalf("CreateInvite(%q) = %v", u.Email, err)
	}
	m, err := e.s.AcceptInvite(e.ctx, inv.ID, u.ID)
	if err != nil {
		e.t.Fatalf("AcceptInvite(%q) = %v", u.Email, err)
	}
	return m
}

// owner returns the id of the organization's first owner.
func (e *env) owner(orgID string) int64 {
	e.t.Helper()
	members, err := e.s.Members(e.ctx, orgID)
	if err != nil {
		e.t.Fatalf("Members(%q) = %v", orgID, err)
	}
	for _, m := range members {
		if access.IsOwner(m.Level) {
			return m.User.ID
		}
	}
	e.t.Fatalf("organization %q has no owner", orgID)
	return 0
}

// firstProject returns the id of the organization's first project.
func (e *env) firstProject(orgID string) int64 {
	e.t.Helper()
	ps, err := e.s.Projects(e.ctx, orgID)
	if err != nil || len(ps) == 0 {
		e.t.Fatalf("Projects(%q) = %v, %v", orgID, ps, err)
	}
	return ps[0].ID
}

// resource creates a resource of the kind in the project.
func (e *env) resource(projectID int64, kind access.Kind, key string, creator int64) *gatehouse.Resource {
	e.t.Helper()
	r := &gatehouse.Resource{ProjectID: projectID, Kind: kind, Key: key, CreatedBy: creator,
		Data: json.RawMessage(fmt.Sprintf(`{"name":"object %d"}`, e.seq()))}
	if err := e.s.CreateResource(e.ctx, r); err != nil {
		e.t.Fatalf("CreateResource(%v, %q) = %v", kind, key, err)
	}
	return r
}

// levels returns role levels of l for every kind.
func levels(l access.Level) (out [access.NumKinds]access.Level) {
	for k := range out {
		out[k] = l
	}
	return out
}

// role creates a role in the organization at editor for every kind.
func (e *env) role(orgID, name string, actor int64) *gatehouse.Role {
	e.t.Helper()
	r := &gatehouse.Role{OrganizationID: orgID, Name: name, Levels: levels(access.Editor)}
	if err := e.s.CreateRole(e.ctx, r, actor); err != nil {
		e.t.Fatalf("CreateRole(%q) = %v", name, err)
	}
	return r
}

// roleMember puts u in the role.
func (e *env) roleMember(orgID, roleID string, u *gatehouse.User, actor int64) *gatehouse.RoleMembership {
	e.t.Helper()
	m := &gatehouse.RoleMembership{RoleID: roleID, User: gatehouse.User{ID: u.ID}}
	if err := e.s.AddRoleMember(e.ctx, orgID, m, actor); err != nil {
		e.t.Fatalf("AddRoleMember(%q) = %v", u.Email, err)
	}
	return m
}

// rule creates a rule in the organization.
func (e *env) rule(orgID string, r access.Rule, actor int64) *gatehouse.Rule {
	e.t.Helper()
	stored := &gatehouse.Rule{OrganizationID: orgID, Rule: r}
	if err := e.s.CreateRule(e.ctx, stored, actor); err != nil {
		e.t.Fatalf("CreateRule(%+v) = %v", r, err)
	}
	return stored
}

// revision returns the organization's rules revision.
func (e *env) revision(orgID string) int64 {
	e.t.Helper()
	o, err := e.s.Organization(e.ctx, orgID)
	if err != nil {
		e.t.Fatalf("Organization(%q) = %v", orgID, err)
	}
	return o.RulesRevision
}

// activity returns the organization's whole activity log, newest first.
func (e *env) activity(orgID string) []gatehouse.Activity {
	e.t.Helper()
	log, total, err := e.s.ActivityLog(e.ctx, gatehouse.ActivityFilter{OrganizationID: orgID})
	if err != nil {
		e.t.Fatalf("ActivityLog(%q) = %v", orgID, err)
	}
	if total != len(log) {
		e.t.Errorf("ActivityLog(%q) total = %d, want %d (rows returned without a limit)", orgID, total, len(log))
	}
	return log
}

// wantError fails unless err is an *gatehouse.Error with code and attr.
func wantError(t *testing.T, call string, err error, code, attr string) *gatehouse.Error {
	t.Helper()
	var e *gatehouse.Error
	if !errors.As(err, &e) || e.Code != code || e.Attr != attr {
		t.Errorf("%s = %v, want a %q error with attr %q", call, err, code, attr)
		return nil
	}
	return e
}

// wantDetail fails unless err is an *gatehouse.Error with code, attr and detail.
func wantDetail(t *testing.T, call string, err error, code, attr, detail string) {
	t.Helper()
	if e := wantError(t, call, err, code, attr); e != nil && e.Detail != detail {
		t.Errorf("%s detail = %q, want %q", call, e.Detail, detail)
	}
}

// wantNotFound fails unless err is ENotFound.
func wantNotFound(t *testing.T, call string, err error) {
	t.Helper()
	if code := gatehouse.ErrorCode(err); code != gatehouse.ENotFound {
		t.Errorf("%s = %v, want not_found", call, err)
	}
}

// changesJSON renders changes as JSON, so that values read back (json.Number, maps) compare
// with values written (ints, strings).
func changesJSON(t *testing.T, changes []gatehouse.Change) string {
	t.Helper()
	if changes == nil {
		changes = []gatehouse.Change{}
	}
	b, err := json.Marshal(changes)
	if err != nil {
		t.Fatalf("json.Marshal(%v) = %v", changes, err)
	}
	return string(b)
}

// checkUTC fails unless ts is set and in UTC.
func checkUTC(t *testing.T, what string, ts time.Time) {
	t.Helper()
	if ts.IsZero() {
		t.Errorf("%s is zero, want a time", what)
	} else if ts.Location() != time.UTC {
		t.Errorf("%s = %v, want UTC", what, ts)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// replaceAll replaces each old, new pair of oldnew in s.
func replaceAll(s string, oldnew ...string) string { return strings.NewReplacer(oldnew...).Replace(s) }
