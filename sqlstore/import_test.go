package sqlstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestImports: members, role members and rules imported in bulk are what the decision
// reads, with the rules revision moved so that every replica recompiles; a bad row fails
// the whole import and leaves nothing behind.
func TestImports(t *testing.T) {
	onEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		{
			ctx := t.Context()
			owner, org, p := seedOrg(t, db)
			users := make([]gatehouse.User, 30)
			for i := range users {
				users[i] = gatehouse.User{Email: fmt.Sprintf("m%d@example.com", i), FirstName: "M"}
			}
			_, rev0, err := db.AccessFacts(ctx, org.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.ImportMembers(ctx, org.ID, users, access.MemberLevel); err != nil {
				t.Fatal(err)
			}
			role := &gatehouse.Role{OrganizationID: org.ID, Name: "Imported", CreatedBy: owner.ID}
			if err := db.CreateRole(ctx, role, owner.ID); err != nil {
				t.Fatal(err)
			}
			ms := []gatehouse.RoleMembership{{RoleID: role.ID, User: users[0]}, {RoleID: role.ID, User: users[1]}}
			if err := db.ImportRoleMembers(ctx, org.ID, ms); err != nil {
				t.Fatal(err)
			}
			flag := &gatehouse.Resource{Kind: access.FeatureFlags, ProjectID: p.ID, CreatedBy: owner.ID}
			if err := db.CreateResource(ctx, flag); err != nil {
				t.Fatal(err)
			}
			rules := []gatehouse.Rule{
				{Rule: access.Rule{Scope: access.ScopeObject, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, Level: access.None}},
				{Rule: access.Rule{Scope: access.ScopeObject, Project: p.ID, Kind: access.FeatureFlags, Object: flag.ID, Role: role.ID, Level: access.Editor}},
			}
			if err := db.ImportRules(ctx, org.ID, rules); err != nil {
				t.Fatal(err)
			}
			facts, rev, err := db.AccessFacts(ctx, org.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rev != rev0+4 { // members, role, role members, rules
				t.Errorf("revision moved from %d to %d; want one step per write", rev0, rev)
			}
			facts.Enforced = true
			s := access.Compile(facts)
			obj := access.Object{ID: flag.ID, Kind: access.FeatureFlags, Project: p.ID}
			if d := s.Decide(users[0].ID, obj); d.Level != access.Editor || d.Source != access.SourceExplicitRole {
				t.Errorf("imported role member: %+v, want editor from the role's rule", d)
			}
			if d := s.Decide(users[2].ID, obj); d.Level != access.None {
				t.Errorf("imported member outside the role: %+v, want none from the object default", d)
			}

			// A duplicate anywhere fails the whole import.
			more := []gatehouse.User{{Email: "fresh@example.com"}, {Email: users[3].Email}}
			if err := db.ImportMembers(ctx, org.ID, more, access.MemberLevel); gatehouse.ErrorCode(err) != gatehouse.EUnique {
				t.Errorf("importing a taken email = %v, want unique", err)
			}
			if _, err := db.UserByEmail(ctx, "fresh@example.com"); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				t.Errorf("a failed import left a user behind: %v", err)
			}
			if err := db.ImportRules(ctx, org.ID, rules[:1]); gatehouse.ErrorCode(err) != gatehouse.EUnique {
				t.Errorf("importing a rule twice = %v, want unique", err)
			}
			other := []gatehouse.RoleMembership{{RoleID: role.ID, User: gatehouse.User{ID: owner.ID + 10_000}}}
			if err := db.ImportRoleMembers(ctx, org.ID, other); err == nil {
				t.Error("a role membership of a non-member was imported")
			}
		}
	})
}

// TestRuleChangeLogIsBounded: past 1,000 changes the log drops one row per change, on
// both engines, so that it holds the latest 1,000 revisions however many changes the
// organization has seen.
func TestRuleChangeLogIsBounded(t *testing.T) {
	onEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		{
			ctx := t.Context()
			owner, org, flag := seedFlag(t, db)
			levels := []access.Level{access.Viewer, access.Editor}
			for i := range 1010 {
				r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flag.ID, Level: levels[i%2]}}
				if err := db.PutRule(ctx, r, owner.ID); err != nil {
					t.Fatal(err)
				}
			}
			var rows, oldest, newest int64
			err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*), MIN(revision), MAX(revision) FROM rule_changes WHERE organization_id = $1`, org.ID).Scan(&rows, &oldest, &newest)
			if err != nil {
				t.Fatal(err)
			}
			if rows != 1000 || newest-oldest != 999 {
				t.Fatalf("the log holds %d rows, revisions %d to %d; want the latest 1,000", rows, oldest, newest)
			}
		}
	})
}

// onEachEngine runs f as a subtest on a fresh store of each engine.
func onEachEngine(t *testing.T, f func(t *testing.T, db *sqlstore.DB)) {
	for _, dialect := range sqltest.Dialects {
		t.Run(dialect, func(t *testing.T) { f(t, sqltest.Open(t, dialect)) })
	}
}

// TestRecentChangesAreTheLog: the rule changes a write's recheck takes from memory are
// the log's, for every span of the latest revisions, on both engines: the same changes in
// the same order, and no replay across a change that is not a rule's.
func TestRecentChangesAreTheLog(t *testing.T) {
	onEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		owner, org, flag := seedFlag(t, db)
		put := func(l access.Level, expires int64) {
			r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flag.ID, Level: l, ExpiresAt: expires}}
			if err := db.PutRule(ctx, r, owner.ID); err != nil {
				t.Fatal(err)
			}
		}
		_, start, err := db.AccessFacts(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 {
			put(access.Level(1+i%3), 0)
			if i == 10 { // not a rule's change
				if err := db.ImportMembers(ctx, org.ID, []gatehouse.User{{Email: "m@example.com", FirstName: "M"}}, access.MemberLevel); err != nil {
					t.Fatal(err)
				}
			}
			if i == 20 {
				put(access.Manager, time.Now().Add(time.Hour).UnixNano())
			}
		}
		_, latest, err := db.AccessFacts(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, known := db.RecentChanges(org.ID, latest-1, latest); !known {
			t.Fatal("the latest change this process committed is not in memory")
		}
		for from := start; from < latest; from++ {
			logged, rev, loggedOK, err := db.LoggedChanges(ctx, org.ID, from)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, known := db.RecentChanges(org.ID, from, latest)
			if !known {
				continue
			}
			if ok != loggedOK || ok && (rev != latest || !slices.Equal(got, logged)) {
				t.Fatalf("from %d: memory %v %+v, log %v %+v (to %d)", from, ok, got, loggedOK, logged, rev)
			}
		}
	})
}

// seedFlag is seedOrg with one feature flag in the organization's project.
func seedFlag(t *testing.T, db *sqlstore.DB) (*gatehouse.User, *gatehouse.Organization, *gatehouse.Resource) {
	t.Helper()
	owner, org, p := seedOrg(t, db)
	flag := &gatehouse.Resource{Kind: access.FeatureFlags, ProjectID: p.ID, CreatedBy: owner.ID}
	if err := db.CreateResource(t.Context(), flag); err != nil {
		t.Fatal(err)
	}
	return owner, org, flag
}

// TestRecheckWaitsForRevisionInFlight: a recheck that holds a revision this process made
// but has not yet kept in memory waits for it instead of reading the log (which, here,
// does not have it: a read would answer "cannot replay"), and reads the log when the
// transaction that made it ended without committing.
func TestRecheckWaitsForRevisionInFlight(t *testing.T) {
	onEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		_, org, flag := seedFlag(t, db)
		_, latest, err := db.AccessFacts(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		rules := []access.RuleChange{{Rule: access.Rule{Scope: access.ScopeObject, Kind: access.FeatureFlags, Object: flag.ID, Level: access.Editor}}}

		land := db.Fly(org.ID, latest+1)
		go func() { time.Sleep(5 * time.Millisecond); land(rules, true) }()
		got, ok, err := db.RecheckChanges(ctx, org.ID, latest, latest+1)
		if err != nil || !ok || !slices.Equal(got, rules) {
			t.Errorf("recheck with revision %d in flight, then committed = %+v, %v, %v; want the flight's changes", latest+1, got, ok, err)
		}

		land = db.Fly(org.ID, latest+2)
		go func() { time.Sleep(5 * time.Millisecond); land(nil, false) }()
		if got, ok, err := db.RecheckChanges(ctx, org.ID, latest+1, latest+2); err != nil || ok {
			t.Errorf("recheck with revision %d in flight, then rolled back = %+v, %v, %v; want the log's answer (not replayable)", latest+2, got, ok, err)
		}
	})
}
