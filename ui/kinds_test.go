package ui

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewKindForm: a kind's form lists its writable fields in the order
// the API declares them, offers the id on create only when the client may
// choose it, and shows a generated key read-only.
func TestNewKindForm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema string
		want   kindForm
	}{
		{
			name: "ordered fields",
			schema: `{"required":["key"],"properties":{
				"id":{"type":"integer","readOnly":true},
				"active":{"type":"boolean","default":true,"x-order":2},
				"key":{"type":"string","maxLength":400,"x-order":0},
				"filters":{"type":"object","nullable":true,"default":null,"x-order":1}}}`,
			want: kindForm{fields: []field{
				{name: "key", typ: "string", required: true, maxLen: 400},
				{name: "filters", typ: "object", nullable: true, def: json.RawMessage("null")},
				{name: "active", typ: "boolean", def: json.RawMessage("true")},
			}},
		},
		{
			name:   "id chosen on create",
			schema: `{"properties":{"id":{"type":"string","maxLength":200},"viewed":{"type":"boolean","x-order":0}}}`,
			want: kindForm{
				fields:   []field{{name: "viewed", typ: "boolean"}},
				createID: &field{name: "id", typ: "string", maxLen: 200},
			},
		},
		{
			name:   "generated key",
			schema: `{"properties":{"id":{"type":"integer","readOnly":true},"short_id":{"type":"string","readOnly":true},"name":{"type":"string","x-order":0}}}`,
			want:   kindForm{fields: []field{{name: "name", typ: "string"}}, generated: "short_id"},
		},
	} {
		var s objectSchema
		if err := json.Unmarshal([]byte(tc.schema), &s); err != nil {
			t.Fatal(err)
		}
		got := newKindForm(s)
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(kindForm{}, field{})); diff != "" {
			t.Errorf("%s: newKindForm(%s) differs (-want +got):\n%s", tc.name, tc.schema, diff)
		}
	}
}
