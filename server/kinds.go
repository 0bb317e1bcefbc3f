package server

import (
	"crypto/rand"
	"encoding/json"
	"regexp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// fieldType is the JSON type a resource field accepts.
type fieldType uint8

const (
	tString fieldType = iota
	tBool
	tNumber
	tObject
	tArray
)

var typeNames = [...]string{tString: "a string", tBool: "a boolean", tNumber: "a number", tObject: "an object", tArray: "a list"}

// field describes one of a kind's own fields.
type field struct {
	name     string
	typ      fieldType
	required bool
	nullable bool
	maxLen   int    // strings; 0 = no limit beyond the body size
	def      string // JSON default when absent on create; "" = absent
}

// kindSpec is all that differs between the seven kinds: their fields, their
// natural key and a little validation. Everything else is shared.
type kindSpec struct {
	fields []field
	// keyField names the field that is the kind's natural key (stored in
	// Resource.Key, unique among live objects of the project).
	keyField string
	// stringID: the object's public id is its key (session recordings).
	stringID bool
	// generateKey makes a key when the client sends none.
	generateKey func() string
	checkKey    func(string) error
	// derived names a read-only field computed from the stored ones by
	// derive; nil is null.
	derived string
	derive  func(data map[string]json.RawMessage) *float64
}

var flagKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// recordingIDMaxLength bounds a session recording's id, which is its key.
const recordingIDMaxLength = 200

var kindSpecs = [access.NumKinds]kindSpec{
	access.FeatureFlags: {
		fields: []field{
			{name: "key", typ: tString, required: true, maxLen: 400},
			{name: "name", typ: tString, maxLen: 400, def: `""`},
			{name: "filters", typ: tObject, def: `{"groups":[{"properties":[],"rollout_percentage":null}]}`},
			{name: "active", typ: tBool, def: `true`},
			{name: "ensure_experience_continuity", typ: tBool, def: `false`},
		},
		keyField: "key",
		checkKey: func(k string) error {
			if !flagKeyPattern.MatchString(k) {
				return gatehouse.FieldError(gatehouse.EInvalid, "key", `Only letters, numbers, hyphens ("-") & underscores ("_") are allowed.`)
			}
			return nil
		},
		derived: "rollout_percentage",
		derive:  deriveRollout,
	},
	access.Experiments: {
		fields: []field{
			{name: "name", typ: tString, required: true, maxLen: 400},
			{name: "description", typ: tString, maxLen: 3000, def: `""`},
			{name: "feature_flag_key", typ: tString, maxLen: 400, def: `""`},
			{name: "start_date", typ: tString, nullable: true, def: `null`},
			{name: "end_date", typ: tString, nullable: true, def: `null`},
			{name: "parameters", typ: tObject, def: `{}`},
			{name: "filters", typ: tObject, def: `{}`},
			{name: "archived", typ: tBool, def: `false`},
		},
	},
	access.Cohorts: {
		fields: []field{
			{name: "name", typ: tString, required: true, maxLen: 400},
			{name: "description", typ: tString, maxLen: 1000, def: `""`},
			{name: "groups", typ: tArray, def: `[]`},
			{name: "filters", typ: tObject, nullable: true, def: `null`},
			{name: "is_static", typ: tBool, def: `false`},
		},
	},
	access.SessionRecordings: {
		fields: []field{
			{name: "distinct_id", typ: tString, maxLen: 400, def: `""`},
			{name: "start_time", typ: tString, nullable: true, def: `null`},
			{name: "end_time", typ: tString, nullable: true, def: `null`},
			{name: "recording_duration", typ: tNumber, def: `0`},
			{name: "viewed", typ: tBool, def: `false`},
		},
		keyField:    "id",
		stringID:    true,
		generateKey: func() string { return rand.Text() },
		checkKey: func(k string) error {
			if len(k) > recordingIDMaxLength || !flagKeyPattern.MatchString(k) {
				return gatehouse.FieldError(gatehouse.EInvalid, "id", `A recording id is 1 to 200 letters, numbers, hyphens ("-") & underscores ("_").`)
			}
			return nil
		},
	},
	access.Insights: {
		fields: []field{
			{name: "name", typ: tString, nullable: true, maxLen: 400, def: `null`},
			{name: "description", typ: tString, nullable: true, maxLen: 400, def: `null`},
			{name: "query", typ: tObject, nullable: true, def: `null`},
			{name: "filters", typ: tObject, def: `{}`},
			{name: "saved", typ: tBool, def: `false`},
			{name: "dashboards", typ: tArray, def: `[]`},
		},
		keyField:    "short_id",
		generateKey: func() string { return rand.Text()[:8] },
	},
	access.Dashboards: {
		fields: []field{
			{name: "name", typ: tString, required: true, maxLen: 400},
			{name: "description", typ: tString, def: `""`},
			{name: "pinned", typ: tBool, def: `false`},
			{name: "tiles", typ: tArray, def: `[]`},
		},
	},
	access.Actions: {
		fields: []field{
			{name: "name", typ: tString, required: true, maxLen: 400},
			{name: "description", typ: tString, def: `""`},
			{name: "steps", typ: tArray, def: `[]`},
		},
	},
}

// deriveRollout mirrors PostHog's read-only rollout_percentage: the
// percentage of a flag's only condition group, else null.
func deriveRollout(data map[string]json.RawMessage) *float64 {
	var filters struct {
		Groups []struct {
			Rollout *float64 `json:"rollout_percentage"`
		} `json:"groups"`
	}
	if json.Unmarshal(data["filters"], &filters) == nil && len(filters.Groups) == 1 {
		return filters.Groups[0].Rollout
	}
	return nil
}

// jsonType reports the JSON type of raw, and whether it is null.
func jsonType(raw json.RawMessage) (fieldType, bool) {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			return tString, false
		case '{':
			return tObject, false
		case '[':
			return tArray, false
		case 't', 'f':
			return tBool, false
		case 'n':
			return 0, true
		default:
			return tNumber, false
		}
	}
	return 0, true
}

// apply validates in against the spec and writes it over data. On create,
// absent fields take their defaults and required ones must be present.
func (k *kindSpec) apply(in, data map[string]json.RawMessage, create bool) error {
	for _, f := range k.fields {
		raw, ok := in[f.name]
		if !ok {
			if create {
				if f.required {
					return gatehouse.FieldError(gatehouse.ERequired, f.name, "This field is required.")
				}
				if f.def != "" {
					data[f.name] = json.RawMessage(f.def)
				}
			}
			continue
		}
		typ, null := jsonType(raw)
		switch {
		case null && (f.required || !f.nullable):
			return gatehouse.FieldError(gatehouse.ENull, f.name, "This field may not be null.")
		case !null && typ != f.typ:
			return gatehouse.FieldError(gatehouse.EInvalid, f.name, "Expected "+typeNames[f.typ]+".")
		}
		if f.typ == tString && !null {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return gatehouse.FieldError(gatehouse.EInvalid, f.name, "Expected a string.")
			}
			if f.required && s == "" {
				return gatehouse.FieldError(gatehouse.EBlank, f.name, "This field may not be blank.")
			}
			if f.maxLen > 0 && len([]rune(s)) > f.maxLen {
				return gatehouse.FieldError(gatehouse.EMaxLength, f.name, "Ensure this field has no more than "+itoa(f.maxLen)+" characters.")
			}
		}
		data[f.name] = raw
	}
	return nil
}
