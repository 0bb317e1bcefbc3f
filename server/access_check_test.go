package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// BenchmarkAccessCheck serves access/check in the process, without the network, so that
// its figures (time and allocations per request) are the server's alone: one decision,
// and a batch of 100 decisions on 100 flags. The load command measures the same requests
// over the network against a no-op server.
//
//	go test ./server -run '^$' -bench AccessCheck -benchmem
func BenchmarkAccessCheck(b *testing.B) {
	db := sqltest.Open(b, "sqlite")
	e := newEnvOn(b, db, license.Enterprise)
	m := e.member(1)
	var ids []int64
	for i := range 100 {
		ids = append(ids, int64(e.owner.must("POST", e.projPath("/feature_flags"), map[string]any{"key": fmt.Sprintf("flag-%d", i)}, 201).num("id")))
	}
	var others []string
	for range 100 {
		others = append(others, e.member(1).uuid)
	}
	handler := e.srv.Config.Handler
	for _, bc := range []struct {
		name  string
		n     int
		other bool // the owner asks about 100 other members
	}{{"checks=1", 1, false}, {"checks=100", 100, false}, {"others=100", 100, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var body strings.Builder
			body.WriteString(`{"checks":[`)
			for i := range bc.n {
				if i > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"kind":"feature_flags","id":%d,"action":"edit"`, ids[i])
				if bc.other {
					fmt.Fprintf(&body, `,"user_uuid":%q`, others[i])
				}
				body.WriteByte('}')
			}
			body.WriteString(`]}`)
			data := []byte(body.String())
			path := e.projPath("/access/check")
			token := m.token
			if bc.other {
				token = e.owner.token
			}
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", path, bytes.NewReader(data))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("access/check = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestAccessCheckBatchAnswersAsSingles: a batch answers each check exactly as that check
// asked alone does, over answers that repeat and answers that differ only in what the
// batch may copy from an earlier result (a member rule on the object or on its kind, a
// role's name, allowed or not for the same level, hidden and missing objects).
func TestAccessCheckBatchAnswersAsSingles(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	m := e.member(1)
	var flags []string
	for range 8 {
		flags = append(flags, e.owner.create(0))
	}
	id := func(path string) string { return path[strings.LastIndex(path, "/")+1:] }
	e.role("Readers", 0, 21, m)
	e.owner.must("PUT", flags[1]+"/access_controls", map[string]any{"access_level": "editor", "organization_member": e.membershipID(m)}, 200)
	e.owner.must("PUT", flags[2]+"/access_controls", map[string]any{"access_level": "none", "organization_member": e.membershipID(m)}, 200)
	e.owner.must("PUT", flags[3]+"/access_controls", map[string]any{"access_level": "viewer"}, 200)
	e.owner.must("PUT", e.projPath("/access_controls"), map[string]any{"access_level": "member"}, 200)
	e.owner.must("PUT", e.projPath("/resource_access_controls"), map[string]any{"resource": "feature_flag", "access_level": "editor", "organization_member": e.membershipID(m)}, 200)
	dash := e.owner.create(5)
	var checks []map[string]any
	for i := range 40 {
		f := flags[i%len(flags)]
		action := []string{"view", "edit", "manage"}[i%3]
		checks = append(checks, map[string]any{"kind": "feature_flags", "id": id(f), "action": action})
		if i%7 == 0 {
			checks = append(checks, map[string]any{"kind": "dashboards", "id": id(dash), "action": action},
				map[string]any{"kind": "feature_flags", "id": 1 << 40, "action": action})
		}
	}
	batch := m.must("POST", e.projPath("/access/check"), map[string]any{"checks": checks}, 200).list("results")
	if len(batch) != len(checks) {
		t.Fatalf("%d results for %d checks", len(batch), len(checks))
	}
	seen := map[string]bool{}
	for i, ch := range checks {
		single := m.must("POST", e.projPath("/access/check"), map[string]any{"checks": []any{ch}}, 200).list("results")[0]
		if !reflect.DeepEqual(batch[i], single) {
			t.Errorf("check %d %v: in the batch %v, alone %v", i, ch, batch[i], single)
		}
		seen[fmt.Sprint(single)] = true
	}
	if len(seen) < 6 {
		t.Errorf("only %d distinct answers: the batch does not exercise what it should", len(seen))
	}
}

// TestAccessCheckAboutOthers: an admin's batch about other members names each by uuid;
// a uuid of no member (unknown, or a user who left) is refused as it would be alone, and
// a batch's errors come in the order of its checks, whichever kind they are.
func TestAccessCheckAboutOthers(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	a, b, left := e.member(1), e.member(1), e.member(1)
	left.must("DELETE", e.orgPath("/members/"+left.uuid), nil, 204)
	flag := e.owner.create(0)
	fid := flag[strings.LastIndex(flag, "/")+1:]
	e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "none", "organization_member": e.membershipID(b)}, 200)
	about := func(uuid string) map[string]any {
		return map[string]any{"user_uuid": uuid, "kind": "feature_flags", "id": fid, "action": "view"}
	}
	self := map[string]any{"kind": "feature_flags", "id": fid, "action": "view"}
	// Runs of checks about one member share a lookup; the answers must not notice
	// where a run ends, a check about the caller between two of its checks included.
	res := e.owner.must("POST", e.projPath("/access/check"), map[string]any{"checks": []any{
		about(a.uuid), about(b.uuid), about(a.uuid), about(e.owner.uuid),
		about(a.uuid), about(a.uuid), self, about(a.uuid), about(b.uuid), about(b.uuid), self, about(b.uuid), about(a.uuid)}}, 200)
	for i, want := range []bool{true, false, true, true, true, true, true, true, false, false, true, false, true} {
		if got := res.get(fmt.Sprintf("results.%d.allowed", i)); got != want {
			t.Errorf("check %d: allowed %v, want %v (%s)", i, got, want, res.raw)
		}
	}
	badKind := map[string]any{"kind": "unicorns", "id": fid, "action": "view"}
	for _, tc := range []struct {
		name   string
		checks []any
		code   string
		attr   string
	}{
		{"unknown uuid", []any{about(a.uuid), about("00000000-0000-0000-0000-000000000000")}, "does_not_exist", "user_uuid"},
		{"a user who left", []any{about(left.uuid)}, "does_not_exist", "user_uuid"},
		{"a bad kind before an unknown uuid", []any{badKind, about("00000000-0000-0000-0000-000000000000")}, "invalid_choice", "kind"},
		{"an unknown uuid before a bad kind", []any{about("00000000-0000-0000-0000-000000000000"), badKind}, "does_not_exist", "user_uuid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.owner.do("POST", e.projPath("/access/check"), map[string]any{"checks": tc.checks}).wantError(400, "validation_error", tc.code, tc.attr)
		})
	}
	// A plain member asking about anyone else is refused before any uuid is looked up.
	a.do("POST", e.projPath("/access/check"), map[string]any{"checks": []any{about(b.uuid)}}).wantError(403, "authentication_error", "permission_denied", "")
}

// TestAccessCheckNeedsChecks: a body without "checks", or with null, is refused as
// PostHog refuses a missing or null field; an empty list is a batch of none.
func TestAccessCheckNeedsChecks(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	e.owner.do("POST", e.projPath("/access/check"), map[string]any{"name": "x"}).wantError(400, "validation_error", "required", "checks")
	e.owner.do("POST", e.projPath("/access/check"), map[string]any{}).wantError(400, "validation_error", "required", "checks")
	e.owner.do("POST", e.projPath("/access/check"), map[string]any{"checks": nil}).wantError(400, "validation_error", "null", "checks")
	res := e.owner.must("POST", e.projPath("/access/check"), map[string]any{"checks": []any{}}, 200)
	if n := len(res.list("results")); n != 0 {
		t.Errorf("an empty batch answered %d results: %s", n, res.raw)
	}
}

// TestNamesAreExact: a body naming a field in another case is read as PostHog
// reads it, as a body without that field.
func TestNamesAreExact(t *testing.T) {
	e := newEnv(t, "sqlite", license.Enterprise)
	flag := e.owner.create(0)
	e.owner.do("PUT", flag+"/access_controls", map[string]any{"aCcess_level": "editor"}).wantError(400, "validation_error", "required", "access_level")
	e.owner.do("POST", e.projPath("/access/check"), map[string]any{"Checks": []any{}}).wantError(400, "validation_error", "required", "checks")
}
