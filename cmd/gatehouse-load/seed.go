package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
)

// workspace is what the seed made and the clients use; --workspace keeps it in a file
// for a run against a server started by hand.
type workspace struct {
	Project int64    `json:"project"`
	Clients []client `json:"clients"` // one per load client: a plain member in some roles
	Flags   []int64  `json:"flags"`   // every flag's id
	// Admin is an administrator's key, for the checks an application makes about its
	// users; Others are the uuids of members it asks about.
	Admin  string   `json:"admin_api_key"`
	Others []string `json:"others"`
	// Targets are membership ids of plain members, one per client, whose object rules
	// the rules operation changes with the administrator's key.
	Targets []string `json:"targets"`
}

// client is one load client's identity and what it may do.
type client struct {
	User     int64   `json:"user"`
	APIKey   string  `json:"api_key"`  // Bearer phx_…
	Editable []int64 `json:"editable"` // flags this user may edit, for updates that are allowed
}

func writeWorkspace(path string, ws *workspace) error {
	data, err := json.Marshal(ws)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600) // it holds API keys
}

func readWorkspace(path string) (*workspace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ws := &workspace{}
	if err := json.Unmarshal(data, ws); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ws.Clients) == 0 || len(ws.Flags) == 0 || ws.Admin == "" || len(ws.Others) == 0 || len(ws.Targets) < len(ws.Clients) {
		return nil, fmt.Errorf("%s: not a workspace written by --seed-only", path)
	}
	return ws, nil
}

// seed creates one organization shaped like a busy PostHog workspace: an owner, members
// (every tenth an admin) in 1–3 roles each, roles viewer or editor per kind, "view only"
// as the organization default for feature flags, flags made by members, and per-flag
// grants to roles. Roles, the default rule and the organization go through the store's own
// writes, as the API's would (activity log and revision included); members, role members,
// flags and grants through its bulk imports, so that an organization of 100,000 members
// or 100,000 rules seeds in seconds.
func seed(ctx context.Context, st *sqlstore.DB, cfg *config) (*workspace, error) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	suffix := randomHex(4) // so that --keep-database can seed the same database twice
	owner := &gatehouse.User{Email: fmt.Sprintf("load-%s-0@example.com", suffix), FirstName: "Load 0"}
	if err := st.CreateUser(ctx, owner); err != nil {
		return nil, err
	}
	org := &gatehouse.Organization{Name: "Load " + suffix}
	project := &gatehouse.Project{Name: "Load"}
	if err := st.CreateOrganization(ctx, org, owner.ID, project); err != nil {
		return nil, err
	}
	var plain, admins []gatehouse.User
	for i := 1; i < cfg.members; i++ {
		u := gatehouse.User{Email: fmt.Sprintf("load-%s-%d@example.com", suffix, i), FirstName: "Load " + strconv.Itoa(i)}
		if i%10 == 0 {
			admins = append(admins, u)
		} else {
			plain = append(plain, u)
		}
	}
	if err := st.ImportMembers(ctx, org.ID, plain, access.MemberLevel); err != nil {
		return nil, err
	}
	if err := st.ImportMembers(ctx, org.ID, admins, access.AdminLevel); err != nil {
		return nil, err
	}
	users := []*gatehouse.User{owner}
	for i := range plain {
		users = append(users, &plain[i])
	}
	for i := range admins {
		users = append(users, &admins[i])
	}
	var roles []*gatehouse.Role
	for i := range cfg.roles {
		r := &gatehouse.Role{OrganizationID: org.ID, Name: "Role " + strconv.Itoa(i), CreatedBy: owner.ID}
		for k := range r.Levels {
			r.Levels[k] = access.Viewer + access.Level(rng.IntN(2))
		}
		if err := st.CreateRole(ctx, r, owner.ID); err != nil {
			return nil, err
		}
		roles = append(roles, r)
	}
	var ms []gatehouse.RoleMembership
	for _, u := range users[1:] {
		for _, ri := range rng.Perm(len(roles))[:1+rng.IntN(min(3, len(roles)))] {
			ms = append(ms, gatehouse.RoleMembership{RoleID: roles[ri].ID, User: gatehouse.User{ID: u.ID}})
		}
	}
	if err := st.ImportRoleMembers(ctx, org.ID, ms); err != nil {
		return nil, err
	}
	def := &gatehouse.Rule{OrganizationID: org.ID, CreatedBy: owner.ID, Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}}
	if err := st.CreateRule(ctx, def, owner.ID); err != nil {
		return nil, err
	}

	flags := make([]gatehouse.Resource, cfg.flags)
	for i := range flags {
		data, _ := json.Marshal(map[string]any{
			"name":    fmt.Sprintf("Flag %d", i),
			"filters": map[string]any{"groups": []any{map[string]any{"properties": []any{}, "rollout_percentage": 50}}},
			"active":  true, "ensure_experience_continuity": false,
		})
		flags[i] = gatehouse.Resource{
			Kind: access.FeatureFlags, ProjectID: project.ID, Key: "flag-" + strconv.Itoa(i),
			CreatedBy: users[rng.IntN(len(users))].ID, Data: data,
		}
	}
	if err := st.ImportResources(ctx, flags); err != nil {
		return nil, err
	}
	ws := &workspace{Project: project.ID}
	for _, f := range flags {
		ws.Flags = append(ws.Flags, f.ID)
	}
	seen := map[[2]string]bool{}
	grants := make([]gatehouse.Rule, 0, cfg.grants)
	for len(grants) < cfg.grants {
		role, flag := roles[rng.IntN(len(roles))].ID, ws.Flags[rng.IntN(len(ws.Flags))]
		if seen[[2]string{role, strconv.FormatInt(flag, 10)}] {
			continue
		}
		seen[[2]string{role, strconv.FormatInt(flag, 10)}] = true
		grants = append(grants, gatehouse.Rule{OrganizationID: org.ID, CreatedBy: owner.ID, Rule: access.Rule{
			Scope: access.ScopeObject, Project: project.ID, Kind: access.FeatureFlags, Object: flag, Role: role, Level: access.Editor}})
	}
	if err := st.ImportRules(ctx, org.ID, grants); err != nil {
		return nil, err
	}
	// As after any bulk load: the planner must know how large the tables now are.
	if err := st.Analyze(ctx); err != nil {
		return nil, err
	}

	// The clients are plain members, so that every request is decided by the rules, not
	// waved through as an admin's; what each may edit comes from the decision itself.
	facts, _, err := st.AccessFacts(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	facts.Enforced = true
	snap := access.Compile(facts)
	heads, err := st.ResourceHeads(ctx, project.ID, access.FeatureFlags)
	if err != nil {
		return nil, err
	}
	editable := make([]uint64, (len(heads)+63)/64)
	for _, u := range users[1:] {
		if len(ws.Clients) == cfg.clients {
			break
		}
		if snap.MembershipLevel(u.ID) != access.MemberLevel {
			continue
		}
		c := client{User: u.ID, APIKey: "phx_" + randomHex(24)}
		snap.Filter(u.ID, heads, access.Editor, editable)
		for i, h := range heads {
			if editable[i/64]&(1<<(i%64)) != 0 {
				c.Editable = append(c.Editable, h.ID)
			}
		}
		if len(c.Editable) == 0 {
			continue
		}
		if err := createKey(ctx, st, u.ID, c.APIKey); err != nil {
			return nil, err
		}
		ws.Clients = append(ws.Clients, c)
	}
	if len(ws.Clients) < cfg.clients {
		return nil, fmt.Errorf("only %d plain members may edit a flag; want %d clients", len(ws.Clients), cfg.clients)
	}
	// The application's key is the owner's; it asks about members spread over the
	// whole organization, not only the first ones created.
	ws.Admin = "phx_" + randomHex(24)
	if err := createKey(ctx, st, owner.ID, ws.Admin); err != nil {
		return nil, err
	}
	for _, i := range rng.Perm(len(users) - 1)[:min(1000, len(users)-1)] {
		ws.Others = append(ws.Others, users[1+i].UUID)
	}
	members, err := st.Members(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	membership := make(map[int64]string, len(members))
	for _, m := range members {
		membership[m.User.ID] = m.ID
	}
	for _, c := range ws.Clients { // plain members: their rules decide for them
		ws.Targets = append(ws.Targets, membership[c.User])
	}
	return ws, nil
}

func createKey(ctx context.Context, st gatehouse.Store, user int64, value string) error {
	sum := sha256.Sum256([]byte(value))
	return st.CreateAPIKey(ctx, &gatehouse.APIKey{UserID: user, Label: "load", ValueHash: hex.EncodeToString(sum[:]), MaskValue: "phx_…" + value[len(value)-4:]})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
