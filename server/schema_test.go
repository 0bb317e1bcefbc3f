package server

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// TestResourceOutDescribed: a resource answer is built on the hot path as a
// resourceAnswer (resourceOut, written by the fast JSON writer); the schema
// describes it as the kind's fields, its id and key, and resourceMeta. Every
// key the answer writes, by either writer, is one the schema names, and the
// reverse, so the two cannot drift.
func TestResourceOutDescribed(t *testing.T) {
	s := New(Config{})
	r := httptest.NewRequest("GET", "/", nil)
	for _, k := range access.Kinds {
		spec := &kindSpecs[k]
		data := map[string]any{}
		for _, f := range spec.fields {
			data[f.name] = []any{"", true, 1.5, map[string]any{}, []any{}}[f.typ]
		}
		raw, _ := json.Marshal(data)
		res := &gatehouse.Resource{ID: 7, Kind: k, Key: "abc", CreatedAt: time.Now(), UpdatedAt: time.Now(), Data: raw}
		out := s.resourceOut(r, res, access.Decision{Level: access.Editor}, s.newUserCache())
		fast, ok := appendFastJSON(nil, out)
		if !ok {
			t.Fatalf("%s: the fast writer declined %+v", k, out)
		}
		var written map[string]json.RawMessage
		if err := json.Unmarshal(fast, &written); err != nil {
			t.Fatalf("%s: %s: %v", k, fast, err)
		}
		if slow, err := slowEncode(out); err != nil || string(slow) != string(fast) {
			t.Errorf("%s: fast writer %s, encoding/json %s (%v)", k, fast, slow, err)
		}
		var got []string
		for key := range written {
			got = append(got, key)
		}

		var want []string
		sc := kindObjectSchema(&schemaGen{comps: map[string]any{}, names: map[reflect.Type]string{}}, k)
		for _, part := range sc["allOf"].([]any) {
			props, ok := part.(map[string]any)["properties"].(map[string]any)
			if !ok { // a reference: resourceMeta
				for f := range reflect.TypeFor[resourceMeta]().Fields() {
					name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
					want = append(want, name)
				}
				continue
			}
			for name := range props {
				want = append(want, name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		want = slices.Compact(want) // a flag's key is both its key and one of its fields
		if !slices.Equal(got, want) {
			t.Errorf("%s: resourceOut writes %v, the schema names %v", k, got, want)
		}
	}
}
