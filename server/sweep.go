package server

import (
	"context"
	"time"
)

// ruleSweepInterval is how often a replica deletes expired rules. Decisions do
// not wait for it (a snapshot is compiled again the instant a rule in it
// expires): the sweep keeps the table small and writes the expiry in the
// activity log.
const ruleSweepInterval = 30 * time.Second

// ruleSweepBatch bounds the rules one pass deletes before it looks again.
const ruleSweepBatch = 100

// SweepExpiredRules deletes expired rules every ruleSweepInterval until ctx
// ends, each with its "expired" activity row. Every replica may run it: the
// store deletes and records each rule once.
func (s *Server) SweepExpiredRules(ctx context.Context) {
	t := time.NewTicker(ruleSweepInterval)
	defer t.Stop()
	for {
		if err := s.sweepRules(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("deleting expired rules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepRules deletes every rule expired by now, a batch at a time.
func (s *Server) sweepRules(ctx context.Context) error {
	for range 100 { // a bound, should rules expire faster than they are swept
		n, err := s.store.ExpireRules(ctx, ruleSweepBatch)
		if err != nil {
			return err
		}
		if n > 0 {
			s.log.Info("expired rules deleted", "count", n)
		}
		if n < ruleSweepBatch {
			return nil
		}
	}
	return nil
}
