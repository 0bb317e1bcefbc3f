package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/access"
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
			body := map[string]any{"type": "object"}
			if k, ok := kindOfBody(path); ok {
				body = map[string]any{"$ref": "#/components/schemas/" + kindSchemaName(k)}
			}
			op["requestBody"] = map[string]any{"required": false, "content": map[string]any{"application/json": map[string]any{"schema": body}}}
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
	schemas := map[string]any{
		"Error": map[string]any{"type": "object", "required": []any{"type", "code", "detail", "attr"}, "properties": map[string]any{
			"type":   map[string]any{"type": "string"},
			"code":   map[string]any{"type": "string"},
			"detail": map[string]any{"type": "string"},
			"attr":   map[string]any{"type": "string", "nullable": true},
		}},
	}
	for _, k := range access.Kinds {
		schemas[kindSchemaName(k)] = kindSchema(k)
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
			"schemas": schemas,
		},
	}
}

// kindSchemaName names kind k's schema among the document's components,
// e.g. "FeatureFlag".
func kindSchemaName(k access.Kind) string {
	var b strings.Builder
	for part := range strings.SplitSeq(k.Singular(), "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// kindOfBody is the kind whose object a write to path sends: its list
// (create) or one object (update), not its rules.
func kindOfBody(path string) (access.Kind, bool) {
	rest, ok := strings.CutPrefix(path, "/api/projects/{project}/")
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(rest, "/{id}")
	return access.KindFromPath(rest)
}

var schemaTypes = [...]string{tString: "string", tBool: "boolean", tNumber: "number", tObject: "object", tArray: "array"}

// kindSchema documents kind k's own fields, which its create and update
// send: their JSON type, whether create requires them, whether they may be
// null, their length limit and their default on create, in the order the
// kind declares them (x-order: a JSON object has none). A recording's id
// is a string the client may choose on create; a generated key (an
// insight's short_id) is read-only. The web UI builds its forms from this.
func kindSchema(k access.Kind) map[string]any {
	spec := &kindSpecs[k]
	props := map[string]any{}
	if spec.stringID {
		props["id"] = map[string]any{"type": "string", "maxLength": recordingIDMaxLength, "pattern": flagKeyPattern.String()}
	} else {
		props["id"] = map[string]any{"type": "integer", "readOnly": true}
		if spec.keyField != "" && spec.generateKey != nil {
			props[spec.keyField] = map[string]any{"type": "string", "readOnly": true}
		}
	}
	required := []any{}
	for i, f := range spec.fields {
		p := map[string]any{"type": schemaTypes[f.typ], "x-order": i}
		if f.typ == tArray {
			p["items"] = map[string]any{}
		}
		if f.nullable {
			p["nullable"] = true
		}
		if f.maxLen > 0 {
			p["maxLength"] = f.maxLen
		}
		if f.def != "" {
			p["default"] = json.RawMessage(f.def)
		}
		if f.required {
			required = append(required, f.name)
		}
		props[f.name] = p
	}
	out := map[string]any{"type": "object", "properties": props,
		"description": "A " + k.Noun() + ". Create needs the required fields and takes the defaults of the others; an update sends any of them."}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// handleSchema serves GET /api/schema: the OpenAPI 3 document of this API.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, s.schema())
	return nil
}
