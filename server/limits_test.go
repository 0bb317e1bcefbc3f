package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to look at PostgreSQL directly

	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// openRaw opens a fresh, migrated database of dialect as a store, and a plain database/sql
// handle on the same database so that a test can look at what was written.
func openRaw(t testing.TB, dialect string) (*sqlstore.DB, *sql.DB) {
	t.Helper()
	u := sqltest.NewDatabaseURL(t, dialect)
	store, err := sqlstore.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatalf("sqlstore.Open(%s) = %v", dialect, err)
	}
	t.Cleanup(func() { store.Close() })
	var raw *sql.DB
	if dialect == sqlstore.SQLite {
		raw, err = sql.Open("sqlite", strings.TrimPrefix(u, "sqlite:")+"?_pragma=busy_timeout(5000)")
	} else {
		raw, err = sql.Open("pgx", u)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return store, raw
}

// fingerprintTables are what the database holds, each with the columns that say what it
// holds. api_keys leaves out last_used_at: every bearer request moves it, by design.
var fingerprintTables = []string{
	"SELECT * FROM organizations ORDER BY id",
	"SELECT * FROM projects ORDER BY id",
	"SELECT * FROM users ORDER BY id",
	"SELECT * FROM sessions ORDER BY token_hash",
	"SELECT id, user_id, label, value_hash, mask_value, created_at FROM api_keys ORDER BY id",
	"SELECT * FROM memberships ORDER BY id",
	"SELECT * FROM invites ORDER BY id",
	"SELECT * FROM resources ORDER BY id",
	"SELECT * FROM roles ORDER BY id",
	"SELECT * FROM role_memberships ORDER BY id",
	"SELECT * FROM access_rules ORDER BY id",
	"SELECT * FROM activity_log ORDER BY id",
}

// fingerprint hashes everything the database holds: equal fingerprints mean nothing was
// written in between.
func fingerprint(t testing.TB, raw *sql.DB) string {
	t.Helper()
	sum := sha256.Sum256([]byte(dumpRows(t, raw, fingerprintTables)))
	return hex.EncodeToString(sum[:])
}

// dumpRows runs each query and returns every row it reads as "query: column=value"
// lines, followed by the query's row count.
func dumpRows(t testing.TB, raw *sql.DB, queries []string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rows, err := raw.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s: %s=%v\n", q, cols[i], v)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		fmt.Fprintf(&b, "%s: rows=%d\n", q, n)
	}
	return b.String()
}

// call sends one request in-process as caller who and decodes the answer.
func (w *fuzzWorld) call(t testing.TB, method, target string, who int, body string) *result {
	t.Helper()
	rec := w.serve(method, target, w.tokens[who], []byte(body))
	r := &result{t: t, status: rec.Code, raw: rec.Body.String(), header: rec.Header()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, target, rec.Body.String())
		}
	}
	return r
}

// limitsWorld is a fuzz world on dialect with a raw handle on its database.
func limitsWorld(t *testing.T, dialect string) (*fuzzWorld, *sql.DB) {
	t.Helper()
	store, raw := openRaw(t, dialect)
	return newFuzzWorldOn(t, store), raw
}

// unchanged fails the test when the database changed since before.
func unchanged(t *testing.T, raw *sql.DB, before, what string) {
	t.Helper()
	if after := fingerprint(t, raw); after != before {
		t.Errorf("%s: the database changed, want nothing written", what)
	}
}

// TestLimitsBodySize: every route that reads a body refuses one over 1 MiB with 413, in
// one piece or chunked, and writes nothing; a body of exactly 1 MiB is read.
func TestLimitsBodySize(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite"} { // the limit applies before any storage
		w, raw := limitsWorld(t, dialect)
		before := fingerprint(t, raw)
		big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
		n := 0
		for i, p := range w.routes {
			method, _, _ := strings.Cut(p, " ")
			if method == "GET" || method == "DELETE" || p == "POST /api/logout" {
				continue
			}
			_, target := w.request(uint16(i), 0, "", "")
			r := w.call(t, method, target, fuzzOwner, big)
			r.wantError(413, "invalid_request", "request_too_large", "")
			n++
		}
		unchanged(t, raw, before, "bodies over the limit")
		if n < 50 {
			t.Fatalf("only %d routes read a body, want every write route", n)
		}

		// Chunked, over a real connection: the limit does not rely on Content-Length.
		srv := httptest.NewServer(validated(t, w.h))
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/api/projects/"+w.project+"/dashboards", io.MultiReader(strings.NewReader(big), strings.NewReader("")))
		req.Header.Set("Authorization", w.tokens[fuzzOwner])
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("chunked body over the limit = %d %s, want 413", resp.StatusCode, data)
		}
		checkErrorShape(t, "chunked body over the limit", resp.StatusCode, resp.Header.Get("Content-Type"), data)
		unchanged(t, raw, before, "a chunked body over the limit")

		// The boundary: 1 MiB exactly is read (a dashboard's description has no length
		// limit of its own), one byte more is not.
		frame := `{"name":"d","description":""}`
		exact := `{"name":"d","description":"` + strings.Repeat("y", 1<<20-len(frame)) + `"}`
		dash := "/api/projects/" + w.project + "/dashboards"
		w.call(t, "POST", dash, fuzzOwner, exact[:len(exact)-2]+`yy"}`).wantError(413, "invalid_request", "request_too_large", "")
		if r := w.call(t, "POST", dash, fuzzOwner, exact); r.status != 201 {
			t.Fatalf("a body of exactly 1 MiB = %d %.200s, want 201", r.status, r.raw)
		}
	}
}

// TestLimitsFieldLengths: each text field takes its maximum, counted in characters, and
// refuses one more with 400 max_length naming the field, writing nothing.
func TestLimitsFieldLengths(t *testing.T) {
	t.Parallel()
	w, raw := limitsWorld(t, "sqlite")
	proj, org := "/api/projects/"+w.project, "/api/organizations/"+w.orgID
	type field struct {
		method, path string
		attr         string
		max          int
		body         func(v string) map[string]any
		code         string // for one more than max; "" = max_length
		char         string // what the text is made of; "" = "é", two bytes each
	}
	n := 0
	uniq := func() int { n++; return n }
	named := func(extra map[string]any) func(string) map[string]any {
		return func(v string) map[string]any {
			out := map[string]any{"name": v}
			for k, x := range extra {
				out[k] = x
			}
			return out
		}
	}
	fields := []field{
		{"POST", proj + "/feature_flags", "key", 400, func(v string) map[string]any { return map[string]any{"key": v} }, "", "k"},
		{"POST", proj + "/feature_flags", "name", 400, func(v string) map[string]any { return map[string]any{"key": fmt.Sprintf("f%d", uniq()), "name": v} }, "", ""},
		{"POST", proj + "/experiments", "name", 400, named(nil), "", ""},
		{"POST", proj + "/experiments", "description", 3000, func(v string) map[string]any { return map[string]any{"name": "e", "description": v} }, "", ""},
		{"POST", proj + "/experiments", "feature_flag_key", 400, func(v string) map[string]any { return map[string]any{"name": "e", "feature_flag_key": v} }, "", ""},
		{"POST", proj + "/cohorts", "name", 400, named(nil), "", ""},
		{"POST", proj + "/cohorts", "description", 1000, func(v string) map[string]any { return map[string]any{"name": "c", "description": v} }, "", ""},
		{"POST", proj + "/session_recordings", "id", 200, func(v string) map[string]any { return map[string]any{"id": v} }, "invalid", "r"},
		{"POST", proj + "/session_recordings", "distinct_id", 400, func(v string) map[string]any { return map[string]any{"distinct_id": v} }, "", ""},
		{"POST", proj + "/insights", "name", 400, named(nil), "", ""},
		{"POST", proj + "/insights", "description", 400, func(v string) map[string]any { return map[string]any{"description": v} }, "", ""},
		{"POST", proj + "/dashboards", "name", 400, named(nil), "", ""},
		{"POST", proj + "/actions", "name", 400, named(nil), "", ""},
		{"POST", org + "/roles", "name", 200, named(nil), "", ""},
		{"POST", "/api/organizations", "name", 64, named(nil), "", ""},
		{"POST", "/api/projects", "name", 64, named(nil), "", ""},
		{"PATCH", "/api/users/@me", "first_name", 150, func(v string) map[string]any { return map[string]any{"first_name": v} }, "", ""},
		{"POST", "/api/personal_api_keys", "label", 40, func(v string) map[string]any { return map[string]any{"label": v} }, "", ""},
		{"POST", "/api/signup", "password", 256, func(v string) map[string]any {
			return map[string]any{"email": fmt.Sprintf("long%d@fuzz.test", uniq()), "password": v, "first_name": "L"}
		}, "", "p"},
	}
	for _, f := range fields {
		t.Run(lastSegment(f.path)+"/"+f.attr, func(t *testing.T) {
			char := f.char
			if char == "" {
				char = "é"
			}
			text := func(n int) string {
				s := strings.Repeat(char, n)
				if f.char == "k" || f.char == "r" {
					// keys must be unique: vary the start, keep the length
					s = fmt.Sprintf("%s%06d", s[:n-6], uniq())
				}
				return s
			}
			before := fingerprint(t, raw)
			body, _ := json.Marshal(f.body(text(f.max + 1)))
			code := f.code
			if code == "" {
				code = "max_length"
			}
			w.call(t, f.method, f.path, fuzzOwner, string(body)).wantError(400, "validation_error", code, f.attr)
			unchanged(t, raw, before, "a field one character too long")
			body, _ = json.Marshal(f.body(text(f.max)))
			if r := w.call(t, f.method, f.path, fuzzOwner, string(body)); r.status >= 300 {
				t.Errorf("%s at its maximum (%d) = %d %s, want it accepted", f.attr, f.max, r.status, r.raw)
			}
		})
	}
}

// badIDs are path values that name nothing: every one must be a plain 404.
var badIDs = []string{
	"abc", "0", "-1", "1e3", "99999999999999999999", "9223372036854775807", "%D9%A1",
	"1%27%20OR%20%271%27%3D%271", strings.Repeat("9", 400), "00000000-0000-0000-0000-000000000000",
}

// TestLimitsIDs replaces each path value of every route, one at a time, by ids that name
// nothing (non-numeric, huge, negative, zero, an unknown UUID…): every answer is a 404
// not_found and nothing is written.
func TestLimitsIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w, raw := limitsWorld(t, dialect)
		before := fingerprint(t, raw)
		n := 0
		for i, p := range w.routes {
			method, path, _ := strings.Cut(p, " ")
			holes := strings.Count(path, "{")
			for h := range holes {
				for _, bad := range badIDs {
					pieces := make([]string, holes)
					pieces[h] = "raw:" + bad
					_, target := w.request(uint16(i), 0, strings.Join(pieces, "|"), "")
					r := w.call(t, method, target, fuzzOwner, validBody(p))
					if r.status != 404 || r.str("code") != "not_found" {
						t.Errorf("%s with {%d} = %q: %d %s, want 404 not_found", p, h, bad, r.status, r.raw)
					}
					n++
				}
			}
		}
		unchanged(t, raw, before, "requests naming nothing")
		t.Logf("%d requests", n)
	})
}

// TestLimitsPaging: every paginated list refuses a limit outside 1..1000 and a negative
// or non-numeric offset (400 invalid, attr limit/offset), takes the bounds, and answers a
// far offset with an empty page whose links stay usable.
func TestLimitsPaging(t *testing.T) {
	t.Parallel()
	w, _ := limitsWorld(t, "sqlite")
	var lists []string
	for i, p := range w.routes {
		if !strings.HasPrefix(p, "GET /api/") {
			continue
		}
		_, target := w.request(uint16(i), 0, "", "")
		if r := w.call(t, "GET", target, fuzzOwner, ""); r.status == 200 && r.get("results") != nil && r.get("count") != nil {
			lists = append(lists, target)
		}
	}
	if len(lists) < 20 {
		t.Fatalf("found %d paginated lists, want every list route: %v", len(lists), lists)
	}
	for _, list := range lists {
		for _, q := range []string{"limit=0", "limit=-1", "limit=1001", "limit=abc", "limit=1.5", "limit=99999999999999999999", "limit=", "limit=%201"} {
			r := w.call(t, "GET", list+"?"+q, fuzzOwner, "")
			if q == "limit=" {
				if r.status != 200 {
					t.Errorf("GET %s?%s = %d, want 200 (empty means the default)", list, q, r.status)
				}
				continue
			}
			r.wantError(400, "validation_error", "invalid", "limit")
		}
		for _, q := range []string{"offset=-1", "offset=abc", "offset=99999999999999999999", "offset=1e3"} {
			w.call(t, "GET", list+"?"+q, fuzzOwner, "").wantError(400, "validation_error", "invalid", "offset")
		}
		for _, q := range []string{"limit=1", "limit=1000"} {
			if r := w.call(t, "GET", list+"?"+q, fuzzOwner, ""); r.status != 200 {
				t.Errorf("GET %s?%s = %d %s, want 200", list, q, r.status, r.raw)
			}
		}
		for _, off := range []int64{1 << 20, math.MaxInt64 - 10, math.MaxInt64} {
			r := w.call(t, "GET", fmt.Sprintf("%s?limit=1000&offset=%d", list, off), fuzzOwner, "")
			if r.status != 200 || len(r.list("results")) != 0 || r.get("next") != nil {
				t.Errorf("GET %s at offset %d = %d %.300s, want 200, no results, no next", list, off, r.status, r.raw)
				continue
			}
			prev, _ := r.get("previous").(string)
			u, err := url.Parse(prev)
			if err != nil || u.Path == "" {
				t.Errorf("GET %s at offset %d: previous = %q, want a link", list, off, prev)
				continue
			}
			if back := w.call(t, "GET", u.RequestURI(), fuzzOwner, ""); back.status != 200 {
				t.Errorf("following previous %q = %d %s, want 200", prev, back.status, back.raw)
			}
		}
	}
}

// TestLimitsUnknownKindsAndResources: unknown kinds in a path are 404; unknown kinds,
// resources, levels and targets in a body are 400 naming the field; nothing is written.
func TestLimitsUnknownKindsAndResources(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w, raw := limitsWorld(t, dialect)
		proj, org := "/api/projects/"+w.project, "/api/organizations/"+w.orgID
		flag := proj + "/feature_flags/" + w.values["feature_flags/{id}"]
		before := fingerprint(t, raw)
		for _, kind := range []string{"unicorns", "feature_flag", "Feature_Flags", "feature%20flags", "persons", "..", "roles"} {
			for _, m := range []string{"GET", "POST"} {
				w.call(t, m, proj+"/"+kind, fuzzOwner, `{"name":"x","key":"x"}`).wantError(404, "invalid_request", "not_found", "")
			}
			w.call(t, "PATCH", proj+"/"+kind+"/1", fuzzOwner, `{"name":"x"}`).wantError(404, "invalid_request", "not_found", "")
		}
		// Objects of one kind are not reachable through another kind's path.
		w.call(t, "GET", proj+"/experiments/"+w.values["feature_flags/{id}"], fuzzOwner, "").wantError(404, "invalid_request", "not_found", "")

		bad := []struct {
			method, path, body, code, attr string
		}{
			{"POST", org + "/resource_access", `{"resource":"unicorns"}`, "invalid_choice", "resource"},
			{"POST", org + "/resource_access", `{"resource":"feature_flag"}`, "invalid_choice", "resource"}, // v2's name in v1
			{"POST", org + "/resource_access", `{"resource":""}`, "required", "resource"},
			{"POST", org + "/resource_access", `{"resource":"feature flags","access_level":22}`, "invalid_choice", "access_level"},
			{"POST", org + "/resource_access", `{"resource":"feature flags","access_level":"editor"}`, "invalid", "access_level"},
			{"PATCH", org + "/resource_access/" + w.values["resource_access/{id}"], `{"resource":"unicorns"}`, "invalid_choice", "resource"},
			{"PATCH", org + "/roles/" + w.values["role"], `{"resource_access_levels":{"unicorns":21}}`, "invalid_choice", "resource_access_levels"},
			{"PATCH", org + "/roles/" + w.values["role"], `{"resource_access_levels":{"cohorts":0}}`, "invalid_choice", "resource_access_levels"},
			{"PATCH", org + "/roles/" + w.values["role"], `{"feature_flags_access_level":38}`, "invalid_choice", "feature_flags_access_level"},
			{"PUT", proj + "/resource_access_controls", `{"resource":"unicorn","access_level":"viewer"}`, "invalid_choice", "resource"},
			{"PUT", proj + "/resource_access_controls", `{"resource":"feature flags","access_level":"viewer"}`, "invalid_choice", "resource"}, // v1's name in v2
			{"PUT", proj + "/resource_access_controls", `{"resource":"feature_flag","access_level":"owner"}`, "invalid_choice", "access_level"},
			{"PUT", proj + "/resource_access_controls", `{"resource":"feature_flag","access_level":"viewer","role":"nope"}`, "does_not_exist", "role"},
			{"PUT", proj + "/access_controls", `{"access_level":"editor"}`, "invalid_choice", "access_level"}, // projects take none/member/admin
			{"PUT", proj + "/access_controls", `{"access_level":"member","organization_member":"nope"}`, "does_not_exist", "organization_member"},
			{"PUT", flag + "/access_controls", `{"access_level":"admin"}`, "invalid_choice", "access_level"},
			{"PUT", flag + "/access_controls", `{"access_level":1}`, "invalid", "access_level"},
			{"PUT", flag + "/access_controls", `{}`, "required", "access_level"},
			{"POST", flag + "/role_access", `{"role_id":"00000000-0000-0000-0000-000000000000"}`, "does_not_exist", "role_id"},
			{"POST", org + "/roles/" + w.values["role"] + "/role_memberships", `{"user_uuid":"nope"}`, "does_not_exist", "user_uuid"},
			{"PATCH", org + "/members/" + w.values["user"], `{"level":3}`, "invalid_choice", "level"},
			{"POST", org + "/invites", `{"target_email":"x@fuzz.test","level":99}`, "invalid_choice", "level"},
			{"POST", proj + "/access/check", `{"checks":[{"kind":"unicorns","id":1,"action":"view"}]}`, "invalid_choice", "kind"},
			{"POST", proj + "/access/check", `{"checks":[{"kind":"feature_flags","id":1,"action":"own"}]}`, "invalid_choice", "action"},
		}
		for _, b := range bad {
			w.call(t, b.method, b.path, fuzzOwner, b.body).wantError(400, "validation_error", b.code, b.attr)
		}
		unchanged(t, raw, before, "unknown kinds, resources and levels")

		// More checks than one request may carry.
		checks := make([]map[string]any, 1001)
		for i := range checks {
			checks[i] = map[string]any{"kind": "feature_flags", "id": 1, "action": "view"}
		}
		data, _ := json.Marshal(map[string]any{"checks": checks})
		w.call(t, "POST", proj+"/access/check", fuzzOwner, string(bytes.TrimSpace(data))).wantError(400, "validation_error", "max_length", "checks")
	})
}
