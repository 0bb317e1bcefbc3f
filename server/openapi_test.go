package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gatehouse/gatehouse/server"
)

// The server tests speak to the server through validated: every API request
// they send and every answer they get is checked against the document the
// server serves at /api/schema, so the document cannot promise what the
// server does not do, nor leave out what it does.

var apiDoc struct {
	once   sync.Once
	router routers.Router
	err    error
}

// apiRouter loads, once, the document h serves, validated as OpenAPI 3.
func apiRouter(h http.Handler) (routers.Router, error) {
	apiDoc.once.Do(func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/schema", nil))
		if rec.Code != http.StatusOK {
			apiDoc.err = fmt.Errorf("GET /api/schema = %d", rec.Code)
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(rec.Body.Bytes())
		if err != nil {
			apiDoc.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			apiDoc.err = fmt.Errorf("the served document is not valid OpenAPI 3: %w", err)
			return
		}
		// Tests reach the server on an ephemeral port: any host is this server.
		doc.Servers = nil
		apiDoc.router, apiDoc.err = gorillamux.NewRouter(doc)
	})
	return apiDoc.router, apiDoc.err
}

var validationOptions = &openapi3filter.Options{
	// Whether credentials are right is the server's to say (and the tests');
	// the document only says which operations take them.
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true, // an undeclared status is a mismatch
	MultiError:            true,
}

// validated wraps h so that every API request and answer through it is
// checked against the served document; a mismatch fails t. A request that
// does not match the document (the malformed bodies and paths tests send on
// purpose) is still answered, and its answer must be a declared 4xx
// PostHog error.
func validated(t testing.TB, h http.Handler) http.Handler {
	if _, bench := t.(*testing.B); bench {
		// A benchmark times the server, not the test's checker of it; the tests
		// check the same answers.
		return h
	}
	router, err := apiRouter(h)
	if err != nil {
		t.Fatalf("/api/schema: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAPIRequest(r) || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			h.ServeHTTP(w, r)
			return
		}
		reqBody, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))

		var route *routers.Route
		var reqErr error
		probe := r.Clone(r.Context())
		// The server answers for a path with a trailing slash as without.
		if p := probe.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			probe.URL.Path = strings.TrimRight(p, "/")
		}
		// It reads every body as JSON, whatever its Content-Type says.
		if len(reqBody) > 0 {
			probe.Header = probe.Header.Clone()
			probe.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(probe)
		if err != nil {
			reqErr = err
		} else {
			probe.Body = io.NopCloser(bytes.NewReader(reqBody))
			reqErr = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: probe, PathParams: params, Route: route, Options: validationOptions,
			})
		}

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(rec.Body.Bytes())

		what := fmt.Sprintf("%s %s → %d %.300s", r.Method, r.URL.RequestURI(), res.StatusCode, rec.Body.Bytes())
		if reqErr != nil {
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Errorf("/api/schema: a request the document does not allow was answered %s\n(the request: %.400v)", what, reqErr)
				return
			}
			if !isErrorBody(rec.Body.Bytes()) {
				t.Errorf("/api/schema: refused with no error body: %s", what)
			}
			if route == nil {
				return // no operation to check the answer against
			}
		}
		in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: validationOptions}
		err = openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: validationOptions,
		})
		if err != nil {
			t.Errorf("/api/schema does not describe the answer %s:\n%.600v", what, err)
		}
	})
}

// isAPIRequest: the pages answer HTML and are not in the document.
func isAPIRequest(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/_") || p == "/metrics" || strings.HasPrefix(p, "/scim/")
}

func isErrorBody(b []byte) bool {
	var scim struct {
		Schemas []string `json:"schemas"`
		Status  *string  `json:"status"`
		Detail  *string  `json:"detail"`
	}
	if json.Unmarshal(b, &scim) == nil && len(scim.Schemas) == 1 && scim.Schemas[0] == "urn:ietf:params:scim:api:messages:2.0:Error" && scim.Status != nil && scim.Detail != nil {
		return true // SCIM's error body (RFC 7644 §3.12), on /scim/ routes
	}
	var e struct {
		Type   *string `json:"type"`
		Code   *string `json:"code"`
		Detail *string `json:"detail"`
	}
	return json.Unmarshal(b, &e) == nil && e.Type != nil && e.Code != nil && e.Detail != nil
}

// TestValidatedRefusesMismatch: the validating middleware fails a test whose
// answer the document does not describe, so a green suite means something.
func TestValidatedRefusesMismatch(t *testing.T) {
	e := newEnv(t, "sqlite", "")
	router, err := apiRouter(nil)
	if err != nil || router == nil {
		t.Fatalf("router: %v", err)
	}
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"undeclared status", http.StatusTeapot, `{"type":"x","code":"y","detail":"z","attr":null}`},
		{"answer missing a field", http.StatusOK, `{"id":1}`},
		{"refusal without error body", http.StatusNotFound, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			rt := &recordingTB{TB: t}
			validated(rt, fake).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/users/@me", nil))
			if !rt.failed {
				t.Errorf("validated let %d %s through", tc.status, tc.body)
			}
		})
	}
	_ = e
}

// recordingTB notes a failure instead of failing.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }

// TestSchemaDeclares: the statuses the server answers on purpose, the
// operations' names and the document's servers and security schemes are in
// the document, whether or not a test happens to meet them.
func TestSchemaDeclares(t *testing.T) {
	var doc struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			OperationID string                      `json:"operationId"`
			Summary     string                      `json:"summary"`
			Tags        []string                    `json:"tags"`
			RequestBody json.RawMessage             `json:"requestBody"`
			Parameters  []struct{ Name, In string } `json:"parameters"`
			Responses   map[string]json.RawMessage  `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
			Schemas         map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(server.Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Components.SecuritySchemes["bearer"] == nil || doc.Components.SecuritySchemes["session"] == nil {
		t.Errorf("servers %v, security schemes %v", doc.Servers, doc.Components.SecuritySchemes)
	}
	for _, name := range []string{"Error", "PaginatedRoleList", "FeatureFlagObject", "PaginatedFeatureFlagObjectList", "RoleInput", "Role"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("no %s schema", name)
		}
	}
	declared := func(method, path string, statuses ...string) {
		t.Helper()
		op, ok := doc.Paths[path][method]
		if !ok {
			t.Errorf("%s %s is not in the document", method, path)
			return
		}
		for _, st := range statuses {
			if op.Responses[st] == nil {
				t.Errorf("%s %s does not declare %s", method, path, st)
			}
		}
	}
	flag := "/api/projects/{project}/feature_flags/{id}"
	declared("post", "/api/logout", "204")
	declared("post", "/api/login", "200", "401", "403", "429", "413")
	declared("post", "/api/signup/{invite}", "200", "201")
	declared("delete", flag, "405")
	declared("put", flag+"/access_controls", "200", "204", "402", "409")
	declared("put", "/api/projects/{project}/access_controls", "200", "204")
	declared("patch", flag, "200", "409", "413", "421", "403", "404")
	declared("get", "/_health", "200")
	declared("get", "/_ready", "200", "503")
	declared("get", "/metrics", "200", "401")
	seen := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) != 1 {
				t.Errorf("%s %s: operationId %q, summary %q, tags %v", method, path, op.OperationID, op.Summary, op.Tags)
			}
			if other, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %s is both %s and %s %s", op.OperationID, other, method, path)
			}
			seen[op.OperationID] = method + " " + path
			if op.Responses["421"] == nil {
				t.Errorf("%s %s does not declare 421 (a public URL pins the host)", method, path)
			}
			if op.RequestBody != nil && op.Responses["413"] == nil {
				t.Errorf("%s %s reads a body but does not declare 413", method, path)
			}
			if method == "get" && strings.HasSuffix(path, "activity_log") {
				names := map[string]bool{}
				for _, p := range op.Parameters {
					names[p.In+":"+p.Name] = true
				}
				for _, q := range []string{"query:limit", "query:offset", "query:item_id", "query:user"} {
					if !names[q] {
						t.Errorf("%s %s does not declare %s", method, path, q)
					}
				}
			}
		}
	}
}
