package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop the run's database

	"github.com/gatehouse/gatehouse/sqlstore"
)

// config is the command line, validated once.
type config struct {
	databaseURL string
	keepDB      bool
	server      string // the gatehouse binary; "" = build it
	url         string // drive the server at this URL instead of starting one
	wsFile      string // the workspace file: written after seeding, read with --url
	duration    time.Duration
	slice       time.Duration
	maxRequests int
	clients     int
	members     int
	roles       int
	flags       int
	grants      int
	listPages   int
	ops         []string
	cpuProfile  string
	replica     bool   // a second server on the same PostgreSQL database, probed for changes made through the first
	scale       string // object counts for the scale run; "" = the load run
	chart       string // the scale run's PNG
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("gatehouse-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.databaseURL, "database-url", getenv("DATABASE_URL"), "sqlite:PATH or postgres://… (env DATABASE_URL); empty: a temporary SQLite file. A PostgreSQL URL names a server: the run creates a database of its own there and drops it afterwards, unless --keep-database")
	fs.BoolVar(&c.keepDB, "keep-database", false, "seed and use the database the URL names as it is, and keep it")
	fs.StringVar(&c.server, "server", "", "the gatehouse binary to start (`gatehouse serve`, logging as shipped); empty: build it from this module")
	fs.StringVar(&c.url, "url", "", "drive the server already running at this URL (seeded with --seed-only on its database) instead of starting one")
	fs.StringVar(&c.wsFile, "workspace", "", "file for the seeded workspace (ids and API keys): written after seeding, read with --url")
	seedOnly := fs.Bool("seed-only", false, "seed the database, write --workspace and exit, for a server started by hand and driven with --url")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "total time of the measured traffic, shared by every operation")
	fs.DurationVar(&c.slice, "slice", 250*time.Millisecond, "operations take turns for this long each, round after round, so that whatever else the machine does weighs on all of them alike")
	fs.IntVar(&c.maxRequests, "max-requests", 1_000_000, "at most this many requests per operation")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients, each with its own connection and user")
	fs.IntVar(&c.members, "members", 50, "organization members")
	fs.IntVar(&c.roles, "roles", 10, "roles")
	fs.IntVar(&c.flags, "flags", 10_000, "feature flags")
	fs.IntVar(&c.grants, "grants", 500, "per-flag role grants (object rules)")
	fs.IntVar(&c.listPages, "list-pages", 1, "list requests ask for one of the first N 100-item pages, at random (1: always the first page, as a UI's first view)")
	ops := fs.String("ops", strings.Join(defaultOps, ","), "operations to drive, comma-separated, of "+strings.Join(allOps, ","))
	fs.StringVar(&c.scale, "scale", "", "instead of driving load, measure restarts at these sizes (objects, comma-separated, e.g. 10000,100000,1000000;\nmembers = objects/10, rules = objects/5): time to /_ready, first decision, first list page, memory;\non SQLite, and on PostgreSQL too when --database-url names a server")
	fs.StringVar(&c.chart, "chart", "", "with --scale: draw the figures into this PNG file")
	fs.BoolVar(&c.replica, "replica", false, "with a PostgreSQL --database-url: start a second gatehouse serve on the same database and, throughout the run,\nchange a rule through the first and time until the second's decisions show it")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "have the server process write a CPU profile of its run to this file (gatehouse serve --cpuprofile)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, op := range strings.Split(*ops, ",") {
		if !validOp(op) {
			return nil, fmt.Errorf("--ops: unknown operation %q (want some of %s)", op, strings.Join(allOps, ","))
		}
		c.ops = append(c.ops, op)
	}
	if *seedOnly {
		c.ops = nil
	}
	switch {
	case c.duration <= 0 || c.slice <= 0:
		return nil, errors.New("--duration and --slice must be positive")
	case c.clients < 1 || c.clients >= c.members:
		return nil, errors.New("--clients must be at least 1 and fewer than --members")
	case c.maxRequests < 1 || c.roles < 1 || c.flags < 100 || c.grants < 0 || c.listPages < 1 || c.listPages > c.flags/100:
		return nil, errors.New("--max-requests and --roles must be positive, --flags at least 100, --grants not negative, --list-pages between 1 and flags/100")
	case c.grants > c.roles*c.flags/2:
		return nil, errors.New("--grants must be at most half of --roles × --flags (one grant per role and flag)")
	case slices.Contains(c.ops, opRules) && c.flags < c.clients*ruleFlags:
		return nil, fmt.Errorf("--ops rules needs --flags of at least %d × --clients: each client changes rules on flags of its own", ruleFlags)
	case *seedOnly && c.wsFile == "":
		return nil, errors.New("--seed-only needs --workspace, the file the driving run reads")
	case *seedOnly && c.databaseURL == "":
		return nil, errors.New("--seed-only needs --database-url: the database the server will serve")
	case c.url != "" && c.wsFile == "":
		return nil, errors.New("--url needs --workspace, written by a --seed-only run on the server's database")
	case c.scale != "" && (c.url != "" || *seedOnly || c.keepDB):
		return nil, errors.New("--scale seeds fresh databases of its own: not with --url, --seed-only or --keep-database")
	case c.chart != "" && c.scale == "":
		return nil, errors.New("--chart draws the figures of --scale")
	case c.replica && (c.url != "" || c.scale != "" || *seedOnly || !strings.HasPrefix(c.databaseURL, "postgres")):
		return nil, errors.New("--replica needs a PostgreSQL --database-url and servers started by this command (replicas share a PostgreSQL database)")
	case c.replica && c.flags <= c.clients*ruleFlags:
		return nil, fmt.Errorf("--replica needs --flags above %d × --clients: its rule is on a flag the rules operation leaves alone", ruleFlags)
	case c.url != "" && c.cpuProfile != "":
		return nil, errors.New("--cpuprofile needs a server started by this command; profile a server started by hand with its own --cpuprofile")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}

	if cfg.scale != "" {
		return runScale(ctx, cfg, stdout)
	}
	var (
		ws      *workspace
		api     *process
		replica *process
		apiBase = cfg.url
		dialect = "the server at " + cfg.url
	)
	if cfg.url != "" {
		if ws, err = readWorkspace(cfg.wsFile); err != nil {
			return err
		}
	} else {
		if len(cfg.ops) == 0 {
			cfg.keepDB = true // --seed-only: the database is the one the server will serve
		}
		dbURL, cleanup, err := prepareDatabase(ctx, cfg)
		if err != nil {
			return err
		}
		defer cleanup()
		if ws, dialect, err = seedDatabase(ctx, dbURL, cfg, stdout); err != nil {
			return err
		}
		if cfg.wsFile != "" {
			if err := writeWorkspace(cfg.wsFile, ws); err != nil {
				return err
			}
		}
		if len(cfg.ops) == 0 {
			return nil
		}
		dir, err := os.MkdirTemp("", "gatehouse-load-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin, err := serverBinary(ctx, cfg, dir, stdout)
		if err != nil {
			return err
		}
		if api, err = startServer(ctx, bin, dbURL, cfg.cpuProfile); err != nil {
			return err
		}
		defer api.stop()
		apiBase = api.base
		if cfg.replica {
			if replica, err = startServer(ctx, bin, dbURL, ""); err != nil {
				return err
			}
			defer replica.stop()
		}
	}
	noop, err := startNoop(ctx)
	if err != nil {
		return err
	}
	defer noop.stop()

	d := newDriver(apiBase, noop.base, ws, cfg)
	if err := d.check(ctx); err != nil {
		return fmt.Errorf("first requests: %w", err)
	}
	d.warmUp(ctx)
	linesBefore := int64(0)
	if api != nil {
		linesBefore = api.lines.Load()
	}
	var probed chan *probeResult
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	if replica != nil {
		probed = make(chan *probeResult, 1)
		go func() { probed <- probe(probeCtx, apiBase, replica.base, ws, cfg.clients) }()
	}
	results := d.drive(ctx)
	stopProbe()
	report(stdout, dialect, cfg, results)
	reportSnapshots(ctx, stdout, "server", apiBase)
	probeSent := 0
	if probed != nil {
		pr := <-probed
		if pr.err != nil {
			return fmt.Errorf("replica probe: %w", pr.err)
		}
		pr.report(stdout)
		reportSnapshots(ctx, stdout, "replica", replica.base)
		probeSent = pr.sent
	}
	if api != nil {
		if err := api.stop(); err != nil {
			return fmt.Errorf("gatehouse serve: %w\n%s", err, api.lastLines())
		}
		sent := probeSent
		for _, r := range results {
			if !isNoop(r.op) {
				sent += r.requests
			}
		}
		fmt.Fprintf(stdout, "gatehouse serve wrote %d log lines for the %d requests it served in the run (logging as shipped: a JSON line per request on stderr, read by this command as a collector would)\n",
			api.lines.Load()-linesBefore, sent)
		if cfg.cpuProfile != "" {
			fmt.Fprintf(stdout, "server CPU profile: %s (go tool pprof -top %s)\n", cfg.cpuProfile, cfg.cpuProfile)
		}
	}
	return ctx.Err()
}

// seedDatabase seeds the workspace through the store and closes it again, before the
// server opens the database: a SQLite file is served by one process only.
func seedDatabase(ctx context.Context, dbURL string, cfg *config, stdout io.Writer) (*workspace, string, error) {
	db, err := sqlstore.Open(ctx, dbURL, time.Now)
	if err != nil {
		return nil, "", fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	start := time.Now()
	ws, err := seed(ctx, db, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "seeded %s in %v: 1 organization, %d members, %d roles, %d feature flags, %d object rules, %d clients\n",
		db.Dialect(), time.Since(start).Round(time.Millisecond), cfg.members, cfg.roles, cfg.flags, cfg.grants, cfg.clients)
	return ws, db.Dialect(), nil
}

// prepareDatabase returns the URL to run against and how to clean up after the run: a
// temporary SQLite file when none is given, a fresh database on a PostgreSQL server.
func prepareDatabase(ctx context.Context, cfg *config) (string, func(), error) {
	switch {
	case cfg.databaseURL == "":
		dir, err := os.MkdirTemp("", "gatehouse-load-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "gatehouse.db"), func() { os.RemoveAll(dir) }, nil
	case cfg.keepDB || strings.HasPrefix(cfg.databaseURL, "sqlite:"):
		return cfg.databaseURL, func() {}, nil
	}
	u, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return "", nil, fmt.Errorf("--database-url: %w", err)
	}
	admin, err := sql.Open("pgx", cfg.databaseURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("gatehouse_load_%d_%d", os.Getpid(), time.Now().Unix())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		// Other connections (the store's pool) are closed by now; FORCE covers stragglers.
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// reportSnapshots prints the server's snapshot counters from its /metrics: how often
// it compiled an organization's rules, brought a snapshot forward from logged changes,
// or folded changes in, over its life (seeding and warm-up included).
func reportSnapshots(ctx context.Context, w io.Writer, name, base string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var parts []string
	for l := range strings.Lines(string(body)) {
		for _, name := range []string{"gatehouse_snapshot_rebuilds_total", "gatehouse_snapshot_changes_applied_total", "gatehouse_snapshot_compactions_total", "gatehouse_stale_decisions_total"} {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(name, "gatehouse_"), "_total")+" "+strings.TrimSpace(v))
			}
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "%s counters: %s\n", name, strings.Join(parts, ", "))
	}
}
