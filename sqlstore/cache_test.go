package sqlstore

import (
	"math"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// TestCacheTrust: the cache is used only while it is live, and a fill that
// raced an invalidation (read before a change, stored after its notice) is
// dropped rather than kept stale.
func TestCacheTrust(t *testing.T) {
	c := newCache()
	if _, ok := c.begin(); ok {
		t.Fatal("a new cache is trusted before anything said it may be")
	}
	c.liveUntil.Store(time.Now().Add(-time.Millisecond).UnixNano())
	if _, ok := c.begin(); ok {
		t.Error("a cache whose notices stopped arriving is still trusted")
	}
	c.liveUntil.Store(time.Now().Add(time.Hour).UnixNano())
	if _, ok := c.begin(); !ok {
		t.Error("a cache whose notices arrive is not trusted")
	}
	c.liveUntil.Store(math.MaxInt64)
	gen, ok := c.begin()
	if !ok {
		t.Fatal("a live cache is not trusted")
	}
	org := gatehouse.Organization{ID: "o", RulesRevision: 1}
	c.invalidate(notice{what: noticeRules, org: "o"}) // the change commits while the fill reads
	c.putOrg(gen, org)
	if _, ok := c.org("o"); ok {
		t.Error("a fill older than an invalidation was kept")
	}
	gen, _ = c.begin()
	c.putOrg(gen, org)
	if got, ok := c.org("o"); !ok || got != org {
		t.Errorf("a fill with nothing in between was not kept: %+v, %v", got, ok)
	}
	c.reset(0)
	if _, ok := c.org("o"); ok {
		t.Error("reset kept an entry")
	}
	if _, ok := c.begin(); ok {
		t.Error("reset(0) left the cache trusted")
	}
}

// TestCacheLists: creation and removal notices patch a cached list in
// place, new objects first; repeats and out-of-order creations are handled.
func TestCacheLists(t *testing.T) {
	c := newCache()
	c.liveUntil.Store(math.MaxInt64)
	head := func(id int64) access.Object { return access.Object{ID: id, Project: 1, Kind: access.Cohorts} }
	gen, _ := c.begin()
	c.putList(gen, 1, access.Cohorts, cachedList{heads: []access.Object{head(2), head(1)}, newest: 200})
	ids := func() []int64 {
		l, ok := c.list(1, access.Cohorts)
		if !ok {
			return nil
		}
		var out []int64
		for _, h := range l {
			out = append(out, h.ID)
		}
		return out
	}
	created := notice{what: noticeCreated, id: 3, project: 1, kind: access.Cohorts, at: 300}
	c.invalidate(created)
	c.invalidate(created) // this process's own notice, come back from PostgreSQL
	if got := ids(); len(got) != 3 || got[0] != 3 {
		t.Fatalf("after a creation the list is %v, want 3 first, once", got)
	}
	c.invalidate(notice{what: noticeHidden, id: 2, project: 1})
	if got := ids(); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("after a soft delete the list is %v, want [3 1]", got)
	}
	c.invalidate(notice{what: noticeCreated, id: 4, project: 1, kind: access.Cohorts, at: 100})
	if got := ids(); got != nil {
		t.Errorf("a creation older than the newest kept the list %v, want it dropped", got)
	}
	if c.listHeads != 0 {
		t.Errorf("listHeads = %d after the only list went, want 0", c.listHeads)
	}
}

// TestUserByUUIDFromCache: an application asking about its users by uuid is
// answered from memory once a uuid has been seen, so that the answer costs
// the same at any organization size; a change to the user is still seen.
func TestUserByUUIDFromCache(t *testing.T) {
	db, err := Open(t.Context(), "sqlite:"+t.TempDir()+"/g.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	u := &gatehouse.User{Email: "ada@example.com", FirstName: "Ada"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByUUID(ctx, u.UUID); err != nil {
		t.Fatal(err)
	}
	u.FirstName = "Ada L."
	if err := db.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByUUID(ctx, u.UUID)
	if err != nil || got.FirstName != "Ada L." {
		t.Fatalf("UserByUUID after a rename = %+v, %v; want the new name", got, err)
	}
	// With the reading connections gone, only memory can answer.
	db.db.Close()
	if got, err := db.UserByUUID(ctx, u.UUID); err != nil || got.ID != u.ID {
		t.Errorf("UserByUUID of a uuid seen before read the database: %+v, %v", got, err)
	}
	if _, err := db.UserByUUID(ctx, "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Error("an unknown uuid was answered without the database")
	}
	if ids, err := db.UserIDsByUUID(ctx, []string{u.UUID, u.UUID}); err != nil || ids[0] != u.ID || ids[1] != u.ID {
		t.Errorf("UserIDsByUUID of a uuid seen before = %v, %v; want it from memory", ids, err)
	}
	if _, err := db.UserIDsByUUID(ctx, []string{u.UUID, "00000000-0000-0000-0000-000000000000"}); err == nil {
		t.Error("UserIDsByUUID answered an unknown uuid without the database")
	}
}
