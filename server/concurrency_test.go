package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
)

// The concurrency test runs 50 clients against one server on loopback for a bounded time
// (3 s; 20 s in CI or with GATEHOUSE_SOAK=1), each creating objects, editing them, changing who may
// do what with them, and poking at the others' objects; five of them are admins who also
// change role levels, kind rules and role memberships. Nothing but the expected refusals
// may come back (no 5xx, no database busy error), and at the end every object and every
// rule is exactly what the last acknowledged write of its only writer said.

const concurrentClients = 50

// ownField is the field only an object's creator writes; otherField is the one the other
// clients write, so that a write based on a stale read of the object would show.
func ownField(kind string) string {
	if kind == "session_recordings" {
		return "distinct_id"
	}
	return "name"
}

func otherField(kind string) (string, func(n int) any) {
	switch kind {
	case "feature_flags":
		return "active", func(n int) any { return n%2 == 0 }
	case "session_recordings":
		return "viewed", func(n int) any { return n%2 == 0 }
	}
	return "description", func(n int) any { return fmt.Sprintf("other %d", n) }
}

// stressClient is one of the 50 and what it was told.
type stressClient struct {
	i          int
	token      string
	uuid       string
	membership string // membership id, a v2 target
	admin      bool
	role       string // admins: the one role this admin changes

	objects  []string          // paths of the objects this client created
	own      map[string]string // object path → last acknowledged ownField value
	rules    map[string]string // object path + " " + target → last acknowledged level ("" = removed)
	roleLvls map[string]int    // admins: kind (v1) → last acknowledged level of their role
	kindRule map[string]string // admins: v2 kind → last acknowledged kind rule level for their role
	inRole   map[string]string // admins: user uuid → role membership id, for their role
	// sharedLvl is the last acknowledged level of the shared role for this admin's kind.
	sharedLvl int
}

type stressWorld struct {
	t       *testing.T
	base    string
	hc      *http.Client
	project string
	org     string
	clients []*stressClient
	roles   []string
	shared  string // a role every admin changes, each for a kind of its own

	mu      sync.Mutex
	all     []string // every object created, for the cross-edits
	count   atomic.Int64
	refused atomic.Int64
}

func (w *stressWorld) do(c *stressClient, method, path string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, w.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		w.t.Errorf("client %d: %s %s: %v", c.i, method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	w.count.Add(1)
	if resp.StatusCode >= 500 {
		w.t.Errorf("client %d: %s %s = %d %s", c.i, method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

// expect fails the test unless status is one of want.
func (w *stressWorld) expect(c *stressClient, what string, status int, want ...int) bool {
	if status == 0 {
		return false
	}
	if !slices.Contains(want, status) {
		w.t.Errorf("client %d: %s = %d, want one of %v", c.i, what, status, want)
		return false
	}
	if status == 403 || status == 404 {
		w.refused.Add(1)
	}
	return status < 300
}

// step does one random operation as c.
func (w *stressWorld) step(c *stressClient, rng *rand.Rand, n int) {
	k := kinds[rng.IntN(len(kinds))]
	switch op := rng.IntN(100); {
	case op < 20 || len(c.objects) == 0:
		// Create. Admins' role levels and kind rules may leave a member unable to
		// create a kind: an expected refusal.
		st, out := w.do(c, "POST", "/api/projects/"+w.project+"/"+k.path, k.body(c.i*1_000_000+n))
		if w.expect(c, "create", st, 201, 403) {
			path := "/api/projects/" + w.project + "/" + k.path + "/" + idText(out["id"])
			c.objects = append(c.objects, path)
			w.mu.Lock()
			w.all = append(w.all, path)
			w.mu.Unlock()
		}
	case op < 55:
		// Edit one of its own: the creator is always its manager. Half the edits go to
		// the client's first object, which the others' edits crowd too.
		path := c.objects[0]
		if rng.IntN(2) == 0 {
			path = c.objects[rng.IntN(len(c.objects))]
		}
		kind := strings.Split(path, "/")[4]
		v := fmt.Sprintf("c%d-v%d", c.i, n)
		st, out := w.do(c, "PATCH", path, map[string]any{ownField(kind): v})
		if w.expect(c, "edit own object", st, 200) {
			c.own[path] = v
			if out[ownField(kind)] != v {
				w.t.Errorf("client %d: PATCH %s answered %s = %v, want %q", c.i, path, ownField(kind), out[ownField(kind)], v)
			}
		}
	case op < 75:
		// Change who may do what with one of its own.
		path := c.objects[rng.IntN(len(c.objects))]
		var target string
		body := map[string]any{}
		if rng.IntN(2) == 0 {
			role := w.roles[rng.IntN(len(w.roles))]
			target, body["role"] = "role:"+role, role
		} else {
			other := w.clients[rng.IntN(len(w.clients))]
			target, body["organization_member"] = "member:"+other.membership, other.membership
		}
		level := []any{"none", "viewer", "editor", "manager", nil}[rng.IntN(5)]
		body["access_level"] = level
		st, _ := w.do(c, "PUT", path+"/access_controls", body)
		if w.expect(c, "re-permission own object", st, 200, 204) {
			s, _ := level.(string)
			c.rules[path+" "+target] = s
		}
	case op < 90:
		// Edit someone else's object, or read it: allowed, refused or hidden,
		// depending on the rules of the moment.
		// Mostly the first objects made, so that writers collide.
		w.mu.Lock()
		path := w.all[rng.IntN(len(w.all))]
		if rng.IntN(4) != 0 {
			path = w.all[rng.IntN(min(len(w.all), concurrentClients))]
		}
		w.mu.Unlock()
		kind := strings.Split(path, "/")[4]
		if rng.IntN(3) == 0 {
			st, _ := w.do(c, "GET", path, nil)
			w.expect(c, "read another's object", st, 200, 404)
			return
		}
		field, value := otherField(kind)
		st, _ := w.do(c, "PATCH", path, map[string]any{field: value(n)})
		w.expect(c, "edit another's object", st, 200, 403, 404)
	default:
		if !c.admin {
			st, _ := w.do(c, "GET", "/api/projects/"+w.project+"/"+k.path+"?limit=20", nil)
			w.expect(c, "list", st, 200)
			return
		}
		// Admins change their own role's levels, kind rules and members, and one
		// kind each of the role they all share.
		switch rng.IntN(4) {
		case 3:
			shared := kinds[c.i%len(kinds)]
			level := []int{21, 37}[rng.IntN(2)]
			st, _ := w.do(c, "PATCH", "/api/organizations/"+w.org+"/roles/"+w.shared, map[string]any{"resource_access_levels": map[string]any{shared.v1: level}})
			if w.expect(c, "change the shared role's level", st, 200) {
				c.sharedLvl = level
			}
		case 0:
			level := []int{21, 37}[rng.IntN(2)]
			st, _ := w.do(c, "PATCH", "/api/organizations/"+w.org+"/roles/"+c.role, map[string]any{"resource_access_levels": map[string]any{k.v1: level}})
			if w.expect(c, "change role level", st, 200) {
				c.roleLvls[k.v1] = level
			}
		case 1:
			singular := strings.TrimSuffix(k.path, "s")
			level := []any{"viewer", "editor", "manager", nil}[rng.IntN(4)]
			st, _ := w.do(c, "PUT", "/api/projects/"+w.project+"/resource_access_controls", map[string]any{"resource": singular, "access_level": level, "role": c.role})
			if w.expect(c, "change kind rule", st, 200, 204) {
				s, _ := level.(string)
				c.kindRule[singular] = s
			}
		case 2:
			other := w.clients[rng.IntN(len(w.clients))]
			if id, in := c.inRole[other.uuid]; in {
				st, _ := w.do(c, "DELETE", "/api/organizations/"+w.org+"/roles/"+c.role+"/role_memberships/"+id, nil)
				if w.expect(c, "remove role member", st, 204) {
					delete(c.inRole, other.uuid)
				}
			} else {
				st, out := w.do(c, "POST", "/api/organizations/"+w.org+"/roles/"+c.role+"/role_memberships", map[string]any{"user_uuid": other.uuid})
				if w.expect(c, "add role member", st, 201) {
					c.inRole[other.uuid] = out["id"].(string)
				}
			}
		}
	}
}

func TestConcurrentClients(t *testing.T) {
	duration := 3 * time.Second
	if os.Getenv("GATEHOUSE_SOAK") == "1" || os.Getenv("CI") != "" {
		duration = 20 * time.Second
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		store, _ := openRaw(t, dialect)
		logs := &lockedBuffer{}
		cfg := testConfig(store, license.Enterprise)
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		h := server.New(cfg)
		srv := httptest.NewServer(validated(t, h))
		t.Cleanup(srv.Close)
		e := newEnvFor(t, srv)

		w := &stressWorld{t: t, base: srv.URL, project: fmt.Sprint(e.proj), org: e.orgID,
			hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrentClients, MaxConnsPerHost: concurrentClients}, Timeout: 30 * time.Second}}
		t.Cleanup(w.hc.CloseIdleConnections)
		memberships := map[string]string{}
		for i := range concurrentClients {
			level := 1
			if i < 5 {
				level = 8
			}
			m := e.member(level)
			w.clients = append(w.clients, &stressClient{i: i, token: m.token, uuid: m.uuid, admin: level == 8,
				own: map[string]string{}, rules: map[string]string{}, roleLvls: map[string]int{}, kindRule: map[string]string{}, inRole: map[string]string{}})
		}
		for _, m := range e.owner.must("GET", e.orgPath("/members?limit=1000"), nil, 200).list("results") {
			mm := m.(map[string]any)
			memberships[mm["user"].(map[string]any)["uuid"].(string)] = mm["id"].(string)
		}
		for _, c := range w.clients {
			c.membership = memberships[c.uuid]
			if c.admin {
				c.role = e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": fmt.Sprintf("team %d", c.i)}, 201).str("id")
				w.roles = append(w.roles, c.role)
			}
		}

		w.shared = e.owner.must("POST", e.orgPath("/roles"), map[string]any{"name": "shared"}, 201).str("id")
		w.roles = append(w.roles, w.shared)

		deadline := time.Now().Add(duration)
		var wg sync.WaitGroup
		for _, c := range w.clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c.i), 6))
				for n := 0; time.Now().Before(deadline); n++ {
					w.step(c, rng, n)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "internal error") {
					t.Log(line)
				}
			}
			return
		}

		// Every object shows its creator's last acknowledged write, and carries
		// exactly the rules its creator was last told about.
		checked := 0
		for _, c := range w.clients {
			for path, v := range c.own {
				kind := strings.Split(path, "/")[4]
				if got := e.owner.must("GET", path, nil, 200).str(ownField(kind)); got != v {
					t.Errorf("%s: %s = %q, want %q (the last write client %d was told succeeded): a lost update", path, ownField(kind), got, v, c.i)
				}
				checked++
			}
			byObject := map[string]map[string]string{}
			for key, level := range c.rules {
				path, target, _ := strings.Cut(key, " ")
				if byObject[path] == nil {
					byObject[path] = map[string]string{}
				}
				byObject[path][target] = level
			}
			for path, want := range byObject {
				got := map[string]string{}
				for _, ac := range e.owner.must("GET", path+"/access_controls", nil, 200).list("access_controls") {
					a := ac.(map[string]any)
					switch {
					case a["role"] != nil:
						got["role:"+a["role"].(string)] = a["access_level"].(string)
					case a["organization_member"] != nil:
						got["member:"+a["organization_member"].(string)] = a["access_level"].(string)
					}
				}
				for target, level := range want {
					if got[target] != level {
						t.Errorf("%s: rule for %s = %q, want %q (client %d's last acknowledged change)", path, target, got[target], level, c.i)
					}
				}
				checked++
			}
			if !c.admin {
				continue
			}
			if c.sharedLvl != 0 {
				shared := e.owner.must("GET", e.orgPath("/roles/"+w.shared), nil, 200)
				if got := int(shared.num("resource_access_levels." + kinds[c.i%len(kinds)].v1)); got != c.sharedLvl {
					t.Errorf("shared role: level for %s = %d, want %d (admin %d's last acknowledged change): a lost update", kinds[c.i%len(kinds)].v1, got, c.sharedLvl, c.i)
				}
			}
			role := e.owner.must("GET", e.orgPath("/roles/"+c.role), nil, 200)
			for kind, level := range c.roleLvls {
				if got := int(role.num("resource_access_levels." + kind)); got != level {
					t.Errorf("role %d: level for %s = %d, want %d", c.i, kind, got, level)
				}
			}
			var inRole []string
			for _, m := range role.list("members") {
				inRole = append(inRole, m.(map[string]any)["user"].(map[string]any)["uuid"].(string))
			}
			for uuid := range c.inRole {
				if !slices.Contains(inRole, uuid) {
					t.Errorf("role %d: %s missing, though its addition was acknowledged", c.i, uuid)
				}
			}
			if len(inRole) != len(c.inRole) {
				t.Errorf("role %d has %d members, want %d", c.i, len(inRole), len(c.inRole))
			}
			kindRules := map[string]string{}
			for _, ac := range e.owner.must("GET", e.projPath("/resource_access_controls"), nil, 200).list("access_controls") {
				a := ac.(map[string]any)
				// The role's v1 levels are listed too; only its v2 kind rules are written here.
				if a["role"] == c.role && !strings.HasPrefix(a["id"].(string), "role_level:") {
					kindRules[a["resource"].(string)] = a["access_level"].(string)
				}
			}
			for kind, level := range c.kindRule {
				if kindRules[kind] != level {
					t.Errorf("role %d: kind rule for %s = %q, want %q", c.i, kind, kindRules[kind], level)
				}
			}
			checked++
		}
		for _, bad := range []string{"SQLITE_BUSY", "database is locked", "deadlock", "internal error"} {
			if strings.Contains(logs.String(), bad) {
				t.Errorf("server log mentions %q:\n%.2000s", bad, logs.String())
			}
		}
		t.Logf("%s: %d requests in %v by %d clients (%.0f/s), %d expected refusals, %d objects and rule sets checked",
			dialect, w.count.Load(), duration, concurrentClients, float64(w.count.Load())/duration.Seconds(), w.refused.Load(), checked)
	})
}
