package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/license"
)

// licenceReloadInterval is how often (by the server's clock) Config.ReloadLicense
// is asked for a renewed licence: often enough that a renewal takes effect well
// within the minute the contract allows, rarely enough that reading a file
// costs nothing.
const licenceReloadInterval = 10 * time.Second

// licenceWatchInterval is how often WatchLicence looks at the licence while no
// request does, so that an idle replica logs an expiry (and picks up a
// renewal) within seconds too.
const licenceWatchInterval = 5 * time.Second

// licensing holds the licence the server runs under and the plan it granted
// when last looked at, so that a change of plan is acted on once: logged, and
// every snapshot compiled under the old plan dropped.
type licensing struct {
	state atomic.Pointer[licenceState]
	// mu serialises checks that may change state (a reload, a change of plan).
	mu     sync.Mutex
	reload func(now time.Time) (license.License, error)
}

type licenceState struct {
	lic        license.License
	plan       license.Plan // what lic granted at the last check
	nextReload time.Time
	reloadErr  string // the last reload error, logged once rather than on every reload
}

func (l *licensing) init(cfg Config) {
	lic := cfg.License
	if lic.Plan == "" {
		lic = license.License{Plan: cfg.Plan}
	}
	now := cfg.Now()
	l.reload = cfg.ReloadLicense
	l.state.Store(&licenceState{lic: lic, plan: lic.PlanAt(now), nextReload: now.Add(licenceReloadInterval)})
}

// currentPlan returns the plan in force now. Every replica evaluates the
// licence against its own clock on every call, which costs one comparison of
// times: a licence that expires while the server runs stops granting its plan
// at that instant, on every replica, whether or not they talk to each other.
func (s *Server) currentPlan() license.Plan {
	now := s.now()
	st := s.licence.state.Load()
	plan := st.lic.PlanAt(now)
	if plan != st.plan || s.licence.reload != nil && !now.Before(st.nextReload) {
		plan = s.checkLicence(now)
	}
	return plan
}

// enforced reports whether role-based access applies at all (PostHog: an
// enterprise feature; without it every member edits everything).
func (s *Server) enforced() bool {
	return s.currentPlan().Has(license.FeatureRoleBasedAccess)
}

// checkLicence reloads the licence when a reload is due and acts on a change
// of plan: it drops every cached snapshot (each has the plan's enforcement
// compiled in; see cachedSnapshot, which also refuses one compiled under
// another plan, so a rebuild racing this check cannot bring the old plan
// back) and logs one line. It returns the plan in force at now.
func (s *Server) checkLicence(now time.Time) license.Plan {
	l := &s.licence
	if !l.mu.TryLock() {
		// Another request is checking, perhaps reading a file: the licence as
		// it stands answers this one; only the log line and a reload wait.
		return l.state.Load().lic.PlanAt(now)
	}
	defer l.mu.Unlock()
	st := *l.state.Load()
	if l.reload != nil && !now.Before(st.nextReload) {
		st.nextReload = now.Add(licenceReloadInterval)
		switch lic, err := l.reload(now); {
		case err != nil:
			if err.Error() != st.reloadErr {
				s.log.Warn("licence not reloaded: keeping the licence in force", "reason", err.Error())
			}
			st.reloadErr = err.Error()
		case !sameLicence(lic, st.lic):
			st.lic, st.reloadErr = lic, ""
			s.log.Info("licence reloaded", "plan", string(lic.Plan), "valid_until", validUntil(lic))
		default:
			st.reloadErr = ""
		}
	}
	plan := st.lic.PlanAt(now)
	if plan != st.plan {
		st.plan = plan
		s.mu.Lock()
		clear(s.snapshots)
		s.mu.Unlock()
		if expired := !st.lic.ValidUntil.IsZero() && !now.Before(st.lic.ValidUntil); expired && plan == license.Free {
			s.log.Warn("licence expired: running on the free plan", "valid_until", validUntil(st.lic))
		} else {
			s.log.Info("licence in force: running on the "+string(plan)+" plan", "valid_until", validUntil(st.lic))
		}
	}
	l.state.Store(&st)
	return plan
}

// WatchLicence looks at the licence every few seconds until ctx ends, so that
// an expiry is logged, and a renewal picked up, on a replica no request
// reaches. Decisions do not depend on it: every request looks too.
func (s *Server) WatchLicence(ctx context.Context) {
	t := time.NewTicker(licenceWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.currentPlan()
		}
	}
}

func sameLicence(a, b license.License) bool {
	return a.Plan == b.Plan && a.ID == b.ID && a.ValidUntil.Equal(b.ValidUntil) && a.IssuedAt.Equal(b.IssuedAt)
}

func validUntil(l license.License) string {
	if l.ValidUntil.IsZero() {
		return "never expires"
	}
	return l.ValidUntil.UTC().Format(time.RFC3339)
}
