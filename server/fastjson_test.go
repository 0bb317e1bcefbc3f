package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// slowEncode is what encode wrote before its fast path: encoding/json
// without HTML escaping.
func slowEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// FuzzFastJSON holds the fast paths of fastjson.go to encoding/json: a
// stored document decodes to the same map, and a resource answer (its
// values, a page of them) is written byte for byte the same, or the fast
// path declines.
func FuzzFastJSON(f *testing.F) {
	for _, seed := range []string{
		`{"key":"top-secret","name":"x","filters":{"groups":[{"rollout_percentage":50}]},"active":true}`,
		`{ "a" : [1, -2.5e-7, {"b": null}], "c":"\u00e9\"\\/" } `,
		`{"a":1,"a":2}`,
		`{"\u0041":1}`,
		`{"a":01}`,
		`{"a":"` + "\x01" + `"}`,
		`{"a":"é <&> ` + "\u2028\xff" + `"}`,
		`[1]`,
		`{"a":1}x`,
		`{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed), "name", 42.5, int64(7))
	}
	f.Add([]byte(`{}`), "<ü>\u2028", math.Inf(1), int64(-1))
	f.Add([]byte(`{"x":true}`), "", 1e21, int64(0))
	f.Add([]byte(`{"x":false}`), "k", 1e-7, int64(1))
	f.Add([]byte(`{"key":"k","filters":{"groups":[{"rollout_percentage":1e-7}]}}`), "k", 0.5, int64(1)<<60)
	f.Fuzz(func(t *testing.T, data []byte, text string, num float64, n int64) {
		fast, ok := decodeRawObject(data)
		if ok {
			var slow map[string]json.RawMessage
			if err := json.Unmarshal(data, &slow); err != nil {
				t.Fatalf("decodeRawObject(%q) accepted what json.Unmarshal refuses: %v", data, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("decodeRawObject(%q) = %q, json.Unmarshal gives %q", data, fast, slow)
			}
		}
		u := &userBasic{ID: n, UUID: text, DistinctID: "d", FirstName: text, Email: "e@x"}
		answer := map[string]any{
			"raw": json.RawMessage(data), "text": text, "num": num, "n": n, "i": int(n % 1000),
			"flag": n%2 == 0, "null": nil, "user": u, "nouser": (*userBasic)(nil),
			"at": time.Unix(n%1e10, n%1e9).UTC(), text: "key",
		}
		for k, v := range fast {
			answer["doc."+k] = v
		}
		next := "http://h/x?limit=1&offset=" + text
		at := time.Unix(n%1e10, n%1e9)
		kind := access.Kinds[uint64(n)%uint64(len(access.Kinds))]
		res := &gatehouse.Resource{ID: n, Kind: kind, Key: text, Data: data, CreatedBy: n, CreatedAt: at, UpdatedAt: time.Unix(n/1000, 0), Deleted: n%3 == 0}
		d := access.Decision{Level: access.Level(uint64(n) % uint64(access.Manager+1))}
		typed := newResourceAnswer(res, d, u)
		// The typed answer writes what the map it replaced wrote, by either
		// writer: clients see no change.
		if want, err := slowEncode(legacyResourceOut(res, d, u)); err == nil {
			if got, err := slowEncode(typed); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("resourceAnswer via encoding/json = %s (%v)\nthe map wrote        %s", got, err, want)
			}
			if got, ok := appendFastJSON(nil, typed); ok && !bytes.Equal(got, want) {
				t.Fatalf("resourceAnswer via the fast path = %s\nthe map wrote          %s", got, want)
			}
		} else if got, ok := appendFastJSON(nil, typed); ok {
			t.Fatalf("resourceAnswer via the fast path = %s where the map fails: %v", got, err)
		}
		ra := roleAccessResult{ID: text, RoleID: "r" + text, AddedAt: at.UTC(), UpdatedAt: at.UTC(), Object: objectRef(res)}
		ref := map[string]any{"id": res.ID}
		if spec := &kindSpecs[kind]; spec.stringID {
			ref["id"] = res.Key
		} else if spec.keyField != "" {
			ref[spec.keyField] = res.Key
		}
		legacyRA := map[string]any{"id": ra.ID, "role": ra.Role, "role_id": ra.RoleID, "added_at": ra.AddedAt, "updated_at": ra.UpdatedAt, kind.Singular(): ref}
		if got, want := mustEncode(t, ra), mustEncode(t, legacyRA); !bytes.Equal(got, want) {
			t.Fatalf("roleAccessResult = %s\nthe map wrote    %s", got, want)
		}
		for _, v := range []any{answer, page{Count: int(n % 1000), Next: &next, Results: []map[string]any{answer, {}}},
			typed, page{Count: 2, Previous: &next, Results: []resourceAnswer{typed, typed}}} {
			got, ok := appendFastJSON(nil, v)
			want, err := slowEncode(v)
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("appendFastJSON wrote %s where encoding/json fails: %v", got, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("appendFastJSON = %s\nencoding/json = %s", got, want)
			}
		}
	})
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := slowEncode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyResourceOut is a resource answer as it was built before it was
// typed: a map of the stored fields, overwritten by the server's.
func legacyResourceOut(res *gatehouse.Resource, d access.Decision, createdBy *userBasic) map[string]any {
	spec := &kindSpecs[res.Kind]
	data, ok := decodeRawObject(res.Data)
	if !ok {
		_ = json.Unmarshal(res.Data, &data)
	}
	out := map[string]any{}
	for k, v := range data {
		out[k] = v
	}
	if spec.stringID {
		out["id"] = res.Key
	} else {
		out["id"] = res.ID
		if spec.keyField != "" {
			out[spec.keyField] = res.Key
		}
	}
	if res.Kind == access.FeatureFlags {
		var filters struct {
			Groups []struct {
				Rollout *float64 `json:"rollout_percentage"`
			} `json:"groups"`
		}
		out["rollout_percentage"] = nil
		if json.Unmarshal(data["filters"], &filters) == nil && len(filters.Groups) == 1 && filters.Groups[0].Rollout != nil {
			out["rollout_percentage"] = *filters.Groups[0].Rollout
		}
	}
	out["created_by"] = createdBy
	out["created_at"] = res.CreatedAt.UTC()
	out["updated_at"] = res.UpdatedAt.UTC()
	out["deleted"] = res.Deleted
	out["can_edit"] = d.CanEdit()
	out["user_access_level"] = d.Level.String()
	return out
}

// TestEncodeFastPath: a resource page goes through the fast path, and encode
// writes it as encoding/json would (with its final newline).
func TestEncodeFastPath(t *testing.T) {
	doc := json.RawMessage(`{"filters":{"groups":[{"rollout_percentage":30}]},"key":"k","name":"Flag"}`)
	p := page{Count: 1, Results: []map[string]any{{"id": int64(3), "data": doc, "can_edit": true, "created_by": (*userBasic)(nil)}}}
	if _, ok := appendFastJSON(nil, p); !ok {
		t.Fatal("appendFastJSON declined a resource page")
	}
	rec := httptest.NewRecorder()
	encode(rec, 200, p)
	want, err := slowEncode(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != string(want)+"\n" {
		t.Errorf("encode = %s, want %s", got, want)
	}
}

// BenchmarkResourcePage is the part of a list that building and writing the
// answers costs, typed against the maps they replaced: a page of 100 flags.
func BenchmarkResourcePage(b *testing.B) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	u := &userBasic{ID: 1, UUID: "01a22cf8-1fbd-7caa-89a8-244771975ce5", DistinctID: "d", FirstName: "Ann", Email: "ann@example.com"}
	rows := make([]gatehouse.Resource, 100)
	for i := range rows {
		rows[i] = gatehouse.Resource{ID: int64(i + 1), Kind: access.FeatureFlags, Key: "flag-" + itoa(i), CreatedBy: 1, CreatedAt: at, UpdatedAt: at,
			Data: []byte(`{"key":"flag-` + itoa(i) + `","name":"A flag","filters":{"groups":[{"properties":[],"rollout_percentage":50}]},"active":true,"ensure_experience_continuity":false}`)}
	}
	d := access.Decision{Level: access.Editor}
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			results := make([]map[string]any, len(rows))
			for i := range rows {
				results[i] = legacyResourceOut(&rows[i], d, u)
			}
			if _, ok := appendFastJSON(nil, page{Count: 100, Results: results}); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		for b.Loop() {
			results := make([]resourceAnswer, len(rows))
			for i := range rows {
				results[i] = newResourceAnswer(&rows[i], d, u)
			}
			if _, ok := appendFastJSON(nil, page{Count: 100, Results: results}); !ok {
				b.Fatal("declined")
			}
		}
	})
}

// TestDocumentOwnsItsBytes: a cached document keeps its own copy of the bytes
// it was decoded from, so a caller that writes over its buffer afterwards
// (FuzzFastJSON's engine does; a reused row buffer would) changes no answer.
func TestDocumentOwnsItsBytes(t *testing.T) {
	original := `{"name":"kept","n":1}`
	buf := []byte(original)
	res := &gatehouse.Resource{ID: 9_000_001, Kind: access.Kinds[0], Key: "k", Data: buf}
	documents.get(res)
	copy(buf, `{"name":"lost","n":}`)
	again := &gatehouse.Resource{ID: res.ID, Kind: res.Kind, Key: "k", Data: []byte(original)}
	got, err := slowEncode(newResourceAnswer(again, access.Decision{}, nil))
	if err != nil {
		t.Fatalf("the cached document no longer encodes: %v", err)
	}
	if !bytes.Contains(got, []byte(`"name":"kept"`)) || !bytes.Contains(got, []byte(`"n":1`)) {
		t.Fatalf("answer = %s, want the document as stored (name kept, n 1)", got)
	}
}

// TestExactNames: a member whose name matches a field only when case is
// ignored is dropped, at any depth of the type; exact names, unknown names and
// everything else are left as they are.
func TestExactNames(t *testing.T) {
	type item struct {
		Kind string `json:"kind"`
	}
	type body struct {
		Level  *string         `json:"access_level"`
		Raw    json.RawMessage `json:"raw"`
		Checks []item          `json:"checks"`
		Plain  string
	}
	for _, tc := range []struct{ in, want string }{
		{`{"access_level":"editor"}`, `{"access_level":"editor"}`},
		{`{"aCcess_level":"editor","other":1}`, `{"other":1}`},
		{`{"ACCESS_LEVEL":"x","access_level":"editor"}`, `{"access_level":"editor"}`},
		{`{"checks":[{"KIND":"a"},{"kind":"b"}]}`, `{"checks":[{},{"kind":"b"}]}`},
		{`{"raw":{"Access_Level":1}}`, `{"raw":{"Access_Level":1}}`},
		{`{"plain":"x","Plain":"y"}`, `{"Plain":"y"}`},
		{`[1]`, `[1]`},
		{`{"checks":7}`, `{"checks":7}`},
	} {
		var got, want any
		if err := json.Unmarshal(exactNames([]byte(tc.in), reflect.TypeOf(&body{})), &got); err != nil {
			t.Fatalf("exactNames(%s): %v", tc.in, err)
		}
		_ = json.Unmarshal([]byte(tc.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("exactNames(%s) = %v, want %s", tc.in, got, tc.want)
		}
	}
	if in := []byte(`{"access_level":"editor"}`); &exactNames(in, reflect.TypeOf(&body{}))[0] != &in[0] {
		t.Error("exactNames copied a body it left unchanged")
	}
}
