package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/google/uuid"
)

// scope is how much of the URL a route's authorization resolves.
type scope uint8

const (
	scopePublic  scope = iota // anyone
	scopeUser                 // any signed-in user
	scopeOrg                  // a member of {org}
	scopeProject              // a member allowed into {project}
	scopeKind                 // {project}, then a level on a new object of the kind
	scopeObject               // {project} and {id}, then a level on that object
)

// need is a route's authorization requirement, declared where it is registered.
type need struct {
	scope      scope
	membership int          // scopeOrg: the least membership level
	project    bool         // scopeProject: needs project admin (org admin+ or a project admin rule)
	kind       access.Kind  // scopeKind, scopeObject
	level      access.Level // scopeKind, scopeObject: the least level
	// licensed: the route changes access configuration, which needs the
	// role_based_access feature (402 otherwise, as PostHog does).
	needsLicence bool
	// query: a POST that only asks (access/check) and changes nothing.
	query bool
	// row: scopeObject, the handler shows the object's row, so authorization
	// reads it rather than only the head.
	row bool
	// deletesProject: scopeProject, the route destroys the project and every
	// object in it, which only organization admins may (access.MayDeleteProject).
	deletesProject bool
	// removal: scopeOrg, {user} is a member the caller may remove
	// (access.MayRemoveMember: themselves, or, for an admin, a member at or
	// below their level); it is resolved into call.target.
	removal bool
}

var (
	public         = need{scope: scopePublic}
	signedIn       = need{scope: scopeUser}
	orgMember      = need{scope: scopeOrg, membership: access.MemberLevel}
	orgAdmin       = need{scope: scopeOrg, membership: access.AdminLevel}
	orgOwner       = need{scope: scopeOrg, membership: access.OwnerLevel}
	orgAdminOrSelf = need{scope: scopeOrg, membership: access.MemberLevel, removal: true}
	projectMember  = need{scope: scopeProject}
	projectAdmin   = need{scope: scopeProject, project: true}
	projectDelete  = need{scope: scopeProject, deletesProject: true}
)

func kindLevel(k access.Kind, l access.Level) need {
	return need{scope: scopeKind, kind: k, level: l}
}

func objectLevel(k access.Kind, l access.Level) need {
	return need{scope: scopeObject, kind: k, level: l}
}

func (n need) licensed() need { n.needsLicence = true; return n }

func (n need) asks() need { n.query = true; return n }

func (n need) withRow() need { n.row = true; return n }

// call is what the authorization resolved for one request.
type call struct {
	user    *gatehouse.User
	org     *gatehouse.Organization
	snap    *access.Snapshot
	project *gatehouse.Project
	kind    access.Kind
	// obj is {id}'s head, all that authorizing it needs; res is its row,
	// read by s.resource when a handler needs more than the head.
	obj       access.Object
	res       *gatehouse.Resource
	decision  access.Decision
	viaCookie bool
	// minRevision is X-Gatehouse-Min-Revision: decide on rules at least this fresh.
	minRevision int64
	// revision is the rules revision snap reflects: the one the request's
	// writes must still find (gatehouse.WithDecidedRevision).
	revision int64
	// target is {user}'s membership, for routes that resolve it (removal).
	target *gatehouse.Membership
}

// membership is the caller's membership level in c.org.
func (c *call) membership() int { return c.snap.MembershipLevel(c.user.ID) }

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

type route struct {
	pattern string
	need    need
}

// handle registers h behind its authorization, with its revision headers.
// The request id, log line and metrics count are ServeHTTP's, once per
// incoming request: an in-process call of the web UI (Do) gets none.
func (s *Server) handle(pattern string, n need, h handlerFunc) {
	s.routes = append(s.routes, route{pattern: pattern, need: n})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w, status: http.StatusOK}
		}
		var c *call
		sw.beforeHeader = func(status int) { s.revisionHeader(r, n, sw.Header(), c, status) }
		c, err := s.authorize(r, n)
		if err == nil {
			c, err = s.runHandler(sw, r, n, h, c)
		}
		if err != nil {
			s.writeError(sw, r, err)
		}
		if c != nil && c.user != nil {
			sw.userID = c.user.ID
		}
	})
}

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
		if err := s.rebuildSnapshot(context.WithoutCancel(r.Context()), c.org.ID); err != nil {
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
// cache or compiled from facts, which the store reads in its transaction.
func (s *Server) recheck(c *call, n need) gatehouse.Recheck {
	return func(rev int64, facts func() (access.Facts, error)) (bool, error) {
		snap, cached := s.cachedSnapshot(c.org.ID, rev)
		if snap == nil || cached != rev {
			f, err := facts()
			if err != nil {
				return false, err
			}
			f.Enforced = s.enforced()
			snap = access.Compile(f)
			s.metrics.rebuilds.Inc()
			s.mu.Lock()
			if cur, ok := s.snapshots[c.org.ID]; !ok || cur.revision < rev {
				s.snapshots[c.org.ID] = cachedSnapshot{revision: rev, snap: snap}
			}
			s.mu.Unlock()
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

// statusWriter remembers the status and lets the revision header be set
// just before the header is written.
type statusWriter struct {
	http.ResponseWriter
	status       int
	wrote        bool
	beforeHeader func(status int)
	// pattern is the route the request matched, and userID its caller
	// (0: none), for its log line and metrics.
	pattern string
	userID  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.status = code
		if w.beforeHeader != nil {
			w.beforeHeader(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// revisionHeader tells the client which rules revision its request saw
// (reads) or produced (successful writes), so it can ask any replica for a
// snapshot at least that fresh with X-Gatehouse-Min-Revision.
func (s *Server) revisionHeader(r *http.Request, n need, h http.Header, c *call, status int) {
	if c == nil || c.org == nil {
		return
	}
	rev := c.org.RulesRevision
	if isWrite(r) && !n.query && status < 400 {
		if org, err := s.store.Organization(r.Context(), c.org.ID); err == nil {
			rev = org.RulesRevision
		}
	}
	h.Set("X-Gatehouse-Revision", strconv.FormatInt(rev, 10))
}

// Routes lists every registered pattern with its requirement, so a test
// can check that every route has a row in the authorization matrix.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// ServeHTTP is the one entry of every incoming request, API or page: it
// gives the request its id, recovers panics, and logs and counts it once,
// under the route pattern it matched and the status it was answered with.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		id = randomToken(12)
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	sw.Header().Set("X-Request-Id", id)
	defer func() {
		route := unmatchedRoute
		if sw.pattern != "" {
			route = routePath(sw.pattern)
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		attrs := []any{"request_id", id, "method", r.Method, "route", route, "status", sw.status, "duration_ms", float64(elapsed.Microseconds()) / 1000}
		if sw.userID != 0 {
			attrs = append(attrs, "user_id", sw.userID)
		}
		s.log.InfoContext(r.Context(), "request", attrs...)
	}()
	s.serve(sw, r, true)
}

// unmatchedRoute labels the requests that matched no route.
const unmatchedRoute = "unmatched"

// routePath is a mux pattern's path, its label in logs and metrics.
func routePath(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		return p
	}
	return pattern
}

// serve dispatches r, answering a panic with a 500.
func (s *Server) serve(w *statusWriter, r *http.Request, pages bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.writeError(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	if r = s.edge(w, r); r == nil {
		return
	}
	s.dispatch(w, r, pages)
}

// dispatch normalises the optional trailing slash and sends r to its API
// route or, outside the API and when pages is set, to its page; the mux's
// own plain-text 404 and 405 become PostHog-shaped JSON.
func (s *Server) dispatch(w *statusWriter, r *http.Request, pages bool) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r.URL.Path = strings.TrimRight(p, "/")
		r.URL.RawPath = ""
	}
	api := r.URL.Path == "" || isAPIPath(path.Clean(r.URL.Path))
	if p := r.URL.Path; p != "" && path.Clean(p) != p && api {
		// The mux would redirect "/api/x/1/../2" to "/api/x/2", and a client that
		// follows a 307 would repeat a DELETE there. The API answers for the path
		// it was given: there is no such resource.
		s.writeError(w, r, gatehouse.NotFound())
		return
	}
	var mux Pages = s.mux // the API's routes answer Handler as the pages do
	if !api {
		if !pages || s.pages == nil {
			s.writeError(w, r, gatehouse.NotFound())
			return
		}
		mux = s.pages
		// Authenticate names the page's user in its log line through this.
		r = r.WithContext(context.WithValue(r.Context(), pageWriterKey{}, w))
	}
	h, pattern := mux.Handler(r)
	if pattern == "" {
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			s.writeError(w, r, gatehouse.Errorf(gatehouse.EMethodNotAllowed, "Method %q not allowed.", r.Method))
			return
		}
		s.writeError(w, r, gatehouse.NotFound())
		return
	}
	w.pattern = pattern
	mux.ServeHTTP(w, r)
}

// isAPIPath reports whether p (clean) belongs to the JSON API rather than the web UI.
func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/_") || p == "/metrics"
}

// statusRecorder captures what the mux would have answered for an unmatched request.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.status = code }

func (s *Server) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request, c *call) error {
	return gatehouse.Errorf(gatehouse.EMethodNotAllowed, "Method %q not allowed.", r.Method)
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authorize resolves the caller and the URL's organization, project and
// object, and checks n. Unknown and foreign things are 404, never 403, so
// existence does not leak across organizations.
func (s *Server) authorize(r *http.Request, n need) (*call, error) {
	c := &call{}
	if n.scope == scopePublic {
		// Public routes still learn who is calling (invite acceptance, logout).
		u, viaCookie, err := s.authenticate(r)
		if err == nil {
			c.user, c.viaCookie = u, viaCookie
		}
		// Unlike other routes, a public write is checked even without a cookie:
		// a page on another site must not log a visitor in to the attacker's
		// account (login CSRF). Only a bearer request is exempt.
		if isWrite(r) && (c.viaCookie || r.Header.Get("Authorization") == "") {
			if err := s.cop.Check(r); err != nil {
				return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "CSRF Failed: cross-origin request.")
			}
		}
		return c, nil
	}
	u, viaCookie, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, gatehouse.Errorf(gatehouse.ENotAuthenticated, "Authentication credentials were not provided.")
	}
	c.user, c.viaCookie = u, viaCookie
	if v := r.Header.Get("X-Gatehouse-Min-Revision"); v != "" {
		c.minRevision, _ = strconv.ParseInt(v, 10, 64)
	}
	// Bearer requests carry no ambient credential, so only cookie-authenticated
	// writes need the cross-origin check.
	if viaCookie && isWrite(r) {
		if err := s.cop.Check(r); err != nil {
			return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "CSRF Failed: cross-origin request.")
		}
	}
	ctx := r.Context()
	switch n.scope {
	case scopeUser:
		return c, nil
	case scopeOrg:
		if err := s.resolveOrg(ctx, c, r.PathValue("org")); err != nil {
			return nil, err
		}
		// denied: pages ask authorize directly and expect the API's error type.
		if err := access.RequireMembership(c.membership(), n.membership); err != nil {
			return nil, denied(err)
		}
		if n.removal {
			m, err := s.targetMember(r, c)
			if err != nil {
				return nil, err
			}
			if err := access.MayRemoveMember(c.membership(), m.Level, m.User.ID == u.ID); err != nil {
				return nil, denied(err)
			}
			c.target = m
		}
	default:
		if err := s.resolveProject(ctx, c, r.PathValue("project")); err != nil {
			return nil, err
		}
		switch n.scope {
		case scopeProject:
			switch {
			case n.deletesProject:
				if err := c.snap.MayDeleteProject(u.ID); err != nil {
					return nil, refusal(err)
				}
			case n.project:
				if !c.snap.MayAdministerProject(u.ID, c.project.ID) {
					return nil, gatehouse.Errorf(gatehouse.EPermissionDenied, "You need to have admin level or higher.")
				}
			}
		case scopeKind:
			c.kind = n.kind
			c.decision = c.snap.KindLevel(u.ID, c.project.ID, n.kind)
			if err := access.RequireKindLevel(c.decision, n.level, n.kind); err != nil {
				s.metrics.decided(n.kind, resultDenied, 1)
				return nil, refusal(err)
			}
		case scopeObject:
			c.kind = n.kind
			if err := s.resolveObject(ctx, c, n, r.PathValue("id")); err != nil {
				if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
					s.metrics.decided(n.kind, resultHidden, 1)
				}
				return nil, err
			}
			if err := access.RequireObjectLevel(c.decision, n.level, n.kind); err != nil {
				s.metrics.decided(n.kind, resultDenied, 1)
				return nil, refusal(err)
			}
		}
		if n.scope >= scopeKind {
			s.metrics.decided(n.kind, resultAllowed, 1)
		}
	}
	if n.needsLicence && isWrite(r) && !s.enforced() {
		return nil, gatehouse.Errorf(gatehouse.EPaymentRequired, "Role-based access is an enterprise feature: add a licence to use it.")
	}
	return c, nil
}

// resolveOrg loads {org} ("@current" or a UUID) and the caller's snapshot of it.
func (s *Server) resolveOrg(ctx context.Context, c *call, id string) error {
	if id == "@current" {
		if cur := c.user.CurrentOrganizationID; cur != "" {
			if err := s.resolveOrg(ctx, c, cur); gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				return err
			}
		}
		// The current organization was deleted or the user left it: fall back
		// to the oldest one they still belong to, as PostHog does.
		orgs, err := s.store.OrganizationsOf(ctx, c.user.ID)
		if err != nil {
			return err
		}
		if len(orgs) == 0 {
			return gatehouse.NotFound()
		}
		id = orgs[0].ID
	}
	if _, err := uuid.Parse(id); err != nil {
		return gatehouse.NotFound()
	}
	org, err := s.store.Organization(ctx, id)
	if err != nil {
		return err
	}
	return s.useOrg(ctx, c, org)
}

// useOrg checks the caller is a member of org and sets c's organization
// and snapshot.
func (s *Server) useOrg(ctx context.Context, c *call, org *gatehouse.Organization) error {
	if c.minRevision > org.RulesRevision {
		// The client saw a newer revision elsewhere: read again rather than
		// decide on rules older than its own write.
		fresh, err := s.store.Organization(ctx, org.ID)
		if err != nil {
			return err
		}
		org = fresh
	}
	snap, rev, err := s.snapshot(ctx, org)
	if err != nil {
		return err
	}
	if !access.IsMember(snap.MembershipLevel(c.user.ID)) {
		return gatehouse.NotFound()
	}
	c.org, c.snap, c.revision = org, snap, rev
	return nil
}

// resolveProject loads {project} ("@current" or an id) and its organization,
// and checks the caller may enter it.
func (s *Server) resolveProject(ctx context.Context, c *call, id string) error {
	var pid int64
	if id == "@current" {
		pid = c.user.CurrentProjectID
	} else {
		n, err := parseID(id)
		if err != nil || n <= 0 {
			return gatehouse.NotFound()
		}
		pid = n
	}
	p, org, err := s.store.ProjectOrganization(ctx, pid)
	if err != nil {
		return err
	}
	if err := s.useOrg(ctx, c, org); err != nil {
		return err
	}
	if _, ok := c.snap.ProjectAccess(c.user.ID, p.ID); !ok {
		return gatehouse.NotFound()
	}
	c.project = p
	return nil
}

// resolveObject finds {id} of kind n.kind in c.project and decides the
// caller's level. Unless the route shows the row (n.row), a numeric id needs
// only the object's head, which the store keeps in memory: an edit or a
// delete then reads the row once, in its own transaction, not here too.
func (s *Server) resolveObject(ctx context.Context, c *call, n need, id string) error {
	k := n.kind
	num, err := parseID(id)
	switch {
	case kindSpecs[k].stringID:
		c.res, err = s.store.ResourceByKey(ctx, c.project.ID, k, id)
	case err != nil || num <= 0:
		return gatehouse.NotFound()
	case n.row:
		c.res, err = s.store.Resource(ctx, c.project.ID, k, num)
	default:
		var heads []access.Object
		if heads, err = s.store.HeadsByID(ctx, []int64{num}); err == nil {
			if len(heads) != 1 || heads[0].Project != c.project.ID || heads[0].Kind != k {
				return gatehouse.NotFound()
			}
			c.obj = heads[0]
		}
	}
	if err != nil {
		return err
	}
	if c.res != nil {
		c.obj = c.res.Object()
	}
	d := c.snap.Decide(c.user.ID, c.obj)
	if !d.CanView() {
		return gatehouse.NotFound()
	}
	c.decision = d
	return nil
}

// resource returns the row of the object c names, reading it once.
func (s *Server) resource(ctx context.Context, c *call) (*gatehouse.Resource, error) {
	if c.res == nil {
		res, err := s.store.Resource(ctx, c.project.ID, c.kind, c.obj.ID)
		if err != nil {
			return nil, err
		}
		c.res = res
	}
	return c.res, nil
}

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

// parseID reads a numeric id in its one canonical form: "+1" and "01" name
// no object, so one object has one URL.
func parseID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, gatehouse.NotFound()
	}
	return n, nil
}
