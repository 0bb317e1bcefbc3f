package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/access"
)

// FuzzCheckBody holds access/check's fast paths to encoding/json: whatever
// body the fast reader accepts, encoding/json reads the same way; ids read
// the same as they always did; results are written byte for byte as encode
// writes them.
func FuzzCheckBody(f *testing.F) {
	for _, seed := range []string{
		`{"checks":[{"kind":"feature_flags","id":12,"action":"edit"}]}`,
		`{"checks":[{"kind":"feature_flag","id":"12","action":"view","user_uuid":null},{"kind":"session_recordings","id":"abc","action":"manage","user_uuid":"0190-a"}]}`,
		" {\n \"checks\" : [ ] } \n",
		`{"checks":[{"kind":"insights","id":0,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1e3,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":-4,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":99999999999999999999,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":"\u0031","action":"view"}]}`,
		`{"checks":[{"Kind":"insights","id":1,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","kind":"cohorts","id":1,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1}]}`,
		`{"checks":null}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"}],"other":1}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"}]}x`,
		`{"checks":[{"kind":"insights","id":01,"action":"view"}]}`,
		// Checks read by the pattern of the last two (checkLike), and checks that
		// look like a pattern but are not read by it.
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":22,"action":"edit"},{"kind":"insights","id":3,"action":"view"},{"kind":"insights","id":40,"action":"edit"}]}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":01,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":2.5,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":2e1,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":"2","action":"view"},{"kind":"insights","id":3,"action":"view"}]}`,
		`{"checks":[{"kind":"insights","id":1,"action":"view"},{"kind":"insights","id":2,"action":"view","action":"edit"}]}`,
		`{"checks":[{"id":1,"kind":"insights","action":"view","user_uuid":"a-1"},{"id":2,"kind":"insights","action":"view","user_uuid":"a-2"},{"id":3,"kind":"insights","action":"view","user_uuid":"a-1"}]}`,
		`{"checks":[ {"kind":"insights","action":"view","id":1 } , {"kind":"insights","action":"view","id":12 },{"kind":"insights","action":"view","id":3}]}`,
	} {
		f.Add([]byte(seed), "editor", "explicit_role", "editor through role 'product' on this feature flag", true)
	}
	f.Add([]byte(`{}`), "none", "none", "role \"<ü>\" \\ \u2028 \x01 \xff", false)
	f.Fuzz(func(t *testing.T, body []byte, level, source, reason string, allowed bool) {
		if fast, ok := parseChecks(nil, body); ok {
			var slow checkRequest
			if err := decodeBytes(body, &slow); err != nil {
				t.Fatalf("parseChecks(%q) accepted what encoding/json refuses: %v", body, err)
			}
			if !reflect.DeepEqual(fast, slow.Checks) {
				t.Fatalf("parseChecks(%q) = %+v, encoding/json reads %+v", body, fast, slow.Checks)
			}
		}
		raw := json.RawMessage(body)
		if json.Valid(body) {
			gotText, gotOK := idText(raw)
			wantText, wantOK := idTextJSON(raw)
			if gotText != wantText || gotOK != wantOK {
				t.Fatalf("idText(%s) = %q, %v; want %q, %v", body, gotText, gotOK, wantText, wantOK)
			}
			if n, ok := idNumber(raw); ok {
				if slow, err := strconv.ParseInt(wantText, 10, 64); !wantOK || err != nil || slow != n {
					t.Fatalf("idNumber(%s) = %d, but it reads as %q, %v", body, n, wantText, wantOK)
				}
			}
		}
		var want bytes.Buffer
		rec := httptest.NewRecorder()
		encode(rec, 200, checkResult{Allowed: allowed, AccessLevel: level, AccessSource: source, Reason: reason})
		want.Write(bytes.TrimSuffix(rec.Body.Bytes(), []byte("\n")))
		if got := appendCheckResult(nil, allowed, level, source, []byte(reason)); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendCheckResult = %s, encode writes %s", got, want.Bytes())
		}
	})
}

// BenchmarkCheckBody times reading a 100-check body and writing its 100
// results, the part of access/check that is neither HTTP nor decision.
func BenchmarkCheckBody(b *testing.B) {
	body := bytes.NewBufferString(checksBody(100, func(i int) string {
		return `{"kind":"feature_flags","id":` + strconv.Itoa(1000+i) + `,"action":"edit"}`
	}))
	reason := []byte("view only: organization default for feature flags; ask an admin or the feature flag's creator")
	out := make([]byte, 0, 32<<10)
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		checks, ok := parseChecks(nil, body.Bytes())
		if !ok || len(checks) != 100 {
			b.Fatal("parseChecks refused the body")
		}
		out = out[:0]
		for _, ch := range checks {
			if _, ok := idNumber(ch.ID); !ok {
				b.Fatal("idNumber refused an id")
			}
			out = appendCheckResult(out, false, "viewer", "organization_default", reason)
		}
	}
}

// TestHeadIndex: a batch's objects are found whatever order the store gave their heads
// in, duplicates and missing ones included, and an id of 0 (a string id) finds nothing.
func TestHeadIndex(t *testing.T) {
	head := func(id int64) access.Object { return access.Object{ID: id, Project: id * 10} }
	for _, tc := range []struct {
		name  string
		heads []int64
		ask   []int64
	}{
		{"in order", []int64{5, 3, 9}, []int64{5, 3, 9}},
		{"repeated", []int64{5, 5, 3}, []int64{5, 5, 3, 5}},
		{"one read from the database last", []int64{5, 9, 3}, []int64{5, 3, 9}},
		{"missing", []int64{5, 9}, []int64{5, 3, 9, 0, 7}},
		{"reversed", []int64{9, 5, 3}, []int64{3, 5, 9}},
		{"none", nil, []int64{1, 0}},
	} {
		var heads []access.Object
		for _, id := range tc.heads {
			heads = append(heads, head(id))
		}
		x := headIndex{heads: heads}
		for _, id := range tc.ask {
			h, ok := x.find(id)
			want := id != 0 && slices.Contains(tc.heads, id)
			if ok != want || ok && h != head(id) {
				t.Errorf("%s: find(%d) = %+v, %v; want found %v", tc.name, id, h, ok, want)
			}
		}
	}
}

// TestCheckLike: a check whose bytes are the pattern's around an integer id is read by
// the pattern as check reads it; anything else is left to check, unread.
func TestCheckLike(t *testing.T) {
	const first = `{"kind":"insights","id":1,"action":"view","user_uuid":"u-1"}`
	for _, tc := range []struct {
		next string
		id   string // "": the pattern must not read it
	}{
		{`{"kind":"insights","id":23,"action":"view","user_uuid":"u-1"}`, "23"},
		{`{"kind":"insights","id":0,"action":"view","user_uuid":"u-1"}`, "0"},
		{`{"kind":"insights","id":023,"action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":2.5,"action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":2e3,"action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":"2","action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":-2,"action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":2,"action":"edit","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":2,"action":"view","user_uuid":"u-2"}`, ""},
		{`{"kind":"insights","id":,"action":"view","user_uuid":"u-1"}`, ""},
		{`{"kind":"insights","id":2`, ""},
	} {
		p := jsonScan{b: []byte(first + tc.next)}
		ch, id, ok := p.check()
		if !ok {
			t.Fatal("check refused the pattern")
		}
		var like checkLike
		like.learn(&p, 0, ch, id)
		at := p.i
		got, ok := like.match(&p)
		if tc.id == "" {
			if ok || p.i != at {
				t.Errorf("after %s, the pattern read %s as %+v", first, tc.next, got)
			}
			continue
		}
		want := ch
		want.ID = json.RawMessage(tc.id)
		if !ok || !reflect.DeepEqual(got, want) || p.i != len(p.b) {
			t.Errorf("after %s, the pattern read %s as %+v, %v (at %d of %d); want %+v", first, tc.next, got, ok, p.i, len(p.b), want)
		}
	}
	// A pattern is only learnt from a check whose id is an integer.
	p := jsonScan{b: []byte(`{"kind":"session_recordings","id":"1","action":"view"}{"kind":"session_recordings","id":"1","action":"view"}`)}
	ch, id, _ := p.check()
	var like checkLike
	like.learn(&p, 0, ch, id)
	if _, ok := like.match(&p); ok {
		t.Error("a check with a string id became a pattern")
	}
}

// TestCheckUUIDs: checks about many members each keep their own uuid (past the slab's
// sixteen), as encoding/json reads them, and a run of checks about one member shares
// one copy.
func TestCheckUUIDs(t *testing.T) {
	body := checksBody(60, func(i int) string {
		member := i // a different member each, then runs of three
		if i >= 30 {
			member = i / 3
		}
		// Three actions in turn, so that a run is not read by the last two checks'
		// pattern (checkLike) but by uuidString.
		return fmt.Sprintf(`{"kind":"insights","id":%d,"action":%q,"user_uuid":"0192a6f0-%04d-7000-8000-000000000000"}`, i+1, []string{"view", "edit", "manage"}[i%3], member)
	})
	fast, ok := parseChecks(nil, []byte(body))
	if !ok {
		t.Fatal("parseChecks refused the body")
	}
	var slow checkRequest
	if err := decodeBytes([]byte(body), &slow); err != nil || !reflect.DeepEqual(fast, slow.Checks) {
		t.Fatalf("parseChecks and encoding/json differ (%v)", err)
	}
	for i := 31; i < 60; i++ {
		if same := fast[i].UserUUID == fast[i-1].UserUUID; same != (i%3 != 0) {
			t.Errorf("checks %d and %d share a uuid copy: %v, want %v", i-1, i, same, i%3 != 0)
		}
	}
}

// checksBody is an access/check body of n checks, check(i) written for the i-th.
func checksBody(n int, check func(i int) string) string {
	var b strings.Builder
	b.WriteString(`{"checks":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(check(i))
	}
	b.WriteString(`]}`)
	return b.String()
}
