package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/access"
)

// The create and edit forms of each kind are laid out from the API's own
// OpenAPI document (GET /api/schema): the body schema of each kind's create
// names its fields with their JSON types, limits and defaults, so a field
// added to a kind appears in its form and no limit is written down twice.

// field is one of a kind's own fields, as the API's schema describes it.
type field struct {
	name     string
	typ      string // the JSON type: "string", "boolean", "number", "object" or "array"
	required bool
	nullable bool
	maxLen   int             // strings; 0: no limit
	def      json.RawMessage // the default on create; nil: none
}

// kindForm is what the forms of one kind show.
type kindForm struct {
	fields []field
	// createID is the object's id when the client chooses it on create (a
	// session recording's), else nil.
	createID *field
	// generated names a read-only key the API makes (an insight's short_id).
	generated string
}

type kindForms [access.NumKinds]kindForm

// schemaProperty is one property of an OpenAPI object schema.
type schemaProperty struct {
	Type      string          `json:"type"`
	Nullable  bool            `json:"nullable"`
	MaxLength int             `json:"maxLength"`
	Default   json.RawMessage `json:"default"`
	ReadOnly  bool            `json:"readOnly"`
	Order     int             `json:"x-order"`
}

type objectSchema struct {
	Required   []string                  `json:"required"`
	Properties map[string]schemaProperty `json:"properties"`
}

// loadKindForms reads the API's schema and lays out every kind's form.
func loadKindForms(ctx context.Context, api API) (kindForms, error) {
	var forms kindForms
	res, err := api.Do(ctx, nil, http.MethodGet, "/api/schema", nil)
	if err != nil {
		return forms, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return forms, err
	}
	if res.StatusCode != http.StatusOK {
		return forms, fmt.Errorf("GET /api/schema = %d", res.StatusCode)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]objectSchema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return forms, fmt.Errorf("GET /api/schema: %w", err)
	}
	for _, k := range access.Kinds {
		path := "/api/projects/{project}/" + k.String()
		ref := doc.Paths[path]["post"].RequestBody.Content["application/json"].Schema.Ref
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		schema, found := doc.Components.Schemas[name]
		if !ok || !found {
			return forms, fmt.Errorf("the API's schema does not describe the body of POST %s", path)
		}
		forms[k] = newKindForm(schema)
	}
	return forms, nil
}

func newKindForm(schema objectSchema) kindForm {
	var f kindForm
	type ordered struct {
		field
		order int
	}
	var all []ordered
	for name, p := range schema.Properties {
		fd := field{name: name, typ: p.Type, required: slices.Contains(schema.Required, name), nullable: p.Nullable, maxLen: p.MaxLength, def: p.Default}
		switch {
		case name == "id":
			if !p.ReadOnly {
				f.createID = &fd
			}
		case p.ReadOnly:
			f.generated = name
		default:
			all = append(all, ordered{fd, p.Order})
		}
	}
	slices.SortFunc(all, func(a, b ordered) int { return a.order - b.order })
	for _, o := range all {
		f.fields = append(f.fields, o.field)
	}
	return f
}

// jsonType reports the JSON type of raw, as the schema names types, and
// whether it is null.
func jsonType(raw json.RawMessage) (typ string, null bool) {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			return "string", false
		case '{':
			return "object", false
		case '[':
			return "array", false
		case 't', 'f':
			return "boolean", false
		case 'n':
			return "", true
		default:
			return "number", false
		}
	}
	return "", true
}
