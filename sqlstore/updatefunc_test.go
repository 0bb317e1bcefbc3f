package sqlstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestUpdateFuncsKeepConcurrentChanges: writers that each change their own field of one
// resource (and their own kind's level of one role) through UpdateResourceFunc and
// UpdateRoleFunc all keep their last change, and an error from modify writes nothing.
func TestUpdateFuncsKeepConcurrentChanges(t *testing.T) {
	for _, dialect := range sqltest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := sqltest.Open(t, dialect)
			ctx := t.Context()
			u, org, p := seedOrg(t, db)
			res := &gatehouse.Resource{Kind: access.Dashboards, ProjectID: p.ID, CreatedBy: u.ID, Data: json.RawMessage(`{}`)}
			if err := db.CreateResource(ctx, res); err != nil {
				t.Fatal(err)
			}
			role := &gatehouse.Role{OrganizationID: org.ID, Name: "r", CreatedBy: u.ID}
			if err := db.CreateRole(ctx, role, u.ID); err != nil {
				t.Fatal(err)
			}

			const writers, rounds = 6, 15
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for n := range rounds {
						_, err := db.UpdateResourceFunc(ctx, p.ID, access.Dashboards, res.ID, func(r *gatehouse.Resource) error {
							data := map[string]any{}
							if err := json.Unmarshal(r.Data, &data); err != nil {
								return err
							}
							data[fmt.Sprintf("f%d", w)] = n
							r.Data, _ = json.Marshal(data)
							return nil
						})
						if err != nil {
							t.Errorf("UpdateResourceFunc = %v", err)
						}
						_, err = db.UpdateRoleFunc(ctx, org.ID, role.ID, u.ID, func(r *gatehouse.Role) error {
							r.Levels[access.Kind(w)] = access.Level(1 + n%3)
							return nil
						})
						if err != nil {
							t.Errorf("UpdateRoleFunc = %v", err)
						}
						// Half the writers rename the user, the others switch its
						// current project: neither may undo the other.
						_, err = db.UpdateUserFunc(ctx, u.ID, func(cur *gatehouse.User) error {
							if w%2 == 0 {
								cur.FirstName = fmt.Sprintf("name %d", n)
							} else {
								cur.CurrentOrganizationID, cur.CurrentProjectID = org.ID, p.ID
							}
							return nil
						})
						if err != nil {
							t.Errorf("UpdateUserFunc = %v", err)
						}
					}
				})
			}
			wg.Wait()

			got, err := db.Resource(ctx, p.ID, access.Dashboards, res.ID)
			if err != nil {
				t.Fatal(err)
			}
			data := map[string]float64{}
			_ = json.Unmarshal(got.Data, &data)
			gotRole, err := db.Role(ctx, org.ID, role.ID)
			if err != nil {
				t.Fatal(err)
			}
			for w := range writers {
				if data[fmt.Sprintf("f%d", w)] != rounds-1 {
					t.Errorf("resource data = %s, want f%d = %d: a lost update", got.Data, w, rounds-1)
				}
				if want := access.Level(1 + (rounds-1)%3); gotRole.Levels[w] != want {
					t.Errorf("role level of %v = %v, want %v: a lost update", access.Kind(w), gotRole.Levels[w], want)
				}
			}

			if gotUser, err := db.User(ctx, u.ID); err != nil || gotUser.FirstName != fmt.Sprintf("name %d", rounds-1) || gotUser.CurrentProjectID != p.ID {
				t.Errorf("user = %+v, %v, want the last name and the project: a lost update", gotUser, err)
			}

			// An error from modify leaves everything as it was.
			boom := errors.New("boom")
			if _, err := db.UpdateResourceFunc(ctx, p.ID, access.Dashboards, res.ID, func(r *gatehouse.Resource) error {
				r.Data, r.Deleted = json.RawMessage(`{"x":1}`), true
				return boom
			}); err != boom {
				t.Errorf("UpdateResourceFunc(failing) = %v, want the modify error", err)
			}
			if again, _ := db.Resource(ctx, p.ID, access.Dashboards, res.ID); string(again.Data) != string(got.Data) || again.Deleted || !again.UpdatedAt.Equal(got.UpdatedAt) {
				t.Errorf("after a failing modify: %+v, want %+v", again, got)
			}
			if _, err := db.UpdateRoleFunc(ctx, org.ID, role.ID, u.ID, func(r *gatehouse.Role) error { r.Name = "changed"; return boom }); err != boom {
				t.Errorf("UpdateRoleFunc(failing) = %v, want the modify error", err)
			}
			if again, _ := db.Role(ctx, org.ID, role.ID); again.Name != "r" {
				t.Errorf("role name after a failing modify = %q, want %q", again.Name, "r")
			}
			if _, err := db.UpdateResourceFunc(ctx, p.ID, access.Cohorts, res.ID, func(*gatehouse.Resource) error { return nil }); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				t.Errorf("UpdateResourceFunc(wrong kind) = %v, want not found", err)
			}
			if _, err := db.UpdateRoleFunc(ctx, "00000000-0000-0000-0000-000000000000", role.ID, u.ID, func(*gatehouse.Role) error { return nil }); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				t.Errorf("UpdateRoleFunc(other organization) = %v, want not found", err)
			}
		})
	}
}
