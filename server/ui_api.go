package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// apiClient is how the web UI talks to the API: every read and write a page
// makes is an in-process request to the server's own handler, carrying the
// browser's session cookie. The API authorizes, validates and answers; the
// UI only renders its answers, so every rule lives in one place.
type apiClient struct {
	s *Server
	r *http.Request // the browser's request
}

// apiError is an error answer of the API, in PostHog's shape.
type apiError struct {
	Status int
	errorBody
}

func (e *apiError) Error() string {
	return fmt.Sprintf("API answered %d %s: %s", e.Status, e.Code, e.Detail)
}

// attr is the field the error names, or "".
func (e *apiError) attr() string {
	if e.Attr == nil {
		return ""
	}
	return *e.Attr
}

// asAPIError returns err's API error, if it is one.
func asAPIError(err error) (*apiError, bool) {
	var e *apiError
	ok := errors.As(err, &e)
	return e, ok
}

// apiStatus is err's HTTP status if the API answered it, else 0.
func apiStatus(err error) int {
	if e, ok := asAPIError(err); ok {
		return e.Status
	}
	return 0
}

// newRequest builds an API request on behalf of the browser.
func (c apiClient) newRequest(method, path string, in any) (*http.Request, error) {
	var body *bytes.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(c.r.Context(), method, path, body)
	if err != nil {
		return nil, err
	}
	req.Host = c.r.Host
	req.RemoteAddr = c.r.RemoteAddr
	req.TLS = c.r.TLS
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Only the session cookie authenticates the UI: a browser never sends a
	// personal API key, and nothing else of the browser's is forwarded.
	if ck, err := c.r.Cookie(sessionCookie); err == nil {
		req.AddCookie(ck)
	}
	for _, h := range []string{"X-Forwarded-Proto", "X-Request-Id"} {
		if v := c.r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	// A write the browser asked for carries the browser's own fetch
	// metadata, so the API's cross-origin check judges the real request too
	// (the UI has already checked it; see uiHandler).
	if isWrite(c.r) && isWrite(req) {
		for _, h := range []string{"Origin", "Sec-Fetch-Site", "Referer"} {
			if v := c.r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
	}
	return req, nil
}

// call sends one API request and decodes its JSON answer into out (when
// not nil). An error answer comes back as *apiError. The answer's header
// is returned so that a login can pass its session cookie on.
func (c apiClient) call(method, path string, in, out any) (http.Header, error) {
	req, err := c.newRequest(method, path, in)
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	c.s.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode >= 400 {
		e := &apiError{Status: res.StatusCode}
		if err := json.Unmarshal(rec.Body.Bytes(), &e.errorBody); err != nil || e.Detail == "" {
			e.Detail = http.StatusText(res.StatusCode)
		}
		return res.Header, e
	}
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return res.Header, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res.Header, nil
}

func (c apiClient) get(path string, out any) error {
	_, err := c.call(http.MethodGet, path, nil, out)
	return err
}

// list reads every page of a list endpoint (small lists: roles, members).
func listAll[T any](c apiClient, path string) ([]T, error) {
	var all []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for offset := 0; ; {
		var p struct {
			Count   int `json:"count"`
			Results []T `json:"results"`
		}
		if err := c.get(fmt.Sprintf("%s%slimit=%d&offset=%d", path, sep, maxLimit, offset), &p); err != nil {
			return nil, err
		}
		all = append(all, p.Results...)
		offset += len(p.Results)
		if len(p.Results) == 0 || offset >= p.Count {
			return all, nil
		}
	}
}

// allowed asks the API whether it would let this browser make the request
// method path, without making it: the route's own declared authorization
// (routes.go) runs on a request carrying the session cookie, and nothing
// else. A page uses it to offer only the controls the API will accept, and
// to say why not; checks made inside a handler are not covered, so the
// API's answer to the real request stays the final word.
func (c apiClient) allowed(method, path string) error {
	req, err := c.newRequest(method, path, nil)
	if err != nil {
		return err
	}
	_, pattern := c.s.mux.Handler(req)
	var n need
	found := false
	for _, rt := range c.s.routes {
		if rt.pattern == pattern {
			n, found = rt.need, true
			break
		}
	}
	if !found {
		return fmt.Errorf("no API route for %s %s", method, path)
	}
	setPathValues(req, pattern)
	if _, err := c.s.authorize(req, n); err != nil {
		return toAPIError(err)
	}
	return nil
}

// may is allowed as a page uses it: whether the control can be offered,
// and if not the API's reason (its error detail). Only a failure to ask
// is an error.
func (ui *uiCall) may(method, path string) (ok bool, why string, err error) {
	err = ui.api.allowed(method, path)
	if err == nil {
		return true, "", nil
	}
	if e, isAPI := asAPIError(err); isAPI && e.Status < 500 {
		return false, e.Detail, nil
	}
	return false, "", err
}

// toAPIError gives an application error the status and shape the API
// would have answered it with.
func toAPIError(err error) error {
	var e *gatehouse.Error
	if !errors.As(err, &e) {
		return err
	}
	st, ok := errorStatus[e.Code]
	if !ok {
		st.status, st.typ = http.StatusBadRequest, "validation_error"
	}
	out := &apiError{Status: st.status, errorBody: errorBody{Type: st.typ, Code: e.Code, Detail: e.Detail}}
	if e.Attr != "" {
		out.Attr = &e.Attr
	}
	return out
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
