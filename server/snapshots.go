package server

// The per-organization cache of compiled access snapshots.

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// snapshot returns org's compiled rules and the revision they reflect,
// rebuilding them when the stored revision has moved on. The revision is read
// with the organization on every request, so any replica sees any replica's
// change at once.
func (s *Server) snapshot(ctx context.Context, org *gatehouse.Organization) (*access.Snapshot, int64, error) {
	if snap, rev := s.cachedSnapshot(org.ID, org.RulesRevision); snap != nil {
		return snap, rev, nil
	}
	// After a change every request of the organization finds the snapshot
	// stale at once; one of them rebuilds while the others wait for it. A
	// rebuild that began before this request's revision is not enough, so
	// the wait is repeated once.
	for range 2 {
		_, err, _ := s.rebuilding.Do(org.ID, func() (any, error) {
			return nil, s.rebuildSnapshot(context.WithoutCancel(ctx), org.ID)
		})
		if err != nil {
			return nil, 0, err
		}
		if snap, rev := s.cachedSnapshot(org.ID, org.RulesRevision); snap != nil {
			return snap, rev, nil
		}
	}
	return nil, 0, fmt.Errorf("snapshot of organization %s stays older than revision %d", org.ID, org.RulesRevision)
}

// cachedSnapshot returns the cached snapshot of org, and the revision it
// reflects, if that is at least revision and it was compiled under the plan in
// force (one compiled before the licence expired decides nothing after).
func (s *Server) cachedSnapshot(orgID string, revision int64) (*access.Snapshot, int64) {
	enforced := s.enforced()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cached, ok := s.snapshots[orgID]; ok && cached.revision >= revision && cached.snap.Enforced() == enforced {
		return cached.snap, cached.revision
	}
	return nil, 0
}

// rebuildSnapshot loads and compiles one organization's rules into the cache.
func (s *Server) rebuildSnapshot(ctx context.Context, orgID string) error {
	start := time.Now()
	facts, rev, err := s.store.AccessFacts(ctx, orgID)
	if err != nil {
		return err
	}
	facts.Enforced = s.enforced()
	snap := access.Compile(facts)
	s.metrics.rebuilds.Inc()
	s.metrics.rebuildS.Observe(time.Since(start).Seconds())
	s.mu.Lock()
	if cur, ok := s.snapshots[orgID]; !ok || cur.revision < rev || cur.snap.Enforced() != facts.Enforced {
		s.snapshots[orgID] = cachedSnapshot{revision: rev, snap: snap}
	}
	s.mu.Unlock()
	return nil
}
