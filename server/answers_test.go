package server_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestSignupAnswersAreMe: the owner's signup and an invite signup both answer
// with the body GET /api/users/@me gives the new user, organizations included,
// so a client reads every signup alike.
func TestSignupAnswersAreMe(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		srv := newServer(t, sqltest.Open(t, dialect), license.Enterprise)
		jar, _ := cookiejar.New(nil)
		owner := &http.Client{Jar: jar}
		signup := rawDo(t, owner, srv.URL, "POST", "/api/signup", map[string]any{"email": "olive@example.com", "password": "correct horse", "first_name": "Olive", "organization_name": "Acme"}, nil)
		if signup.status != http.StatusCreated {
			t.Fatalf("signup = %d %s, want 201", signup.status, signup.raw)
		}
		me := rawDo(t, owner, srv.URL, "GET", "/api/users/@me", nil, nil)
		if diff := cmp.Diff(me.body, signup.body); diff != "" {
			t.Errorf("POST /api/signup answer differs from GET /api/users/@me (-get +post):\n%s", diff)
		}
		if n := len(signup.list("organizations")); n != 1 {
			t.Errorf("signup organizations = %d entries, want 1: %s", n, signup.raw)
		}

		orgID := signup.str("organization.id")
		inv := rawDo(t, owner, srv.URL, "POST", "/api/organizations/"+orgID+"/invites", map[string]any{"target_email": "pat@example.com"}, nil)
		if inv.status != http.StatusCreated {
			t.Fatalf("invite = %d %s", inv.status, inv.raw)
		}
		jar, _ = cookiejar.New(nil)
		pat := &http.Client{Jar: jar}
		accept := rawDo(t, pat, srv.URL, "POST", "/api/signup/"+inv.str("id"), map[string]any{"first_name": "Pat", "password": "correct horse"}, nil)
		if accept.status != http.StatusCreated {
			t.Fatalf("invite signup = %d %s, want 201", accept.status, accept.raw)
		}
		patMe := rawDo(t, pat, srv.URL, "GET", "/api/users/@me", nil, nil)
		if diff := cmp.Diff(patMe.body, accept.body); diff != "" {
			t.Errorf("POST /api/signup/{invite} answer differs from GET /api/users/@me (-get +post):\n%s", diff)
		}
	})
}

// TestRoleAccessAnswerIsItsGet: the answer to a role access POST is what a GET
// of the new grant shows; in particular the embedded role already lists the
// flag it was just granted among its associated_flags, as GET …/roles/{id} does.
func TestRoleAccessAnswerIsItsGet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "product"}, 201)
		pat := e.member(1)
		e.owner.must("POST", e.orgPath("/roles/"+role.str("id")+"/role_memberships"), map[string]any{"user_uuid": pat.uuid}, 201)
		for _, k := range []string{"feature_flags", "dashboards"} {
			body := map[string]any{"name": "secret"}
			if k == "feature_flags" {
				body = map[string]any{"key": "top-secret"}
			}
			obj := e.projPath(fmt.Sprintf("/%s/%d", k, int64(e.owner.must("POST", e.projPath("/"+k), body, 201).num("id"))))
			created := e.owner.must("POST", obj+"/role_access", map[string]any{"role_id": role.str("id")}, 201)
			got := e.owner.must("GET", obj+"/role_access/"+created.str("id"), nil, 200)
			if diff := cmp.Diff(got.body, created.body); diff != "" {
				t.Errorf("%s: POST role_access answer differs from its GET (-get +post):\n%s", k, diff)
			}
			listed := e.owner.must("GET", obj+"/role_access", nil, 200).list("results")
			if len(listed) != 1 || !cmp.Equal(listed[0], created.body) {
				t.Errorf("%s: role_access list = %v, want just the POST answer %s", k, listed, created.raw)
			}
			roleGet := e.owner.must("GET", e.orgPath("/roles/"+role.str("id")), nil, 200)
			if diff := cmp.Diff(roleGet.body, created.get("role")); diff != "" {
				t.Errorf("%s: role embedded in the POST answer differs from GET …/roles/{id} (-get +post):\n%s", k, diff)
			}
		}
		if flags := e.owner.must("GET", e.orgPath("/roles/"+role.str("id")), nil, 200).list("associated_flags"); len(flags) != 1 {
			t.Errorf("associated_flags = %v, want the one flag (dashboards are not flags)", flags)
		}
	})
}
