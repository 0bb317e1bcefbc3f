package server

import (
	"net/http"
	"regexp"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// schema builds the OpenAPI 3 document from the route table itself, so it
// cannot drift from what is served: every route, its parameters, whether it
// needs credentials, and the errors its authorization can answer.
func (s *Server) schema() map[string]any {
	errorRef := map[string]any{"$ref": "#/components/responses/Error"}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		op := map[string]any{"operationId": strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "", "@", "").Replace(path)}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			op["requestBody"] = map[string]any{"required": false, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
		}
		ok := "200"
		switch {
		case method == http.MethodDelete:
			ok = "204"
		case method == http.MethodPost && !rt.need.query && !strings.HasSuffix(path, "/login") && !strings.HasSuffix(path, "/logout"):
			ok = "201"
		}
		responses := map[string]any{ok: map[string]any{"description": "Success."}, "400": errorRef}
		if rt.need.scope != scopePublic {
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
			responses["401"] = errorRef
			responses["403"] = errorRef
		} else {
			op["security"] = []any{}
		}
		if params != nil {
			responses["404"] = errorRef
		}
		if rt.need.needsLicence && method != http.MethodGet {
			responses["402"] = errorRef
		}
		op["responses"] = responses
		oaPath := path
		if paths[oaPath] == nil {
			paths[oaPath] = map[string]any{}
		}
		paths[oaPath][strings.ToLower(method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Gatehouse API", "version": "1", "description": "PostHog-compatible workspace and role-based access API."},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "A personal API key, phx_…"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
			},
			"responses": map[string]any{
				"Error": map[string]any{"description": "PostHog's error body.", "content": map[string]any{"application/json": map[string]any{
					"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
			},
			"schemas": map[string]any{
				"Error": map[string]any{"type": "object", "required": []any{"type", "code", "detail", "attr"}, "properties": map[string]any{
					"type":   map[string]any{"type": "string"},
					"code":   map[string]any{"type": "string"},
					"detail": map[string]any{"type": "string"},
					"attr":   map[string]any{"type": "string", "nullable": true},
				}},
			},
		},
	}
}

// handleSchema serves GET /api/schema: the OpenAPI 3 document of this API.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, s.schema())
	return nil
}
