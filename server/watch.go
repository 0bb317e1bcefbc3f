package server

import (
	"context"
)

// rulesWatcher is implemented by stores that can tell replicas of rule
// changes as they commit (PostgreSQL's LISTEN/NOTIFY).
type rulesWatcher interface {
	WatchRules(ctx context.Context, changed func(orgID string)) error
}

// WatchRules keeps this replica's snapshots fresh ahead of requests: when
// another replica changes an organization's rules, the snapshot is brought
// up to date at once (from the logged rule changes when they suffice) rather
// than by the next request that needs it. Freshness does not
// depend on it: the store drops its cached organization (and so the revision
// every request compares with its snapshot's) on the same notice; this only
// takes the rebuild off the request path. It returns when ctx ends, at once
// for stores that cannot watch.
func (s *Server) WatchRules(ctx context.Context) error {
	w, ok := s.store.(rulesWatcher)
	if !ok {
		return nil
	}
	return w.WatchRules(ctx, func(orgID string) {
		if orgID == "" {
			// (Re)connected: changes may have been missed, so every snapshot is
			// suspect. Requests rebuild them as they come.
			s.mu.Lock()
			clear(s.snapshots)
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		_, cached := s.snapshots[orgID]
		s.mu.Unlock()
		if !cached {
			return // nobody here uses it; the first request will build it
		}
		_, err, _ := s.rebuilding.Do(orgID, func() (any, error) {
			return nil, s.refreshSnapshot(ctx, orgID, 0)
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("rebuilding a snapshot after a change notice", "organization", orgID, "err", err)
		}
	})
}
