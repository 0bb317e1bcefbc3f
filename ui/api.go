package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse"
)

// API is the JSON API as the pages use it (package server's *Server): the
// pages read and write only through it, so no rule or validation exists
// twice.
type API interface {
	// Authenticate finds who sent the page request r, by its session
	// cookie alone, looking it up once for the whole page. The returned
	// context carries that caller, or that nobody is signed in, for Do and
	// Allowed; signedIn tells which. An unknown or expired session is
	// nobody, not an error; err is a failure to look it up.
	Authenticate(r *http.Request) (ctx context.Context, signedIn bool, err error)

	// Do serves one API request in-process for the caller ctx carries and
	// returns the API's answer as a client would receive it, body read.
	// page is the browser's request the call is made for: its host and
	// address stand for the call's, and a write carries its fetch metadata
	// to the API's own cross-origin check; a write that only a form post
	// may make is refused for any other page. The call is not a request:
	// no request id, log line or metrics count of its own. err is a
	// request that cannot be made.
	Do(ctx context.Context, page *http.Request, method, target string, body []byte) (*http.Response, error)

	// Allowed reports whether the authorization the API declares for
	// method target would let ctx's caller make the request, without
	// making it: nil, or the API's refusal as the *gatehouse.Error it would
	// answer with. Checks inside the API's handler are not covered, so its
	// answer to the real request stays the final word. Any other error is
	// a failure to decide.
	Allowed(ctx context.Context, method, target string) error

	// AbsoluteURL is path as a link to open elsewhere (an invite's), on
	// the host the browser used for r.
	AbsoluteURL(r *http.Request, path string) string
}

// apiClient is how a page talks to the API: every read and write is an
// in-process call for the caller its page authenticated. The API
// authorizes, validates and answers; the page only renders its answers.
type apiClient struct {
	api API
	ctx context.Context // Authenticate's: the page's caller
	r   *http.Request   // the browser's request
}

// errorBody is the part of PostHog's error shape that pages show.
type errorBody struct {
	Type   string  `json:"type"`
	Code   string  `json:"code"`
	Detail string  `json:"detail"`
	Attr   *string `json:"attr"`
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

// call sends one API request and decodes its JSON answer into out (when
// not nil). An error answer comes back as *apiError. The answer's header
// is returned so that a login can pass its session cookie on.
func (c apiClient) call(method, path string, in, out any) (http.Header, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	res, err := c.api.Do(c.ctx, c.r, method, path, body)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 400 {
		e := &apiError{Status: res.StatusCode}
		if err := json.Unmarshal(data, &e.errorBody); err != nil || e.Detail == "" {
			e.Detail = http.StatusText(res.StatusCode)
		}
		return res.Header, e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.Header, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res.Header, nil
}

func (c apiClient) get(path string, out any) error {
	_, err := c.call(http.MethodGet, path, nil, out)
	return err
}

// listAll reads every page of a list endpoint (small lists: roles,
// members), following the API's own next links, so that it needs to know
// nothing of the API's page sizes.
func listAll[T any](c apiClient, path string) ([]T, error) {
	var all []T
	for {
		var p struct {
			Results []T     `json:"results"`
			Next    *string `json:"next"`
		}
		if err := c.get(path, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Results...)
		if p.Next == nil || len(p.Results) == 0 {
			return all, nil
		}
		next, err := url.Parse(*p.Next)
		if err != nil {
			return nil, fmt.Errorf("list %s: next link %q: %w", path, *p.Next, err)
		}
		path = next.RequestURI()
	}
}

// allowed asks the API whether its route's declared authorization would
// let the page's caller make the request method path (API.Allowed).
func (c apiClient) allowed(method, path string) error { return c.api.Allowed(c.ctx, method, path) }

// may asks the API whether this page's caller may make the request method
// path, to offer only the controls it will accept: whether the control can
// be offered, and if not the API's reason (its error detail). Only a
// failure to ask is an error.
func (ui *uiCall) may(method, path string) (ok bool, why string, err error) {
	err = ui.api.allowed(method, path)
	if err == nil {
		return true, "", nil
	}
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return false, e.Detail, nil
	}
	return false, "", err
}
