package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// previewLines renders a preview's changes as "email resource[/id] before→after (source→source)", sorted.
func previewLines(r *result) []string {
	var out []string
	for _, ch := range r.list("changes") {
		c := ch.(map[string]any)
		what := c["resource"].(string)
		if id, ok := c["resource_id"].(string); ok {
			what += "/" + id
		}
		out = append(out, fmt.Sprintf("%s %s %s→%s (%s→%s)", c["user"].(map[string]any)["email"], what, c["before"], c["after"], c["source_before"], c["source_after"]))
	}
	slices.Sort(out)
	return out
}

func wantLines(t *testing.T, what string, r *result, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := previewLines(r); !slices.Equal(got, want) {
		t.Errorf("%s: changes =\n  %s\nwant\n  %s\n(%s)", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "), r.raw)
	}
}

// TestPreviews: every preview answers who gains and who loses which level, with
// the sources, for the change its body describes, and writes nothing; its
// validation errors are the write's.
func TestPreviews(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		a, b := e.member(1), e.member(1)
		admin := e.member(8)
		flag := e.owner.create(0)
		flagID := lastSegment(flag)
		// a may edit this flag whatever the kind's level.
		e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "editor", "organization_member": e.membershipID(a)}, 200)
		rev := e.owner.must("GET", e.orgPath("/activity_log"), nil, 200).num("count")

		// The object: making it private.
		p := e.owner.must("POST", flag+"/access_controls/preview", map[string]any{"access_level": "none"}, 200)
		wantLines(t, "object private", p, b.email+" feature_flag/"+flagID+" editor→none (default→object_default)")
		if p.num("losing") != 1 || p.num("gaining") != 0 {
			t.Errorf("object private: gaining %v losing %v, want 0 and 1", p.num("gaining"), p.num("losing"))
		}
		if p.num("changes.0.project_id") != float64(e.proj) {
			t.Errorf("project_id = %v, want %d", p.get("changes.0.project_id"), e.proj)
		}
		// A member rule: b gains manager.
		p = e.owner.must("POST", flag+"/access_controls/preview", map[string]any{"access_level": "manager", "organization_member": e.membershipID(b)}, 200)
		wantLines(t, "member rule", p, b.email+" feature_flag/"+flagID+" editor→manager (default→explicit_member)")
		if p.num("gaining") != 1 || p.num("losing") != 0 {
			t.Errorf("member rule: gaining %v losing %v, want 1 and 0", p.num("gaining"), p.num("losing"))
		}
		// Removing a's rule changes nothing: a edits by default too.
		p = e.owner.must("POST", flag+"/access_controls/preview", map[string]any{"access_level": nil, "organization_member": e.membershipID(a)}, 200)
		wantLines(t, "removal", p)

		// The kind in the project: view only for everyone. a keeps the flag their rule names.
		p = e.owner.must("POST", e.projPath("/resource_access_controls/preview"), map[string]any{"resource": "feature_flag", "access_level": "viewer"}, 200)
		wantLines(t, "kind", p,
			a.email+" feature_flag editor→viewer (default→organization_default)",
			b.email+" feature_flag editor→viewer (default→organization_default)",
			b.email+" feature_flag/"+flagID+" editor→viewer (default→organization_default)")

		// The project closed to everyone: every kind, and the flag a rule names.
		p = e.owner.must("POST", e.projPath("/access_controls/preview"), map[string]any{"access_level": "none"}, 200)
		if n := len(p.list("changes")); n != 2*len(kinds)+2 || p.num("losing") != float64(n) {
			t.Errorf("project closed: %d changes (losing %v), want %d: %s", n, p.num("losing"), 2*len(kinds)+2, p.raw)
		}

		// The organization default for flags.
		p = admin.must("POST", e.orgPath("/resource_access/preview"), map[string]any{"resource": "feature flags", "access_level": 21}, 200)
		wantLines(t, "organization default", p,
			a.email+" feature_flag editor→viewer (default→organization_default)",
			b.email+" feature_flag editor→viewer (default→organization_default)",
			b.email+" feature_flag/"+flagID+" editor→viewer (default→organization_default)")

		// Removing it again: with no default and no roles, every member edits.
		e.owner.must("POST", e.orgPath("/resource_access"), map[string]any{"resource": "feature flags", "access_level": 21}, 201)
		p = admin.must("POST", e.orgPath("/resource_access/preview"), map[string]any{"resource": "feature flags", "access_level": nil}, 200)
		wantLines(t, "organization default removed", p,
			a.email+" feature_flag viewer→editor (organization_default→default)",
			b.email+" feature_flag viewer→editor (organization_default→default)",
			b.email+" feature_flag/"+flagID+" viewer→editor (organization_default→default)")
		for _, d := range e.owner.must("GET", e.orgPath("/resource_access"), nil, 200).list("results") {
			e.owner.must("DELETE", e.orgPath("/resource_access/"+d.(map[string]any)["id"].(string)), nil, 204)
		}
		rev += 2

		// A role: b joins a role that may only view flags.
		role := e.role("product", 0, 37)
		p = e.owner.must("POST", e.orgPath("/roles/"+role+"/preview"), map[string]any{"feature_flags_access_level": 21, "add_members": []string{b.uuid}}, 200)
		wantLines(t, "role", p,
			b.email+" feature_flag editor→viewer (default→role)",
			b.email+" feature_flag/"+flagID+" editor→viewer (default→role)")
		p = e.owner.must("POST", e.orgPath("/roles/"+role+"/preview"), map[string]any{"feature_flags_access_level": 21}, 200)
		wantLines(t, "role without members", p)

		// Validation is the write's.
		e.owner.do("POST", flag+"/access_controls/preview", map[string]any{"access_level": "owner"}).wantError(400, "validation_error", "invalid_choice", "access_level")
		e.owner.do("POST", flag+"/access_controls/preview", map[string]any{"access_level": "viewer", "expires_at": "2000-01-01T00:00:00Z"}).
			wantError(400, "validation_error", "invalid", "expires_at")
		e.owner.do("POST", e.projPath("/resource_access_controls/preview"), map[string]any{"access_level": "viewer"}).wantError(400, "validation_error", "required", "resource")
		e.owner.do("POST", e.orgPath("/resource_access/preview"), map[string]any{"resource": "flags"}).wantError(400, "validation_error", "invalid_choice", "resource")
		e.owner.do("POST", e.orgPath("/roles/"+role+"/preview"), map[string]any{"add_members": []string{"00000000-0000-0000-0000-000000000000"}}).
			wantError(400, "validation_error", "does_not_exist", "add_members")
		e.owner.do("POST", e.orgPath("/roles/"+role+"/preview"), map[string]any{"remove_members": []string{a.uuid}}).
			wantError(400, "validation_error", "does_not_exist", "remove_members")
		e.owner.do("POST", e.orgPath("/roles/"+role+"/preview"), map[string]any{"feature_flags_access_level": 5}).
			wantError(400, "validation_error", "invalid_choice", "feature_flags_access_level")
		e.owner.must("POST", e.orgPath("/roles/00000000-0000-0000-0000-000000000000/preview"), map[string]any{}, 404)
		// Only a manager of the object previews its rules, like the write.
		a.must("POST", flag+"/access_controls/preview", map[string]any{"access_level": "none"}, 403)

		// Nothing was written: no permission change since, and b still edits the flag.
		if got := e.owner.must("GET", e.orgPath("/activity_log"), nil, 200).num("count"); got != rev+1 { // +1: the role created above
			t.Errorf("activity log count = %v after previews, want %v", got, rev+1)
		}
		b.must("PATCH", flag, map[string]any{"name": "still mine to edit"}, 200)
		if n := len(e.owner.must("GET", flag+"/access_controls", nil, 200).list("access_controls")); n != 1 {
			t.Errorf("flag has %d rules after previews, want 1", n)
		}
	})
}

// TestPreviewFreePlan: on the free plan a preview is refused like the write it previews.
func TestPreviewFreePlan(t *testing.T) {
	e := newEnv(t, "sqlite", license.Free)
	flag := e.owner.create(0)
	e.owner.do("POST", flag+"/access_controls/preview", map[string]any{"access_level": "none"}).wantError(402, "invalid_request", "payment_required", "")
}

// BenchmarkPreview: making a flag private, previewed over HTTP in an
// organization of 1,000 members (issue 13's target: under 50 ms).
//
//	go test ./server -run '^$' -bench Preview -benchtime 20x
func BenchmarkPreview(b *testing.B) {
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			db := sqltest.Open(b, dialect)
			e := newEnvOn(b, db, license.Enterprise)
			ctx := context.Background()
			for i := range 1000 {
				u := &gatehouse.User{Email: fmt.Sprintf("bench%d@example.com", i), FirstName: "Bench", PasswordHash: "x"}
				if err := db.CreateUser(ctx, u); err != nil {
					b.Fatal(err)
				}
				inv := &gatehouse.Invite{OrganizationID: e.orgID, TargetEmail: u.Email, Level: access.MemberLevel, CreatedBy: e.owner.id}
				if err := db.CreateInvite(ctx, inv); err != nil {
					b.Fatal(err)
				}
				if _, err := db.AcceptInvite(ctx, inv.ID, u.ID); err != nil {
					b.Fatal(err)
				}
			}
			flag := e.owner.create(0)
			for _, bc := range []struct{ name, path, body string }{
				{"object", flag + "/access_controls/preview", `{"access_level":"none"}`},
				{"kind", e.projPath("/resource_access_controls/preview"), `{"resource":"feature_flag","access_level":"viewer"}`},
			} {
				b.Run(bc.name, func(b *testing.B) {
					if r := e.owner.must("POST", bc.path, bc.body, 200); len(r.list("changes")) < 1000 {
						b.Fatalf("preview lists %d changes, want 1,000 or more", len(r.list("changes")))
					}
					for b.Loop() {
						req, _ := http.NewRequest("POST", e.srv.URL+bc.path, strings.NewReader(bc.body))
						req.Header.Set("Authorization", "Bearer "+e.owner.token)
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != 200 {
							b.Fatalf("preview: %v %v", resp, err)
						}
						resp.Body.Close()
					}
				})
			}
		})
	}
}
