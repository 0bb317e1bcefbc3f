package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
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
		for _, v := range []any{answer, page{Count: int(n % 1000), Next: &next, Results: []map[string]any{answer, {}}}} {
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
