package server

// The per-organization cache of compiled access snapshots.

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// cachedSnapshot is one organization's compiled rules.
type cachedSnapshot struct {
	revision int64
	snap     *access.Snapshot
	// facts are what snap was compiled from, kept only when one of its rules
	// expires (snap.ValidUntil), so that the instant it does, the snapshot is
	// compiled again from them without reading the database.
	facts *access.Facts
	at    int64 // the instant snap was compiled for (Facts.Now)
}

// snapshot returns org's compiled rules and the revision they reflect,
// rebuilding them when the stored revision has moved on, or compiling them
// again when one of their rules has expired since: a rule past its expiry
// grants nothing from that instant, on every replica, whatever the sweep has
// done. The revision is read with the organization on every request, so any
// replica sees any replica's change at once.
func (s *Server) snapshot(ctx context.Context, org *gatehouse.Organization) (*access.Snapshot, int64, error) {
	now := s.now().UnixNano()
	if snap, rev := s.cachedSnapshot(org.ID, org.RulesRevision, now); snap != nil {
		return snap, rev, nil
	}
	// After a change every request of the organization finds the snapshot
	// stale at once; one of them rebuilds while the others wait for it. A
	// rebuild that began before this request's revision is not enough, so
	// the wait is repeated once.
	for range 2 {
		_, err, _ := s.rebuilding.Do(org.ID, func() (any, error) {
			if s.recompileSnapshot(org.ID, org.RulesRevision, now) {
				return nil, nil
			}
			return nil, s.refreshSnapshot(context.WithoutCancel(ctx), org.ID, org.RulesRevision)
		})
		if err != nil {
			return nil, 0, err
		}
		if snap, rev := s.cachedSnapshot(org.ID, org.RulesRevision, now); snap != nil {
			return snap, rev, nil
		}
	}
	return nil, 0, fmt.Errorf("snapshot of organization %s stays older than revision %d", org.ID, org.RulesRevision)
}

// cachedSnapshot returns the cached snapshot of org, and the revision it
// reflects, if that is at least revision, it was compiled under the plan in
// force (one compiled before the licence expired decides nothing after), and
// none of its rules has expired by now (Unix nanoseconds).
func (s *Server) cachedSnapshot(orgID string, revision, now int64) (*access.Snapshot, int64) {
	enforced := s.enforced()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cached, ok := s.snapshots[orgID]; ok && cached.revision >= revision && cached.snap.Enforced() == enforced && cached.snap.ValidAt(now) {
		return cached.snap, cached.revision
	}
	return nil, 0
}

// recompileSnapshot compiles org's cached facts again for now when the cached
// snapshot is recent enough but one of its rules has expired; false when it
// has nothing to compile from and the facts must be read.
func (s *Server) recompileSnapshot(orgID string, revision, now int64) bool {
	enforced := s.enforced()
	s.mu.Lock()
	cached, ok := s.snapshots[orgID]
	s.mu.Unlock()
	if !ok || cached.facts == nil || cached.revision < revision || cached.snap.Enforced() != enforced {
		return false
	}
	f := *cached.facts
	f.Now = max(now, cached.at)
	s.keepSnapshot(orgID, cached.revision, f)
	return true
}

// refreshSnapshot brings org's cached snapshot to the latest revision (at
// least want): from the rule changes logged since its revision when they
// describe everything that changed, which costs what changed; by reading and
// compiling all the facts otherwise.
func (s *Server) refreshSnapshot(ctx context.Context, orgID string, want int64) error {
	now := s.now().UnixNano()
	if base, ok := s.baseSnapshot(orgID, now); ok {
		changes, rev, ok, err := s.store.RuleChanges(ctx, orgID, base.revision)
		if err != nil {
			return err
		}
		if ok && rev >= want && s.applyChanges(orgID, base, rev, now, changes) != nil {
			return nil
		}
	}
	return s.rebuildSnapshot(ctx, orgID)
}

// baseSnapshot returns org's cached snapshot when later changes may be
// replayed onto it: compiled under the plan in force, none of its rules
// expired by now.
func (s *Server) baseSnapshot(orgID string, now int64) (cachedSnapshot, bool) {
	enforced := s.enforced()
	s.mu.Lock()
	defer s.mu.Unlock()
	cached, ok := s.snapshots[orgID]
	return cached, ok && cached.snap.Enforced() == enforced && cached.snap.ValidAt(now)
}

// applyChanges derives the snapshot of revision rev from base and the rule
// changes between them, and caches it unless the cache holds a newer one; nil
// when base cannot take them (access.Snapshot.Apply).
func (s *Server) applyChanges(orgID string, base cachedSnapshot, rev, now int64, changes []access.RuleChange) *access.Snapshot {
	if rev == base.revision {
		return base.snap
	}
	snap, ok := base.snap.Apply(now, changes...)
	if !ok {
		return nil
	}
	s.metrics.applied.Inc()
	// The facts an expiring snapshot keeps are those of base: a snapshot
	// derived from it keeps none, and is compiled from the database again
	// when one of its rules expires.
	c := cachedSnapshot{revision: rev, snap: snap, at: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.snapshots[orgID]; !ok || cur.revision < rev || cur.snap.Enforced() != snap.Enforced() {
		s.snapshots[orgID] = c
	}
	if snap.NeedsCompaction() && !s.compacting[orgID] {
		s.compacting[orgID] = true
		go s.compactSnapshot(orgID)
	}
	return snap
}

// compactSnapshot replaces org's cached snapshot with one whose overlays are folded in
// (access.Snapshot.Compacted), deciding alike. Folding copies tables (milliseconds at
// 100,000 rules), so it is done here, off the way of every request and every write's
// recheck, which only ever add to an overlay, and once: changes that land meanwhile are
// replayed onto the folded snapshot (a few each, from the log) until it catches up with
// the cache, so that nothing waits for it and nothing is lost. An organization changing
// faster than that for all of compactionCatchUps rounds leaves the overlay to the next
// change's call.
func (s *Server) compactSnapshot(orgID string) {
	defer func() {
		s.mu.Lock()
		delete(s.compacting, orgID)
		s.mu.Unlock()
	}()
	ctx := context.Background()
	now := s.now().UnixNano()
	base, ok := s.baseSnapshot(orgID, now)
	if !ok || !base.snap.NeedsCompaction() {
		return
	}
	folded, rev := base.snap.Compacted(), base.revision
	for range compactionCatchUps {
		s.mu.Lock()
		cur, ok := s.snapshots[orgID]
		if !ok || cur.snap.Enforced() != folded.Enforced() {
			s.mu.Unlock()
			return
		}
		if cur.revision == rev {
			cur.snap = folded
			s.snapshots[orgID] = cur
			s.mu.Unlock()
			s.metrics.compactions.Inc()
			return
		}
		s.mu.Unlock()
		if cur.revision < rev {
			// The log is ahead of the cache: the change that brings the cache here is
			// being applied.
			time.Sleep(time.Millisecond)
			continue
		}
		changes, to, ok, err := s.store.RuleChanges(ctx, orgID, rev)
		if err != nil || !ok {
			return
		}
		if folded, ok = folded.Apply(now, changes...); !ok {
			return
		}
		rev = to
	}
}

// compactionCatchUps bounds the rounds in which a folded snapshot catches up with changes.
const compactionCatchUps = 16

// rebuildSnapshot loads and compiles one organization's rules into the cache.
func (s *Server) rebuildSnapshot(ctx context.Context, orgID string) error {
	facts, rev, err := s.store.AccessFacts(ctx, orgID)
	if err != nil {
		return err
	}
	facts.Enforced = s.enforced()
	facts.Now = s.now().UnixNano()
	s.keepSnapshot(orgID, rev, facts)
	return nil
}

// keepSnapshot compiles facts (Enforced and Now set) of revision rev and
// caches the result unless the cache holds a newer revision, or the same one
// compiled for a later instant, under the same plan.
func (s *Server) keepSnapshot(orgID string, rev int64, facts access.Facts) *access.Snapshot {
	start := time.Now()
	snap := access.Compile(facts)
	s.metrics.rebuilds.Inc()
	s.metrics.rebuildS.Observe(time.Since(start).Seconds())
	c := cachedSnapshot{revision: rev, snap: snap, at: facts.Now}
	if snap.ValidUntil() != 0 {
		c.facts = &facts
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.snapshots[orgID]
	if !ok || cur.revision < rev || cur.snap.Enforced() != facts.Enforced || (cur.revision == rev && cur.at < facts.Now) {
		s.snapshots[orgID] = c
	}
	return snap
}
