package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// testConcurrentChanges makes permission changes from several goroutines at once: none
// may fail for contention (SQLITE_BUSY, lost updates) and every one must count once in
// the revision and the log, while readers load consistent facts.
func testConcurrentChanges(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice := e.user("alice@example.com")
	org, p := e.org("Acme", alice)
	const (
		writers = 6
		each    = 5
	)
	var flags []*gatehouse.Resource
	for range writers {
		flags = append(flags, e.resource(p.ID, access.FeatureFlags, "", alice.ID))
	}
	rev := e.revision(org.ID)

	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Each writer raises the everyone-rule on its own flag and adds a resource,
				// and all of them put the same organization default.
				r := &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flags[w].ID, Level: access.Level(i%3 + 1)}}
				if err := s.PutRule(ctx, r, alice.ID); err != nil {
					errs <- fmt.Errorf("PutRule(writer %d, %d) = %w", w, i, err)
				}
				if err := s.CreateResource(ctx, &gatehouse.Resource{ProjectID: p.ID, Kind: access.Cohorts}); err != nil {
					errs <- fmt.Errorf("CreateResource(writer %d, %d) = %w", w, i, err)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range each * 2 {
				f, _, err := s.AccessFacts(ctx, org.ID)
				if err != nil {
					errs <- fmt.Errorf("AccessFacts() = %w", err)
					continue
				}
				if len(f.Members) != 1 {
					errs <- fmt.Errorf("AccessFacts() has %d members, want 1", len(f.Members))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every put but the writers' first changes the level (1, 2, 3, 1, 2 …), so counts once.
	want := rev + writers*each
	if got := e.revision(org.ID); got != want {
		t.Errorf("RulesRevision after %d concurrent changes = %d, want %d", writers*each, got, want)
	}
	if got := len(e.activity(org.ID)); got != writers*each {
		t.Errorf("activity rows after concurrent changes = %d, want %d", got, writers*each)
	}
	if heads, err := s.ResourceHeads(ctx, p.ID, access.Cohorts); err != nil || len(heads) != writers*each {
		t.Errorf("ResourceHeads(cohorts) = %d objects, %v, want %d", len(heads), err, writers*each)
	}
}
