package server

// Writes held to the decision that allowed them: a request whose rules changed
// before its write committed is authorized again and handled again.

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// decisionAttempts bounds how often one request is authorized and handled
// again after its write found the rules changed under its decision.
const decisionAttempts = 4

// runHandler runs h for a request authorized as c. A write is tied to the rules
// revision its decision was made on (gatehouse.WithDecidedRevision): when a
// permission change committed in between, the store asks recheck, inside the
// write's transaction, whether the rules as they now are decide alike what
// the request rests on. When they do not (gatehouse.ErrStaleDecision), nothing
// was written, and the request is authorized again on fresh rules and handled
// again (its body replayed): a caller removed or demoted meanwhile is refused.
// It returns the call that was handled last.
func (s *Server) runHandler(sw *statusWriter, r *http.Request, n need, h handlerFunc, c *call) (*call, error) {
	if c.org == nil || !isWrite(r) || n.query {
		return c, h(sw, r, c)
	}
	var body *replayBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &replayBody{rc: r.Body}
		r.Body = body
	}
	for attempt := 1; ; attempt++ {
		ctx := gatehouse.WithDecidedRevision(r.Context(), c.org.ID, c.revision, s.recheck(c, n))
		err := h(sw, r.WithContext(ctx), c)
		if gatehouse.ErrorCode(err) != gatehouse.EConflict || sw.wrote || attempt == decisionAttempts {
			return c, err
		}
		s.metrics.staleDecisions.Inc()
		// Rebuild from the database, not from a cached organization row that
		// may not show the change yet; the next authorize finds it cached.
		if err := s.refreshSnapshot(context.WithoutCancel(r.Context()), c.org.ID, 0); err != nil {
			return c, err
		}
		if body != nil {
			if err := body.rewind(); err != nil {
				return c, err
			}
		}
		if c, err = s.authorize(r, n); err != nil {
			return c, err
		}
	}
}

// recheck answers the store's question for a request authorized as c under
// need n: do the rules at revision rev decide everything it rests on as c's
// snapshot did (access.Snapshot.Holds)? A snapshot of rev is taken from the
// cache, derived from the cached one by the rule changes logged since, or
// compiled from all the facts; the store reads either in its transaction,
// while it holds the organization's row, so the cheaper the better.
func (s *Server) recheck(c *call, n need) gatehouse.Recheck {
	return func(rev int64, rules gatehouse.RulesAt) (bool, error) {
		// The rules must be compiled for the instant of the write, not of the
		// decision: a rule that expired in between no longer allows it.
		now := s.now().UnixNano()
		var snap *access.Snapshot
		// One look at the cache: a request outside this transaction may bring it to
		// rev at any moment, and a second look that found it there (having missed it
		// at the first) read all the organization's rules while every other writer
		// waited (p99 400 ms at 100,000 rules, gatehouse-load --ops rules).
		if base, ok := s.baseSnapshot(c.org.ID, now); ok {
			switch {
			case base.revision == rev:
				snap = base.snap
			case base.revision < rev:
				changes, ok, err := rules.Changes(base.revision)
				if err != nil {
					return false, err
				}
				if ok {
					snap = s.applyChanges(c.org.ID, base, rev, now, changes)
				}
			}
		}
		if snap == nil {
			f, err := rules.Facts()
			if err != nil {
				return false, err
			}
			f.Enforced, f.Now = s.enforced(), now
			snap = s.keepSnapshot(c.org.ID, rev, f)
		}
		st := access.Standing{User: c.user.ID}
		if c.target != nil {
			st.Target = c.target.User.ID
		}
		if c.project != nil {
			st.Project = c.project.ID
		}
		switch n.scope {
		case scopeKind:
			st.Kind, st.HasKind = n.kind, true
		case scopeObject:
			st.Object = c.obj
		}
		if c.rests.ID != 0 {
			st.Object = c.rests
		}
		return c.snap.Holds(snap, st), nil
	}
}

// replayBody keeps what a handler reads of the request body, so that the
// request can be handled again. Bodies are bounded (maxBodyBytes) before any
// handler sees them whole.
type replayBody struct {
	rc  io.ReadCloser
	buf bytes.Buffer
	rd  *bytes.Reader // after rewind: the body read so far, then rc
}

func (b *replayBody) Read(p []byte) (int, error) {
	if b.rd != nil && b.rd.Len() > 0 {
		return b.rd.Read(p)
	}
	n, err := b.rc.Read(p)
	b.buf.Write(p[:n])
	return n, err
}

func (b *replayBody) Close() error { return b.rc.Close() }

// rewind makes the next read start again from the body's first byte.
func (b *replayBody) rewind() error {
	// Keep at most one byte past the limit: enough for the handler to see a
	// body too large again.
	if _, err := io.CopyN(&b.buf, b.rc, max(0, maxBodyBytes+1-int64(b.buf.Len()))); err != nil && err != io.EOF {
		return err
	}
	b.rd = bytes.NewReader(b.buf.Bytes())
	return nil
}
