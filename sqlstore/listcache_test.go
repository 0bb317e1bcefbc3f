package sqlstore_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestListOrderWhenTheClockGoesBack: a kind's list is kept in memory and new
// objects are put first, which is where created_at puts them only while the
// clock goes forward. When it goes back, the list still comes out in
// created_at order.
func TestListOrderWhenTheClockGoesBack(t *testing.T) {
	for _, dialect := range sqltest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var now atomic.Int64
			now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
			db := sqltest.OpenWithClock(t, dialect, func() time.Time { return time.UnixMicro(now.Load()) })
			ctx := t.Context()
			u, _, p := seedOrg(t, db)
			create := func(shift time.Duration) int64 {
				t.Helper()
				now.Add(shift.Microseconds())
				r := &gatehouse.Resource{Kind: access.Cohorts, ProjectID: p.ID, CreatedBy: u.ID}
				if err := db.CreateResource(ctx, r); err != nil {
					t.Fatal(err)
				}
				return r.ID
			}
			list := func() []int64 {
				t.Helper()
				heads, err := db.ResourceHeads(ctx, p.ID, access.Cohorts)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, h := range heads {
					ids = append(ids, h.ID)
				}
				return ids
			}
			a := create(0)
			b := create(time.Hour)
			list() // cached from here on
			c := create(time.Minute)
			if got, want := list(), []int64{c, b, a}; !slices.Equal(got, want) {
				t.Errorf("list = %v, want %v (newest first)", got, want)
			}
			d := create(-30 * time.Minute) // older than c and b, newer than a
			if got, want := list(), []int64{c, b, d, a}; !slices.Equal(got, want) {
				t.Errorf("list after the clock went back = %v, want %v", got, want)
			}
		})
	}
}

// seedOrg makes a user and an organization they own, with its first project.
func seedOrg(t *testing.T, db *sqlstore.DB) (*gatehouse.User, *gatehouse.Organization, *gatehouse.Project) {
	t.Helper()
	u := &gatehouse.User{Email: "a@example.com", FirstName: "A"}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	org, p := &gatehouse.Organization{Name: "O"}, &gatehouse.Project{Name: "P"}
	if err := db.CreateOrganization(t.Context(), org, u.ID, p); err != nil {
		t.Fatal(err)
	}
	return u, org, p
}
