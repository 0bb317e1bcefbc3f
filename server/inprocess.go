package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// The web UI (package ui) is a client of this API inside the same process,
// and these methods are all it uses: Authenticate once per page, then Do
// for every read and write and Allowed to know which controls to offer.
// An in-process call is not a request: it has no request id, log line or
// metrics count of its own, and no credentials either. Its caller travels
// in its context under a key only this package can set, so nothing a
// client sends can make a request pass for one.

type inProcessKey struct{}

// inProcess is the caller of a page's in-process calls.
type inProcess struct {
	user  *gatehouse.User // nil: nobody is signed in
	token string          // the session's token, so that a logout ends it
	// write: the page was asked for with a write (a form post), the only
	// kind of page that may change anything.
	write bool
}

// inProcessCaller returns the in-process caller ctx carries, or nil when
// ctx is an incoming request's.
func inProcessCaller(ctx context.Context) *inProcess {
	in, _ := ctx.Value(inProcessKey{}).(*inProcess)
	return in
}

// pageWriterKey carries a page request's statusWriter, so that Authenticate
// can name the page's user in its log line.
type pageWriterKey struct{}

// Authenticate finds who sent the page request r, by its session cookie
// alone (a browser sends no API key), and looks it up once for the whole
// page. The returned context carries that caller, or that nobody is signed
// in, for Do and Allowed; signedIn tells which. An unknown or expired
// session is nobody, not an error; err is a failure to look it up.
func (s *Server) Authenticate(r *http.Request) (ctx context.Context, signedIn bool, err error) {
	u, token, err := s.sessionUser(r)
	if err != nil {
		return nil, false, err
	}
	if sw, ok := r.Context().Value(pageWriterKey{}).(*statusWriter); ok && u != nil {
		sw.userID = u.ID
	}
	in := &inProcess{user: u, token: token, write: isWrite(r)}
	return context.WithValue(r.Context(), inProcessKey{}, in), u != nil, nil
}

// Do serves one API request in-process, for the caller ctx carries (from
// Authenticate; without one, for nobody), and returns the API's answer as
// a client would receive it, its body read. page is the browser's request
// the call is made for: its host and address stand for the call's, and a
// write carries the page's fetch metadata (Origin, Sec-Fetch-Site,
// Referer), so the API's own cross-origin check judges the browser's real
// request, whatever the page checked. A write that is not a query is
// refused unless the page itself is a write: a page anyone can link to
// changes nothing. Only an API path is served; err is a request that
// cannot be made (a malformed method or target).
func (s *Server) Do(ctx context.Context, page *http.Request, method, target string, body []byte) (*http.Response, error) {
	in := inProcessCaller(ctx)
	if in == nil {
		in = &inProcess{}
		ctx = context.WithValue(ctx, inProcessKey{}, in)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if page != nil {
		req.Host, req.RemoteAddr, req.TLS = page.Host, page.RemoteAddr, page.TLS
		if v := page.Header.Get("X-Forwarded-Proto"); v != "" {
			req.Header.Set("X-Forwarded-Proto", v)
		}
		if isWrite(page) && isWrite(req) {
			for _, h := range []string{"Origin", "Sec-Fetch-Site", "Referer"} {
				if v := page.Header.Get(h); v != "" {
					req.Header.Set(h, v)
				}
			}
		}
	}
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec, status: http.StatusOK}
	if n, _, ok := s.routeOf(req); ok && isWrite(req) && !n.query && !in.write {
		s.writeError(sw, req, gatehouse.Errorf(gatehouse.EPermissionDenied, "CSRF Failed: a page that is not a form post changes nothing."))
	} else {
		s.serve(sw, req, false)
	}
	return rec.Result(), nil
}

// Allowed reports whether the authorization the API declares for method
// target (routes.go) would let ctx's caller make that request, without
// making it: nil, or the API's refusal as the *gatehouse.Error it would
// answer with. A page asks it to offer only the controls the API accepts,
// and to say why not; checks made inside a handler are not covered, so the
// API's answer to the real request stays the final word. Any other error
// is a failure to decide, or a target that is no API route.
func (s *Server) Allowed(ctx context.Context, method, target string) error {
	if inProcessCaller(ctx) == nil {
		ctx = context.WithValue(ctx, inProcessKey{}, &inProcess{})
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	n, pattern, ok := s.routeOf(req)
	if !ok {
		return fmt.Errorf("no API route for %s %s", method, target)
	}
	setPathValues(req, pattern)
	// The page reads the refusal as the API's error, as writeError would answer it.
	_, err = s.authorize(req, n)
	return denied(err)
}

// routeOf finds the API route req would be served by, and its requirement.
func (s *Server) routeOf(req *http.Request) (n need, pattern string, ok bool) {
	_, pattern = s.mux.Handler(req)
	for _, rt := range s.routes {
		if rt.pattern == pattern {
			return rt.need, pattern, true
		}
	}
	return need{}, "", false
}

// setPathValues fills req's path values from a mux pattern such as
// "POST /api/projects/{project}/feature_flags", as the mux does when it
// dispatches.
func setPathValues(req *http.Request, pattern string) {
	_, path, _ := strings.Cut(pattern, " ")
	pat := strings.Split(strings.Trim(path, "/"), "/")
	got := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	for i, seg := range pat {
		if i >= len(got) || !strings.HasPrefix(seg, "{") {
			continue
		}
		name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
		if name == "$" {
			continue
		}
		req.SetPathValue(name, got[i])
	}
}
