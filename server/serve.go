package server

// The one entry of every request, and how a route is registered and answered.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

type route struct {
	pattern string
	need    need
	doc     opDoc  // its bodies and answers, for the schema
	tag     string // the section it is in (Server.section)
	summary string
}

// handle registers h behind its authorization, with its revision headers.
// The request id, log line and metrics count are ServeHTTP's, once per
// incoming request: an in-process call of the web UI (Do) gets none.
func (s *Server) handle(pattern string, n need, h handlerFunc, opts ...opt) {
	rt := route{pattern: pattern, need: n}
	for _, o := range opts {
		o(&rt.doc)
	}
	if len(s.tags) > 0 {
		rt.tag = s.tags[len(s.tags)-1]["name"].(string)
	}
	kind := ""
	if n.scope == scopeKind || n.scope == scopeObject {
		kind = n.kind.String()
	}
	rt.summary = summaryOf(h, kind)
	s.routes = append(s.routes, rt)
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
	// conn is the request's connection when it can gather an answer's writes.
	conn *gatherConn
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
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, conn: gatherConnOf(r)}
	sw.Header().Set("X-Request-Id", id)
	defer func() {
		route := unmatchedRoute
		if sw.pattern != "" {
			route = routePath(sw.pattern)
		}
		elapsed := time.Since(start)
		s.metrics.countRequest(route, sw.status, elapsed)
		// Attributes rather than key-value pairs: a line per request is on every
		// request's path, and pairs are boxed and converted one by one.
		attrs := [...]slog.Attr{slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.status), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.Int64("user_id", sw.userID)}
		n := len(attrs)
		if sw.userID == 0 {
			n--
		}
		// The handler itself, with no caller's pc: Logger looks the caller up on
		// every line, for a source the log does not print.
		if h := s.log.Handler(); h.Enabled(r.Context(), slog.LevelInfo) {
			rec := slog.NewRecord(start.Add(elapsed), slog.LevelInfo, "request", 0)
			rec.AddAttrs(attrs[:n]...)
			_ = h.Handle(r.Context(), rec)
		}
	}()
	// Only a request from the network meets the edge: the UI's in-process
	// calls (Do) carry the page's context, or none at startup, and are not
	// misdirected whatever Host they name.
	er := s.edge(sw, r)
	if er == nil {
		return
	}
	s.serve(sw, er, true)
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
		// Single sign-on's two paths are the server's own, pages or not: they
		// sign a browser in as POST /api/login does.
		if h, pattern := s.oidcRoute(r); pattern != "" {
			w.pattern = pattern
			h.ServeHTTP(w, r)
			return
		}
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
	return p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/_") || p == "/metrics" || isSCIMPath(p)
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
