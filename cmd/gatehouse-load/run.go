package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop the run's database

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore"
)

// config is the command line, validated once.
type config struct {
	databaseURL string
	keepDB      bool
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
	memProfile  string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("gatehouse-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.databaseURL, "database-url", getenv("DATABASE_URL"), "sqlite:PATH or postgres://… (env DATABASE_URL); empty: a temporary SQLite file. A PostgreSQL URL names a server: the run creates a database of its own there and drops it afterwards, unless --keep-database")
	fs.BoolVar(&c.keepDB, "keep-database", false, "seed and use the database the URL names as it is, and keep it")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "total time of the measured traffic, shared by every operation")
	fs.DurationVar(&c.slice, "slice", 250*time.Millisecond, "operations take turns for this long each, round after round, so that whatever else the machine does weighs on all of them alike")
	fs.IntVar(&c.maxRequests, "max-requests", 1_000_000, "at most this many requests per operation")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients, each with its own connection and user")
	fs.IntVar(&c.members, "members", 50, "organization members")
	fs.IntVar(&c.roles, "roles", 10, "roles")
	fs.IntVar(&c.flags, "flags", 10_000, "feature flags")
	fs.IntVar(&c.grants, "grants", 500, "per-flag role grants (object rules)")
	fs.IntVar(&c.listPages, "list-pages", 1, "list requests ask for one of the first N 100-item pages, at random (1: always the first page, as a UI's first view)")
	ops := fs.String("ops", strings.Join(allOps, ","), "operations to drive, comma-separated")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured traffic to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the measured traffic to this file")
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
	switch {
	case c.duration <= 0 || c.slice <= 0:
		return nil, errors.New("--duration and --slice must be positive")
	case c.clients < 1 || c.clients >= c.members:
		return nil, errors.New("--clients must be at least 1 and fewer than --members")
	case c.maxRequests < 1 || c.roles < 1 || c.flags < 100 || c.grants < 0 || c.listPages < 1 || c.listPages > c.flags/100:
		return nil, errors.New("--max-requests and --roles must be positive, --flags at least 100, --grants not negative, --list-pages between 1 and flags/100")
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

	dbURL, cleanup, err := prepareDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := sqlstore.Open(ctx, dbURL, time.Now)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()

	start := time.Now()
	ws, err := seed(ctx, db, cfg)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "seeded %s in %v: 1 organization, %d members, %d roles, %d feature flags, %d object rules, %d clients\n",
		db.Dialect(), time.Since(start).Round(time.Millisecond), cfg.members, cfg.roles, cfg.flags, cfg.grants, cfg.clients)

	// One server for the API and the no-op handler, so that both pay the same listener,
	// connection handling and HTTP parsing.
	api := server.New(server.Config{Store: db, Logger: slog.New(slog.DiscardHandler), Now: time.Now, Plan: license.Enterprise})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_noop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	mux.Handle("/", api)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	d := newDriver(base, ws, cfg)
	if err := d.check(ctx); err != nil {
		return fmt.Errorf("first requests: %w", err)
	}
	d.warmUp(ctx)

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if cfg.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	results := d.drive(ctx)
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if cfg.memProfile != "" {
		if err := writeHeapProfile(cfg.memProfile); err != nil {
			return err
		}
	}
	report(stdout, db.Dialect(), cfg, results)
	return ctx.Err()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
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
