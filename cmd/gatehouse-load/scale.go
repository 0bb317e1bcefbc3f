package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
)

// The scale run: for each size, an organization of that many objects, a tenth as many
// members and a fifth as many rules is written in bulk, then a fresh `gatehouse serve`
// starts on it and the run measures what a restart costs its users: the time until
// /_ready answers, until the first decision and the first list page are answered (the
// first request of the organization compiles its rules), and the memory the process then
// holds.

// scaleShape derives the organization of a given size from its number of objects.
type scaleShape struct {
	objects, members, rules, roles, projects int
}

func shapeOf(objects int) scaleShape {
	return scaleShape{objects: objects, members: max(20, objects/10), rules: objects / 5, roles: 50, projects: 10}
}

// scaleResult is one size on one engine.
type scaleResult struct {
	engine          string
	shape           scaleShape
	seeded          time.Duration
	ready           time.Duration // from the process's start
	firstDecision   time.Duration // from the process's start: ready, then the first check
	firstList       time.Duration // from the process's start: after the first check, the first page
	rssMiB, peakMiB float64
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1000 {
			return nil, fmt.Errorf("--scale: %q is not a number of objects of at least 1000", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// runScale measures every size on SQLite, and on PostgreSQL too when cfg.databaseURL
// names a server, and prints a table; with cfg.chart it draws the figures into a PNG.
func runScale(ctx context.Context, cfg *config, stdout io.Writer) error {
	sizes, err := parseSizes(cfg.scale)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := serverBinary(ctx, cfg, dir, stdout)
	if err != nil {
		return err
	}
	engines := []string{""} // a temporary SQLite file
	if strings.HasPrefix(cfg.databaseURL, "postgres") {
		engines = append(engines, cfg.databaseURL)
	}
	var results []scaleResult
	for _, engine := range engines {
		for _, n := range sizes {
			c := *cfg
			c.databaseURL, c.keepDB = engine, false
			r, err := scaleOne(ctx, &c, bin, shapeOf(n), stdout)
			if err != nil {
				return fmt.Errorf("%d objects: %w", n, err)
			}
			results = append(results, r)
		}
	}
	reportScale(stdout, results)
	if cfg.chart != "" {
		if err := drawScaleChart(cfg.chart, results); err != nil {
			return fmt.Errorf("--chart: %w", err)
		}
		fmt.Fprintf(stdout, "chart: %s\n", cfg.chart)
	}
	return nil
}

func scaleOne(ctx context.Context, cfg *config, bin string, shape scaleShape, stdout io.Writer) (scaleResult, error) {
	dbURL, cleanup, err := prepareDatabase(ctx, cfg)
	if err != nil {
		return scaleResult{}, err
	}
	defer cleanup()
	res := scaleResult{shape: shape}
	db, err := sqlstore.Open(ctx, dbURL, time.Now)
	if err != nil {
		return res, err
	}
	res.engine = db.Dialect()
	start := time.Now()
	target, err := seedScale(ctx, db, shape)
	db.Close()
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	res.seeded = time.Since(start)
	fmt.Fprintf(stdout, "%s: seeded %d objects, %d members, %d rules in %v\n", res.engine, shape.objects, shape.members, shape.rules, res.seeded.Round(time.Millisecond))

	start = time.Now()
	srv, err := startServer(ctx, bin, dbURL, "")
	if err != nil {
		return res, err
	}
	defer srv.stop()
	res.ready = time.Since(start) // startServer returns once /_ready answered 200
	client := &http.Client{Timeout: 5 * time.Minute}
	ask := func(method, path string, body []byte) error {
		return send(ctx, client, method, srv.base+path, target.key, body, nil)
	}
	p := "/api/projects/" + strconv.FormatInt(target.project, 10)
	check := fmt.Appendf(nil, `{"checks":[{"kind":"feature_flags","id":%d,"action":"edit"}]}`, target.flag)
	if err := ask(http.MethodPost, p+"/access/check", check); err != nil {
		return res, err
	}
	res.firstDecision = time.Since(start)
	if err := ask(http.MethodGet, p+"/feature_flags?limit=100", nil); err != nil {
		return res, err
	}
	res.firstList = time.Since(start)
	res.rssMiB, res.peakMiB, err = processMemory(srv.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	return res, nil
}

// scaleTarget is who asks after the restart, and about what.
type scaleTarget struct {
	key     string
	project int64
	flag    int64
}

// seedScale writes the organization of shape in bulk through the store's import methods.
func seedScale(ctx context.Context, db *sqlstore.DB, shape scaleShape) (*scaleTarget, error) {
	rng := mrand.New(mrand.NewPCG(7, 7))
	suffix := randomHex(4)
	owner := &gatehouse.User{Email: "owner-" + suffix + "@example.com", FirstName: "Owner"}
	if err := db.CreateUser(ctx, owner); err != nil {
		return nil, err
	}
	org := &gatehouse.Organization{Name: "Scale " + suffix}
	first := &gatehouse.Project{Name: "Scale 0"}
	if err := db.CreateOrganization(ctx, org, owner.ID, first); err != nil {
		return nil, err
	}
	projects := []int64{first.ID}
	for i := 1; i < shape.projects; i++ {
		p := &gatehouse.Project{OrganizationID: org.ID, Name: "Scale " + strconv.Itoa(i)}
		if err := db.CreateProject(ctx, p); err != nil {
			return nil, err
		}
		projects = append(projects, p.ID)
	}
	users := make([]gatehouse.User, shape.members-1)
	for i := range users {
		users[i] = gatehouse.User{Email: fmt.Sprintf("m%d-%s@example.com", i, suffix), FirstName: "Member " + strconv.Itoa(i)}
	}
	if err := db.ImportMembers(ctx, org.ID, users, access.MemberLevel); err != nil {
		return nil, err
	}
	var roles []string
	for i := range shape.roles {
		r := &gatehouse.Role{OrganizationID: org.ID, Name: "Team " + strconv.Itoa(i), CreatedBy: owner.ID}
		for k := range r.Levels {
			r.Levels[k] = access.Viewer + access.Level(rng.IntN(2))
		}
		if err := db.CreateRole(ctx, r, owner.ID); err != nil {
			return nil, err
		}
		roles = append(roles, r.ID)
	}
	var ms []gatehouse.RoleMembership
	for _, u := range users {
		for _, ri := range rng.Perm(len(roles))[:1+rng.IntN(2)] {
			ms = append(ms, gatehouse.RoleMembership{RoleID: roles[ri], User: gatehouse.User{ID: u.ID}})
		}
	}
	if err := db.ImportRoleMembers(ctx, org.ID, ms); err != nil {
		return nil, err
	}
	kinds := []access.Kind{access.FeatureFlags, access.Insights, access.Dashboards, access.Cohorts, access.Experiments, access.Actions}
	objs := make([]gatehouse.Resource, shape.objects)
	for i := range objs {
		objs[i] = gatehouse.Resource{Kind: kinds[i%len(kinds)], ProjectID: projects[rng.IntN(len(projects))],
			CreatedBy: users[rng.IntN(len(users))].ID, Data: []byte(`{"name":"Object ` + strconv.Itoa(i) + `"}`)}
		if objs[i].Kind == access.FeatureFlags {
			objs[i].Key = "flag-" + strconv.Itoa(i)
		}
	}
	if err := db.ImportResources(ctx, objs); err != nil {
		return nil, err
	}
	rules := []gatehouse.Rule{
		{Rule: access.Rule{Scope: access.ScopeKind, Kind: access.FeatureFlags, Level: access.Viewer}},
		{Rule: access.Rule{Scope: access.ScopeProject, Project: projects[1], ProjectLevel: access.ProjectNone}},
		{Rule: access.Rule{Scope: access.ScopeProject, Project: projects[1], Role: roles[0], ProjectLevel: access.ProjectMember}},
	}
	seen := map[[2]string]bool{}
	for len(rules) < shape.rules {
		o := &objs[rng.IntN(len(objs))]
		r := access.Rule{Scope: access.ScopeObject, Project: o.ProjectID, Kind: o.Kind, Object: o.ID, Level: access.Level(rng.IntN(4))}
		who := ""
		switch n := rng.IntN(10); {
		case n < 2:
		case n < 8:
			r.Role = roles[rng.IntN(len(roles))]
			who = r.Role
		default:
			r.User = users[rng.IntN(len(users))].ID
			who = strconv.FormatInt(r.User, 10)
		}
		k := [2]string{strconv.FormatInt(o.ID, 10), who}
		if seen[k] {
			continue
		}
		seen[k] = true
		rules = append(rules, gatehouse.Rule{Rule: r, CreatedBy: owner.ID})
	}
	if err := db.ImportRules(ctx, org.ID, rules); err != nil {
		return nil, err
	}
	// The one who asks after the restart: a plain member, about a flag of the first project.
	target := &scaleTarget{key: "phx_" + randomHex(24), project: first.ID}
	if err := createKey(ctx, db, users[0].ID, target.key); err != nil {
		return nil, err
	}
	for i := range objs {
		if objs[i].Kind == access.FeatureFlags && objs[i].ProjectID == first.ID {
			target.flag = objs[i].ID
			break
		}
	}
	if target.flag == 0 {
		return nil, errors.New("no flag in the first project")
	}
	return target, db.Analyze(ctx)
}

// processMemory reads the resident memory of process pid, now and at its peak, from
// /proc (Linux).
func processMemory(pid int) (rss, peak float64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("resident memory: %w", err)
	}
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, nil
}

func reportScale(w io.Writer, results []scaleResult) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tobjects\tmembers\trules\tseeded\tready\tfirst decision\tfirst list page\tresident MiB\tpeak MiB\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%v\t%v\t%.0f\t%.0f\t\n", r.engine, r.shape.objects, r.shape.members, r.shape.rules,
			r.seeded.Round(time.Second), r.ready.Round(time.Millisecond), r.firstDecision.Round(time.Millisecond),
			r.firstList.Round(time.Millisecond), r.rssMiB, r.peakMiB)
	}
	tw.Flush()
	fmt.Fprintln(w, "(times from the start of a fresh gatehouse serve process on the seeded database; first decision and first list page are each after the one before)")
}
