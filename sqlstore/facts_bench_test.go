package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// BenchmarkSnapshotRebuild is what a replica pays after a permission change
// in an organization: read its facts in one transaction and compile them.
// The organization has 1,000 members, 50 roles (20 members each) and 5,000
// object rules.
//
//	eval "$(.ci/start-postgres)" && go test ./sqlstore -run '^$' -bench SnapshotRebuild -benchtime 50x
func BenchmarkSnapshotRebuild(b *testing.B) {
	for _, dialect := range sqltest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := sqltest.Open(b, dialect)
			owner := &gatehouse.User{Email: "owner@example.com", FirstName: "O"}
			must(b, db.CreateUser(ctx, owner))
			org, proj := &gatehouse.Organization{Name: "Acme"}, &gatehouse.Project{Name: "P"}
			must(b, db.CreateOrganization(ctx, org, owner.ID, proj))
			users := make([]int64, 1000)
			for i := range users {
				u := &gatehouse.User{Email: fmt.Sprintf("u%d@example.com", i), FirstName: "U"}
				must(b, db.CreateUser(ctx, u))
				inv := &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: u.Email, Level: 1, CreatedBy: owner.ID}
				must(b, db.CreateInvite(ctx, inv))
				_, err := db.AcceptInvite(ctx, inv.ID, u.ID)
				must(b, err)
				users[i] = u.ID
			}
			rng := rand.New(rand.NewPCG(3, 4))
			var roles []string
			for r := range 50 {
				role := &gatehouse.Role{OrganizationID: org.ID, Name: fmt.Sprintf("role %d", r)}
				for _, k := range access.Kinds {
					role.Levels[k] = access.Editor
				}
				must(b, db.CreateRole(ctx, role, owner.ID))
				roles = append(roles, role.ID)
				for range 20 {
					m := &gatehouse.RoleMembership{RoleID: role.ID, User: gatehouse.User{ID: users[rng.IntN(len(users))]}}
					if err := db.AddRoleMember(ctx, org.ID, m, owner.ID); err != nil && gatehouse.ErrorCode(err) != gatehouse.EUnique {
						b.Fatal(err)
					}
				}
			}
			objs := make([]gatehouse.Resource, 5000)
			for i := range objs {
				objs[i] = gatehouse.Resource{Kind: access.FeatureFlags, ProjectID: proj.ID, Key: fmt.Sprintf("f%d", i), CreatedBy: owner.ID}
			}
			must(b, db.ImportResources(ctx, objs))
			for i := range objs {
				rl := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: objs[i].ID, Role: roles[rng.IntN(len(roles))], Level: access.Editor}}
				must(b, db.PutRule(ctx, rl, owner.ID))
			}
			b.ResetTimer()
			for b.Loop() {
				facts, _, err := db.AccessFacts(ctx, org.ID)
				if err != nil {
					b.Fatal(err)
				}
				if snap := access.Compile(facts); snap.MembershipLevel(users[0]) != 1 {
					b.Fatal("member missing from the snapshot")
				}
			}
		})
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
