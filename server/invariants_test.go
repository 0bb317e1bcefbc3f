package server_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// The invariants of docs/access-model.md that racing requests must not break, each raced over
// HTTP on both engines for several rounds and checked after every round.

const raceRounds = 20

// race runs fs at once and waits for them.
func race(fs ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fs {
		wg.Go(func() {
			<-start
			f()
		})
	}
	close(start)
	wg.Wait()
}

// TestInviteLevels is the admin-to-owner attack through invites: an admin must not see or
// delete an invite above their level, and an invite is honoured only while its inviter
// still holds its level; a refused signup leaves no account behind.
func TestInviteLevels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		admin := e.member(8)
		ownerInvite := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "heir@example.com", "level": 15}, 201).str("id")
		memberInvite := e.owner.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "plain@example.com", "level": 1}, 201).str("id")

		// The admin sees the member invite, not the owner's: neither its id nor its count.
		list := admin.must("GET", e.orgPath("/invites"), nil, 200)
		if n := list.num("count"); n != 1 {
			t.Errorf("admin's invite count = %v, want 1 (the owner-level invite left out): %s", n, list.raw)
		}
		for _, inv := range list.list("results") {
			if id := inv.(map[string]any)["id"]; id == ownerInvite {
				t.Errorf("admin's invite list shows the owner-level invite %s: its link makes an owner", ownerInvite)
			}
		}
		if list.str("results.0.id") != memberInvite {
			t.Errorf("admin's invite list = %s, want the member invite %s", list.raw, memberInvite)
		}
		if res := admin.do("DELETE", e.orgPath("/invites/"+ownerInvite), nil); res.status != 404 || res.str("code") != "not_found" {
			t.Errorf("admin's DELETE of the owner-level invite = %d %s, want 404 not_found", res.status, res.raw)
		}
		if n := e.owner.must("GET", e.orgPath("/invites"), nil, 200).num("count"); n != 2 {
			t.Errorf("owner's invite count after the admin's refused delete = %v, want 2", n)
		}

		// An admin's invite at admin level stops being honoured when the admin is demoted.
		adminInvite := admin.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "crony@example.com", "level": 8}, 201).str("id")
		keptInvite := admin.must("POST", e.orgPath("/invites"), map[string]any{"target_email": "friend@example.com", "level": 1}, 201).str("id")
		admin.do("POST", e.orgPath("/invites"), map[string]any{"target_email": "x@example.com", "level": 15}).
			wantError(400, "validation_error", "invalid", "level")
		e.owner.must("PATCH", e.orgPath("/members/"+admin.uuid), map[string]any{"level": 1}, 200)
		members := e.owner.must("GET", e.orgPath("/members"), nil, 200).num("count")

		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar}
		signup := map[string]any{"first_name": "Crony", "password": "correct horse"}
		if res := rawDo(t, hc, e.srv.URL, "POST", "/api/signup/"+adminInvite, signup, nil); res.status != 404 {
			t.Errorf("signup through a demoted admin's admin invite = %d %s, want 404", res.status, res.raw)
		}
		if res := rawDo(t, hc, e.srv.URL, "POST", "/api/login", map[string]any{"email": "crony@example.com", "password": "correct horse"}, nil); res.status != 401 {
			t.Errorf("login as the refused invitee = %d %s, want 401: the refused signup left an account", res.status, res.raw)
		}
		outsider := e.outsider()
		if res := outsider.do("POST", "/api/signup/"+adminInvite, nil); res.status != 404 {
			t.Errorf("a signed-in user accepting a demoted admin's admin invite = %d %s, want 404", res.status, res.raw)
		}
		if n := e.owner.must("GET", e.orgPath("/members"), nil, 200).num("count"); n != members {
			t.Errorf("members after refused invites = %v, want %v", n, members)
		}
		// Within the demoted admin's level, their invite still stands.
		if res := rawDo(t, hc, e.srv.URL, "POST", "/api/signup/"+keptInvite, map[string]any{"first_name": "Friend", "password": "correct horse"}, nil); res.status != 201 {
			t.Errorf("signup through a member invite of a member = %d %s, want 201", res.status, res.raw)
		}
	})
}

// outsider signs up a user of another organization (open signup is off, so through an
// invite to an organization of their own making is not possible: a second server would be;
// an invite to a fresh organization of the owner's does the same).
func (e *env) outsider() *client {
	e.t.Helper()
	org := e.owner.must("POST", "/api/organizations", map[string]any{"name": fmt.Sprintf("Elsewhere %d", e.seq.Add(1))}, 201).str("id")
	email := fmt.Sprintf("outsider%d@example.com", e.seq.Add(1))
	inv := e.owner.must("POST", "/api/organizations/"+org+"/invites", map[string]any{"target_email": email}, 201).str("id")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if res := rawDo(e.t, hc, e.srv.URL, "POST", "/api/signup/"+inv, map[string]any{"first_name": "Out", "password": "correct horse"}, nil); res.status != 201 {
		e.t.Fatalf("outsider signup = %d %s", res.status, res.raw)
	}
	return e.keyClient(hc, email)
}

// TestLastOwnerRace has two owners demote each other, or both leave, at the same moment:
// one of them must stay an owner.
func TestLastOwnerRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		second := e.member(1)
		for round := range raceRounds {
			org := e.owner.must("POST", "/api/organizations", map[string]any{"name": fmt.Sprintf("Race %d", round)}, 201).str("id")
			inv := e.owner.must("POST", "/api/organizations/"+org+"/invites", map[string]any{"target_email": second.email, "level": 15}, 201).str("id")
			second.must("POST", "/api/signup/"+inv, nil, 200)
			owners := []*client{e.owner, second}
			leave := round%2 == 1
			status := make([]int, 2)
			race(func() {
				if leave {
					status[0] = owners[0].do("DELETE", "/api/organizations/"+org+"/members/"+owners[0].uuid, nil).status
				} else {
					status[0] = owners[0].do("PATCH", "/api/organizations/"+org+"/members/"+owners[1].uuid, map[string]any{"level": 8}).status
				}
			}, func() {
				if leave {
					status[1] = owners[1].do("DELETE", "/api/organizations/"+org+"/members/"+owners[1].uuid, nil).status
				} else {
					status[1] = owners[1].do("PATCH", "/api/organizations/"+org+"/members/"+owners[0].uuid, map[string]any{"level": 8}).status
				}
			})
			// Whoever is still an owner reads the members.
			var left []any
			for _, o := range owners {
				if res := o.do("GET", "/api/organizations/"+org+"/members", nil); res.status == 200 {
					left = res.list("results")
					break
				}
			}
			n := 0
			for _, m := range left {
				if m.(map[string]any)["level"].(float64) == 15 {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("round %d (leave %v): answers %v, %d owners left, want 1", round, leave, status, n)
			}
		}
	})
}

// TestRemovedMemberCannotWrite races a member's rule write (they manage the object through
// a member rule) with their removal from the organization: when the removal commits first,
// the write must not commit after it.
func TestRemovedMemberCannotWrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		role := e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Product"}, 201).str("id")
		won, refused := 0, 0
		for round := range raceRounds {
			m := e.member(1)
			flag := e.projPath(fmt.Sprintf("/feature_flags/%d", int(e.owner.must("POST", e.projPath("/feature_flags"),
				map[string]any{"key": fmt.Sprintf("race-%d", round)}, 201).num("id"))))
			e.owner.must("PUT", flag+"/access_controls", map[string]any{"access_level": "manager", "organization_member": e.membershipID(m)}, 200)
			var write, removal *result
			race(func() {
				write = m.do("PUT", flag+"/access_controls", map[string]any{"access_level": "editor", "role": role})
			}, func() {
				removal = e.owner.do("DELETE", e.orgPath("/members/"+m.uuid), nil)
			})
			if removal.status != 204 {
				t.Fatalf("round %d: removal = %d %s", round, removal.status, removal.raw)
			}
			switch write.status {
			case 200:
				won++
			case 403, 404:
				refused++
			default:
				t.Fatalf("round %d: the member's write = %d %s, want 200, 403 or 404", round, write.status, write.raw)
			}
			// The log is in commit order (both take the organization's lock): nothing the
			// member did may come after their removal.
			log := e.owner.must("GET", e.orgPath("/activity_log?limit=10"), nil, 200).list("results")
			for _, a := range log {
				a := a.(map[string]any)
				if a["scope"] == "Membership" && a["activity"] == "deleted" {
					break
				}
				if u, _ := a["user"].(map[string]any); u != nil && u["uuid"] == m.uuid {
					t.Fatalf("round %d: %s %s by the removed member was committed after their removal (write answered %d)", round, a["scope"], a["activity"], write.status)
				}
			}
			rules := e.owner.must("GET", flag+"/access_controls", nil, 200).list("access_controls")
			for _, ac := range rules {
				if ac.(map[string]any)["role"] == role && write.status != 200 {
					t.Fatalf("round %d: the refused write's rule exists: %v", round, ac)
				}
			}
		}
		t.Logf("%s: the member's write came first %d times, was refused %d times", dialect, won, refused)
	})
}

// TestAdminsWriteAtOnce has two admins change different roles at the same moment, and a
// member create objects meanwhile: every permission change moves the rules revision, and
// none of these writes may be refused for the other's (they are decided again, alike).
func TestAdminsWriteAtOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		admins := []*client{e.member(8), e.member(8)}
		member := e.member(1)
		roles := []string{
			e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "One"}, 201).str("id"),
			e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "Two"}, 201).str("id"),
		}
		for round := range raceRounds {
			level := []int{21, 37}[round%2]
			status := make([]int, 3)
			race(func() {
				status[0] = admins[0].do("PATCH", e.orgPath("/roles/"+roles[0]), map[string]any{"resource_access_levels": map[string]any{"cohorts": level}}).status
			}, func() {
				status[1] = admins[1].do("PATCH", e.orgPath("/roles/"+roles[1]), map[string]any{"resource_access_levels": map[string]any{"insights": level}}).status
			}, func() {
				status[2] = member.do("POST", e.projPath("/feature_flags"), map[string]any{"key": fmt.Sprintf("f%d", round)}).status
			})
			if status[0] != 200 || status[1] != 200 || status[2] != 201 {
				t.Fatalf("round %d: answers %v, want [200 200 201]", round, status)
			}
			for i, kind := range []string{"cohorts", "insights"} {
				if got := int(e.owner.must("GET", e.orgPath("/roles/"+roles[i]), nil, 200).num("resource_access_levels." + kind)); got != level {
					t.Fatalf("round %d: role %d's level for %s = %d, want %d", round, i, kind, got, level)
				}
			}
		}
	})
}

// TestFirstUserRace signs up several users at once on an instance closed to signup: only
// the first may get in.
func TestFirstUserRace(t *testing.T) {
	const signups = 8
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		for round := range rounds {
			srv := newServer(t, sqltest.Open(t, dialect), license.Enterprise)
			status := make([]int, signups)
			fs := make([]func(), signups)
			for i := range fs {
				fs[i] = func() {
					body := map[string]any{"email": fmt.Sprintf("first%d@example.com", i), "password": "correct horse", "first_name": "F"}
					status[i] = rawDo(t, &http.Client{}, srv.URL, "POST", "/api/signup", body, nil).status
				}
			}
			race(fs...)
			created := 0
			for _, st := range status {
				switch st {
				case 201:
					created++
				case 403:
				default:
					t.Fatalf("round %d: signup answers %v, want one 201 and 403s", round, status)
				}
			}
			if created != 1 {
				t.Fatalf("round %d: %d of %d simultaneous signups got in (answers %v), want 1", round, created, signups, status)
			}
		}
	})
}

// TestProjectCreateRacesDemotion races an admin's POST /api/projects (the route that
// names no organization: the caller's current one) with their demotion: the request is
// decided again like every other write, so it is created (before the demotion) or
// refused (403), never answered with the store's conflict, and a refused one leaves no
// project.
func TestProjectCreateRacesDemotion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, license.Enterprise)
		created, refused := 0, 0
		for round := range raceRounds {
			a := e.member(8)
			name := fmt.Sprintf("Raced %d", round)
			var create, demote *result
			race(func() {
				create = a.do("POST", "/api/projects", map[string]any{"name": name})
			}, func() {
				demote = e.owner.do("PATCH", e.orgPath("/members/"+a.uuid), map[string]any{"level": 1})
			})
			if demote.status != 200 {
				t.Fatalf("round %d: demotion = %d %s", round, demote.status, demote.raw)
			}
			exists := false
			for _, p := range e.owner.must("GET", e.orgPath("/projects?limit=1000"), nil, 200).list("results") {
				exists = exists || p.(map[string]any)["name"] == name
			}
			switch create.status {
			case 201:
				created++
			case 403:
				refused++
				if exists {
					t.Fatalf("round %d: the refused request's project exists", round)
				}
			default:
				t.Fatalf("round %d: POST /api/projects = %d %s, want 201 or 403", round, create.status, create.raw)
			}
		}
		t.Logf("%s: created %d times, refused %d times", dialect, created, refused)
	})
}
