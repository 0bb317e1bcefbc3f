package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/access"
)

// The OpenAPI 3 document is built from the route table and the Go types the
// handlers decode and encode, once, at the first GET /api/schema: no route
// or body can be served that the document does not describe, and a field
// added to a body type is in the document by the same change. A route
// gives its types beside its authorization (routes.go):
//
//	s.handle("POST /api/organizations/{org}/roles", orgAdmin.licensed(), s.handleRoleCreate,
//		body[roleInput](), answers(201, roleBody{}))
//
// The errors a route can answer follow from what it is: its authorization
// (401, 403, 402), its path (404), whether it writes (409) or reads a body
// (413), and the edge every request meets (421).

// opDoc is what a route declares about its request and answers.
type opDoc struct {
	in      reflect.Type // the request body's type; nil: none
	inRef   string       // or a component by name (a kind's fields)
	answers []answer
	query   []string // query parameters the handler reads
	errs    []int    // error statuses beyond those the route's shape implies
}

// answer is one status a route answers on success, with its body type (nil
// typ and empty ref: no body).
type answer struct {
	status int
	typ    reflect.Type
	ref    string
}

// opt declares part of a route's opDoc.
type opt func(*opDoc)

// body declares the route's request body as T.
func body[T any]() opt { return func(d *opDoc) { d.in = reflect.TypeFor[T]() } }

// answers declares that the route answers status with v's type as its body
// (v nil: no body).
func answers(status int, v any) opt {
	return func(d *opDoc) { d.answers = append(d.answers, answer{status: status, typ: reflect.TypeOf(v)}) }
}

// noContent declares a 204 answer.
func noContent() opt { return answers(http.StatusNoContent, nil) }

// list declares a page of T (pageOf) and its paging parameters.
func list[T any]() opt {
	return func(d *opDoc) {
		answers(http.StatusOK, pageOf[T]{})(d)
		d.query = append(d.query, "limit", "offset")
	}
}

// query declares query parameters the handler reads besides paging.
func query(names ...string) opt { return func(d *opDoc) { d.query = append(d.query, names...) } }

// refuses declares error statuses that the route's shape does not imply.
func refuses(statuses ...int) opt { return func(d *opDoc) { d.errs = append(d.errs, statuses...) } }

// textAnswer declares a plain-text answer (Prometheus' exposition format).
func textAnswer(status int) opt {
	return func(d *opDoc) { d.answers = append(d.answers, answer{status: status, ref: textPlain}) }
}

const textPlain = "text/plain"

// kindBody declares kind k's fields as the request body of a create.
func kindBody(k access.Kind) opt { return func(d *opDoc) { d.inRef = kindSchemaName(k) } }

// kindUpdate declares kind k's fields, none required, and deleted as the
// request body of an update.
func kindUpdate(k access.Kind) opt { return func(d *opDoc) { d.inRef = kindSchemaName(k) + "Update" } }

// kindAnswer declares one object of kind k as the answer (resourceOut).
func kindAnswer(k access.Kind, status int) opt {
	return func(d *opDoc) {
		d.answers = append(d.answers, answer{status: status, ref: kindSchemaName(k) + "Object"})
	}
}

// kindList declares a page of objects of kind k.
func kindList(k access.Kind) opt {
	return func(d *opDoc) {
		d.answers = append(d.answers, answer{status: http.StatusOK, ref: "Paginated" + kindSchemaName(k) + "ObjectList"})
		d.query = append(d.query, "limit", "offset")
	}
}

// roleAccessAnswer declares one role access on an object of kind k (roleAccessOut).
func roleAccessAnswer(k access.Kind, status int) opt {
	return func(d *opDoc) {
		d.answers = append(d.answers, answer{status: status, ref: kindSchemaName(k) + "RoleAccess"})
	}
}

// roleAccessList declares a page of role accesses on an object of kind k.
func roleAccessList(k access.Kind) opt {
	return func(d *opDoc) {
		d.answers = append(d.answers, answer{status: http.StatusOK, ref: "Paginated" + kindSchemaName(k) + "RoleAccessList"})
		d.query = append(d.query, "limit", "offset")
	}
}

// section starts a group of routes: the tag of the operations registered
// after it.
func (s *Server) section(name, description string) {
	s.tags = append(s.tags, map[string]any{"name": name, "description": description})
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

var paramDescriptions = map[string]string{
	"org":       "An organization's id, or @current.",
	"project":   "A project's id, or @current.",
	"id":        "The object's id.",
	"role":      "A role's id.",
	"user":      "A member's user uuid.",
	"invite":    "An invite's id.",
	"grant":     "The role access's id.",
	"domain_id": "An organization domain's id.",
}

var queryParams = map[string]map[string]any{
	"limit":              {"description": "How many results a page holds (empty: the default).", "allowEmptyValue": true, "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": 100}},
	"offset":             {"description": "How many results come before the page (empty: none).", "allowEmptyValue": true, "schema": map[string]any{"type": "integer", "minimum": 0, "default": 0}},
	"item_id":            {"description": "Only the activity about this item.", "schema": map[string]any{"type": "string"}},
	"user":               {"description": "Only the activity of this member (their user uuid).", "schema": map[string]any{"type": "string"}},
	"filter":             {"description": "A SCIM filter: eq comparisons joined by and and or.", "schema": map[string]any{"type": "string"}},
	"startIndex":         {"description": "The 1-based index of the first result (less than 1 counts as 1).", "schema": map[string]any{"type": "integer", "default": 1}},
	"count":              {"description": "How many results a page holds, at most 200.", "schema": map[string]any{"type": "integer", "default": scimDefaultCount}},
	"excludedAttributes": {"description": "Attributes left out of the answer: members.", "schema": map[string]any{"type": "string"}},
	"status": {"description": "Only the access requests in this status.",
		"schema": map[string]any{"type": "string", "enum": []any{"pending", "approved", "denied", "cancelled"}}},
	"mine": {"description": "Only the caller's own access requests.", "schema": map[string]any{"type": "boolean"}},
}

// schemaDoc is the document and what built it, cached by the server.
func (s *Server) schemaDocument() []byte {
	s.schemaOnce.Do(func() {
		b, err := json.Marshal(s.schema())
		if err != nil {
			panic(err) // the document is built from static types: a failure is a bug
		}
		s.schemaJSON = append(b, '\n')
	})
	return s.schemaJSON
}

// schema builds the OpenAPI 3 document from the route table.
func (s *Server) schema() map[string]any {
	g := &schemaGen{comps: map[string]any{}, names: map[reflect.Type]string{}}
	errRef := func() map[string]any { return map[string]any{"$ref": "#/components/responses/Error"} }
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		api := strings.HasPrefix(path, "/api/")
		// SCIM's routes answer in SCIM's media type and error bodies, and take its
		// client's bearer token (RFC 7644).
		scim := isSCIMPath(path)
		content, errRef := jsonContent, errRef
		if scim {
			content = scimContent
			errRef = func() map[string]any { return map[string]any{"$ref": "#/components/responses/SCIMError"} }
		}
		opID := strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "", "@", "").Replace(path)
		summary := rt.summary
		op := map[string]any{
			"operationId": strings.TrimPrefix(strings.ReplaceAll(opID, "__", "_"), "_"),
			"summary":     summary,
			"description": summary + ". " + rt.need.describe(),
			"tags":        []any{rt.tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"description": paramDescriptions[m[1]], "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.doc.query {
			p := map[string]any{"name": q, "in": "query", "required": false}
			for k, v := range queryParams[q] {
				p[k] = v
			}
			params = append(params, p)
		}
		if params != nil {
			op["parameters"] = params
		}
		responses := map[string]any{}
		for _, a := range rt.doc.answers {
			resp := map[string]any{"description": http.StatusText(a.status) + "."}
			switch {
			case a.ref == textPlain:
				resp["content"] = map[string]any{textPlain: map[string]any{"schema": map[string]any{"type": "string"}}}
			case a.ref != "":
				resp["content"] = content(map[string]any{"$ref": "#/components/schemas/" + a.ref})
			case a.typ != nil:
				resp["content"] = content(g.of(a.typ, false))
			}
			responses[strconv.Itoa(a.status)] = resp
		}
		if rt.doc.in != nil || rt.doc.inRef != "" {
			var sc map[string]any
			if rt.doc.inRef != "" {
				sc = map[string]any{"$ref": "#/components/schemas/" + rt.doc.inRef}
			} else {
				sc = g.of(rt.doc.in, true)
			}
			in := jsonContent(sc)
			if scim {
				// A SCIM client may send either type (identity.md).
				in = scimContent(sc)
				in["application/json"] = jsonContent(sc)["application/json"]
			}
			op["requestBody"] = map[string]any{"required": false, "content": in}
			responses["413"] = errRef()
		}
		errs := slices.Clone(rt.doc.errs)
		errs = append(errs, http.StatusMisdirectedRequest)
		if api || scim {
			errs = append(errs, http.StatusBadRequest)
		}
		if scim {
			op["security"] = []any{map[string]any{"scim": []any{}}}
			errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
			if method != http.MethodGet {
				errs = append(errs, http.StatusConflict)
			}
		} else if rt.need.scope != scopePublic {
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
			errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
		} else {
			op["security"] = []any{}
			if method != http.MethodGet {
				errs = append(errs, http.StatusForbidden) // a cross-origin form post (CSRF)
			}
		}
		if pathParam.MatchString(path) {
			errs = append(errs, http.StatusNotFound)
		}
		if (rt.need.needsLicence || rt.need.feature != "") && method != http.MethodGet {
			errs = append(errs, http.StatusPaymentRequired)
		}
		if rt.need.scope != scopePublic && !scim && method != http.MethodGet && !rt.need.query {
			errs = append(errs, http.StatusConflict) // a decided write whose decision went stale on every retry
		}
		for _, st := range errs {
			responses[strconv.Itoa(st)] = errRef()
		}
		op["responses"] = responses
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op
	}
	schemas := g.comps
	for _, k := range access.Kinds {
		name := kindSchemaName(k)
		schemas[name] = kindSchema(k)
		schemas[name+"Update"] = kindUpdateSchema(k)
		schemas[name+"Object"] = kindObjectSchema(g, k)
		schemas["Paginated"+name+"ObjectList"] = pageSchema(name + "Object")
		schemas[name+"RoleAccess"] = map[string]any{
			"description": "A role's edit access to one " + k.Noun() + ".",
			"allOf": []any{g.of(reflect.TypeFor[roleAccessBody](), false), map[string]any{
				"type": "object", "required": []any{k.Singular()},
				"properties": map[string]any{k.Singular(): objectRefSchema(k)},
			}},
		}
		schemas["Paginated"+name+"RoleAccessList"] = pageSchema(name + "RoleAccess")
	}
	g.of(reflect.TypeFor[errorBody](), false)
	g.of(reflect.TypeFor[scimErrorBody](), false)
	servers := []any{map[string]any{"url": "/", "description": "This server."}}
	if s.publicURL != nil {
		servers = []any{map[string]any{"url": s.publicURL.String(), "description": "This server's public URL."}}
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Gatehouse API", "version": "1",
			"description": "PostHog-compatible workspace and role-based access API.",
			"contact":     map[string]any{"name": "Gatehouse", "url": "https://github.com/gatehouse/gatehouse"},
			"license":     map[string]any{"name": "Proprietary", "url": "https://github.com/gatehouse/gatehouse"}},
		"servers": servers,
		"tags":    s.tags,
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "A personal API key, phx_…"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "The session a sign-in starts."},
				"scim":    map[string]any{"type": "http", "scheme": "bearer", "description": "A domain's SCIM bearer token, gh_scim_…"},
			},
			"responses": map[string]any{
				"Error":     map[string]any{"description": "PostHog's error body.", "content": jsonContent(map[string]any{"$ref": "#/components/schemas/Error"})},
				"SCIMError": map[string]any{"description": "SCIM's error body (RFC 7644 §3.12).", "content": scimContent(map[string]any{"$ref": "#/components/schemas/ScimError"})},
			},
			"schemas": schemas,
		},
	}
}

func scimContent(schema map[string]any) map[string]any {
	return map[string]any{scimMediaType: map[string]any{"schema": schema}}
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func pageSchema(item string) map[string]any {
	return map[string]any{
		"type": "object", "required": []any{"count", "next", "previous", "results"},
		"properties": map[string]any{
			"count":    map[string]any{"type": "integer"},
			"next":     map[string]any{"type": "string", "nullable": true},
			"previous": map[string]any{"type": "string", "nullable": true},
			"results":  map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/" + item}},
		},
	}
}

// objectRefSchema is the nested object of a role access (objectRef).
func objectRefSchema(k access.Kind) map[string]any {
	spec := &kindSpecs[k]
	if spec.stringID {
		return map[string]any{"type": "object", "required": []any{"id"}, "properties": map[string]any{"id": map[string]any{"type": "string"}}}
	}
	props := map[string]any{"id": map[string]any{"type": "integer", "format": "int64"}}
	req := []any{"id"}
	if spec.keyField != "" {
		props[spec.keyField] = map[string]any{"type": "string"}
		req = append(req, spec.keyField)
	}
	return map[string]any{"type": "object", "required": req, "properties": props}
}

// kindObjectSchema describes an object of kind k as resourceOut writes it:
// the kind's fields, its id and key, and resourceMeta.
func kindObjectSchema(g *schemaGen, k access.Kind) map[string]any {
	spec := &kindSpecs[k]
	own := map[string]any{}
	req := []any{"id"}
	if spec.stringID {
		own["id"] = map[string]any{"type": "string"}
	} else {
		own["id"] = map[string]any{"type": "integer", "format": "int64"}
		if spec.keyField != "" {
			own[spec.keyField] = map[string]any{"type": "string"}
			req = append(req, spec.keyField)
		}
	}
	if spec.derived != "" {
		// deriveRollout, the one derived field.
		own[spec.derived] = map[string]any{"type": "number", "format": "double", "nullable": true}
		req = append(req, spec.derived)
	}
	fields := map[string]any{}
	var present []any // on create, a field is given or takes its default
	for _, f := range spec.fields {
		if f.required || f.def != "" {
			present = append(present, f.name)
		}
		p := map[string]any{"type": schemaTypes[f.typ]}
		if f.typ == tArray {
			p["items"] = map[string]any{}
		}
		if f.nullable {
			p["nullable"] = true
		}
		fields[f.name] = p
	}
	return map[string]any{
		"description": "A " + k.Noun() + ", with the caller's access to it.",
		"allOf": []any{
			map[string]any{"type": "object", "required": req, "properties": own},
			withRequired(map[string]any{"type": "object", "properties": fields}, present),
			g.of(reflect.TypeFor[resourceMeta](), false),
		},
	}
}

// withRequired sets sc's required list, which OpenAPI 3.0 wants absent
// rather than empty.
func withRequired(sc map[string]any, required []any) map[string]any {
	if len(required) > 0 {
		sc["required"] = required
	}
	return sc
}

// describe says in words who may call a route with need n.
func (n need) describe() string {
	var who string
	switch n.scope {
	case scopePublic:
		who = "Anyone may call it."
	case scopeUser:
		who = "Needs a signed-in user."
	case scopeOrg:
		switch {
		case n.removal:
			who = "Needs the member themselves, or an organization admin at or above their level."
		case access.IsOwner(n.membership):
			who = "Needs the organization's owner."
		case access.IsAdmin(n.membership):
			who = "Needs an organization admin."
		default:
			who = "Needs a member of the organization."
		}
	case scopeProject:
		switch {
		case n.deletesProject:
			who = "Needs an organization admin."
		case n.project:
			who = "Needs a project admin."
		default:
			who = "Needs a member allowed into the project."
		}
	case scopeKind:
		who = "Needs " + n.level.String() + " access to new " + n.kind.Noun() + "s of the project."
	case scopeObject:
		who = "Needs " + n.level.String() + " access to the " + n.kind.Noun() + "."
	case scopeSCIM:
		who = "Needs the domain's SCIM bearer token, with SCIM enabled on the verified domain."
	}
	if n.needsLicence {
		who += " Changes need a plan with role-based access."
	}
	if n.feature != "" {
		who += " Changes need a plan with the " + n.feature + " feature."
	}
	return who
}

// summaryOf names an operation after its handler: handleRoleCreate is
// "Role create", and a kind's handler names the kind.
func summaryOf(h handlerFunc, k string) string {
	name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	name = name[strings.LastIndex(name, ".handle")+len(".handle"):]
	name, _, _ = strings.Cut(name, "-")
	name, _, _ = strings.Cut(name, ".")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	if k != "" {
		b.WriteString(" (" + strings.ReplaceAll(k, "_", " ") + ")")
	}
	return b.String()
}

// schemaGen derives JSON Schema from Go types: a named struct becomes a
// component, referenced wherever it is used.
type schemaGen struct {
	comps map[string]any
	names map[reflect.Type]string
}

var timeType = reflect.TypeFor[time.Time]()
var rawType = reflect.TypeFor[json.RawMessage]()

// of is t's schema; in: t is read from a request, whose fields are required
// only when tagged so (a response's are unless omitempty).
func (g *schemaGen) of(t reflect.Type, in bool) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType || t.Kind() == reflect.Interface:
		return map[string]any{"nullable": true}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.of(t.Elem(), in)
		if _, ref := inner["$ref"]; ref {
			return map[string]any{"allOf": []any{inner}, "nullable": true}
		}
		inner["nullable"] = true
		return inner
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem(), in)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem(), in)}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, in)
		}
		name, ok := g.names[t]
		if !ok {
			name = componentName(t)
			g.names[t] = name
			g.comps[name] = g.object(t, in)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic("schema: no JSON schema for " + t.String())
}

// object is a struct's schema, its embedded structs' fields inline as
// encoding/json writes them.
func (g *schemaGen) object(t reflect.Type, in bool) map[string]any {
	props := map[string]any{}
	required := []any{}
	eachJSONField(t, func(name string, f reflect.StructField) {
		_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		p := g.of(f.Type, in)
		apiTag := f.Tag.Get("api")
		for a := range strings.SplitSeq(apiTag, ",") {
			switch {
			case a == "nullable":
				p["nullable"] = true
			case strings.HasPrefix(a, "format="):
				p["format"] = strings.TrimPrefix(a, "format=")
			case strings.HasPrefix(a, "enumof="):
				p["enum"] = enumSets[strings.TrimPrefix(a, "enumof=")]()
			case strings.HasPrefix(a, "enum="):
				var enum []any
				for v := range strings.SplitSeq(strings.TrimPrefix(a, "enum="), "|") {
					if n, err := strconv.Atoi(v); err == nil {
						enum = append(enum, n)
					} else {
						enum = append(enum, v)
					}
				}
				p["enum"] = enum
			}
		}
		props[name] = p
		tagged := slices.Contains(strings.Split(apiTag, ","), "required")
		if tagged || !in && !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	})
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// enumSets are the enums that follow from another list, by name.
var enumSets = map[string]func() []any{
	// What an access control is on: a kind (its singular name) or a project.
	"resources": func() []any {
		out := []any{"project"}
		for _, k := range access.Kinds {
			out = append(out, k.Singular())
		}
		return out
	},
	// A kind, by its singular name (an access request on a whole kind).
	"kinds": func() []any {
		out := []any{}
		for _, k := range access.Kinds {
			out = append(out, k.Singular())
		}
		return out
	},
}

// componentName names a Go type among the document's schemas: roleBody is
// "Role", roleInput "RoleInput", pageOf[roleBody] "PaginatedRoleList".
func componentName(t reflect.Type) string {
	if strings.HasPrefix(t.Name(), "pageOf[") {
		f, _ := t.FieldByName("Results")
		return "Paginated" + componentName(f.Type.Elem()) + "List"
	}
	if strings.HasPrefix(t.Name(), "scimListBody[") {
		f, _ := t.FieldByName("Resources")
		return componentName(f.Type.Elem()) + "ListResponse"
	}
	name := strings.TrimSuffix(t.Name(), "Body")
	return strings.ToUpper(name[:1]) + name[1:]
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

// kindUpdateSchema is the body of an update of kind k: any of its fields,
// and deleted, which PostHog's soft delete sets.
func kindUpdateSchema(k access.Kind) map[string]any {
	sc := kindSchema(k)
	delete(sc, "required")
	props := sc["properties"].(map[string]any)
	for name, p := range props {
		// An update ignores what it may not set (the id, a generated key), as it ignores
		// unknown fields: the document does not forbid sending them.
		if ro, _ := p.(map[string]any)["readOnly"].(bool); ro {
			delete(props, name)
		}
	}
	if kindSpecs[k].stringID {
		// A recording's id is chosen on create only: an update ignores it
		// (handleResourceUpdate keeps the key of a kind whose id it is).
		delete(props, "id")
	}
	props["deleted"] = map[string]any{"type": "boolean"}
	sc["description"] = "A change to a " + k.Noun() + ": the fields it sends are set, the others kept."
	return sc
}

// handleSchema serves GET /api/schema: the OpenAPI 3 document of this API.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, s.schemaDocument())
	return nil
}

// Schema is the OpenAPI document of the API, as GET /api/schema serves it
// from a server with no public URL: what clients are generated from.
func Schema() []byte {
	return New(Config{}).schemaDocument()
}

// eachJSONField calls fn with each field of struct type t as encoding/json
// reads and writes it, under its JSON name; the fields of an embedded struct
// without a name of its own come inline. The schema and the body decoder's
// exact names (exactNames) both read fields through it.
func eachJSONField(t reflect.Type, fn func(name string, f reflect.StructField)) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			eachJSONField(f.Type, fn)
			continue
		}
		if name == "" {
			name = f.Name
		}
		fn(name, f)
	}
}
