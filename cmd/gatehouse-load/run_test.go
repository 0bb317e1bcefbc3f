package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestMain lets the test binary stand for the command where the command starts itself:
// as the no-op server.
func TestMain(m *testing.M) {
	if os.Getenv(noopEnv) == "1" {
		if err := serveNoop(t0(), os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestRunSmall runs the whole command on a small workspace for a moment: it seeds, checks
// every operation once, drives them in turns and reports each, with no failed request.
// It asserts nothing about speed.
// On PostgreSQL (GATEHOUSE_TEST_DATABASE_URL) it also creates and drops its own database.
func TestRunSmall(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runSmall(t, "") })
	t.Run("postgres", func(t *testing.T) {
		// Skips without PostgreSQL, except under CI, where it fails: CI must run it.
		out := runSmall(t, sqltest.PostgresURL(t), "--replica")
		// A second server on the same database saw the probe's changes, none lost.
		var line string
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "replica: ") {
				line = l
			}
		}
		n := 0
		if f := strings.Fields(line); len(f) > 1 {
			n, _ = strconv.Atoi(f[1])
		}
		if n == 0 || !strings.Contains(line, "; 0 not shown") {
			t.Errorf("replica probe: want changes reaching the second server, none lost:\n%s", out)
		}
	})
}

// runSmall runs the command with extra arguments and returns its output.
func runSmall(t *testing.T, databaseURL string, extra ...string) string {
	t.Helper()
	args := []string{"--duration", "400ms", "--slice", "25ms", "--members", "12", "--roles", "3",
		"--flags", "600", "--grants", "20", "--clients", "2", "--max-requests", "200", "--database-url", databaseURL,
		"--ops", strings.Join(allOps, ","),
		"--server", gatehouseBinary(t)}
	args = append(args, extra...)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	for _, op := range allOps {
		var line string
		for l := range strings.Lines(out) {
			if f := strings.Fields(l); len(f) > 2 && f[0] == op {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("no line for %s in:\n%s", op, out)
		}
		f := strings.Fields(line)
		if f[1] == "0" || f[2] != "0" {
			t.Errorf("%s: %s requests, %s errors; want some, none failed:\n%s", op, f[1], f[2], out)
		}
		// Its share of the no-op, over the whole run and by round.
		if len(f) != 8 || !strings.HasSuffix(f[6], "%") || !strings.HasSuffix(f[7], "%") {
			t.Errorf("%s: want shares of the no-op over the run and by round:\n%s", op, out)
		}
	}
	// The server is the shipped binary with its logging on: a line for every request.
	var logged, served int
	for l := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(l, "gatehouse serve wrote "); ok {
			f := strings.Fields(rest)
			logged, _ = strconv.Atoi(f[0])
			served, _ = strconv.Atoi(f[5])
		}
	}
	if served == 0 || logged < served {
		t.Errorf("the server logged %d lines for %d requests; want a line per request:\n%s", logged, served, out)
	}
	return out
}

// gatehouseBinary builds the server once for the package's tests.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "gatehouse-load-test-"); binErr != nil {
			return
		}
		binPath, binErr = serverBinary(t0(), &config{}, binDir, &bytes.Buffer{})
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func t0() context.Context { return context.Background() }

func TestParseConfigRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--ops", "list,nope"},
		{"--clients", "0"},
		{"--clients", "50", "--members", "50"},
		{"--duration", "0s"},
		{"--list-pages", "1000", "--flags", "1000"},
		{"--grants", "501", "--roles", "1", "--flags", "1000"},  // more grants than role × flag pairs allow
		{"--ops", "rules", "--flags", "2000", "--clients", "8"}, // clients would share flags
		{"extra"},
		{"--replica"}, // replicas share a PostgreSQL database
		{"--replica", "--database-url", "sqlite:/tmp/x.db"},
		{"--replica", "--database-url", "postgres://x/y", "--flags", "2048", "--clients", "8"}, // no flag left for the probe
		{"--seed-only", "--database-url", "sqlite:/tmp/x.db"},                                  // no workspace file
		{"--seed-only", "--workspace", "/tmp/ws.json"},                                         // no database to keep
		{"--url", "http://127.0.0.1:8000"},                                                     // no workspace to drive
		{"--url", "http://127.0.0.1:8000", "--workspace", "w", "--cpuprofile", "p"},            // not our process
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("parseConfig(%q) = nil error, want one", args)
		}
	}
}

// TestRunAgainstURL: a workspace seeded with --seed-only into the database of a server
// started apart is driven through --url, every operation answered.
func TestRunAgainstURL(t *testing.T) {
	dir := t.TempDir()
	dbURL, wsFile := "sqlite:"+filepath.Join(dir, "g.db"), filepath.Join(dir, "ws.json")
	getenv := func(string) string { return "" }
	var out bytes.Buffer
	seedArgs := []string{"--seed-only", "--database-url", dbURL, "--workspace", wsFile,
		"--members", "12", "--roles", "3", "--flags", "600", "--grants", "10", "--clients", "2"}
	if err := run(t.Context(), seedArgs, getenv, &out, &out); err != nil {
		t.Fatalf("seed: %v\n%s", err, &out)
	}
	srv, err := startServer(t.Context(), gatehouseBinary(t), dbURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	out.Reset()
	args := []string{"--url", srv.base, "--workspace", wsFile, "--duration", "200ms", "--slice", "20ms",
		"--clients", "2", "--members", "12", "--flags", "600", "--max-requests", "50", "--ops", strings.Join(allOps, ",")}
	if err := run(t.Context(), args, getenv, &out, &out); err != nil {
		t.Fatalf("drive: %v\n%s", err, &out)
	}
	for _, op := range allOps {
		if !strings.Contains(out.String(), op+" ") {
			t.Errorf("no line for %s:\n%s", op, &out)
		}
	}
	if _, err := readWorkspace(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing workspace file was read")
	}
}

// TestScaleSmall runs the scale measurement at a small size on both engines: each engine
// reports its restart and memory, and the chart is a PNG.
func TestScaleSmall(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "scale.png")
	args := []string{"--scale", "1000,2000", "--chart", chart, "--server", gatehouseBinary(t)}
	engines := []string{"sqlite"}
	if url := sqltest.PostgresURL(t); url != "" {
		args = append(args, "--database-url", url)
		engines = append(engines, "postgres")
	}
	var out bytes.Buffer
	if err := run(t.Context(), args, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	for _, engine := range engines {
		rows := 0
		for l := range strings.Lines(out.String()) {
			if f := strings.Fields(l); len(f) == 10 && f[0] == engine {
				rows++
				if mib, _ := strconv.ParseFloat(f[8], 64); mib <= 0 {
					t.Errorf("%s: no resident memory in %q", engine, l)
				}
			}
		}
		if rows != 2 {
			t.Errorf("%s: %d rows, want one per size:\n%s", engine, rows, &out)
		}
	}
	png, err := os.ReadFile(chart)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("the chart is not a PNG (%v)", err)
	}
}

// TestMedianRatio: shares by round pair each turn with the no-op's turn of the same
// round, take the median, and skip rounds without a no-op rate.
func TestMedianRatio(t *testing.T) {
	for _, tc := range []struct {
		rates, base []float64
		want        float64
		ok          bool
	}{
		{[]float64{50, 90, 10}, []float64{100, 100, 100}, 0.5, true},
		{[]float64{50, 60}, []float64{100, 100}, 0.55, true},
		// A burst that halved one no-op turn moves the median, not the pairing.
		{[]float64{40, 45, 50}, []float64{100, 50, 100}, 0.5, true},
		{[]float64{40, 45, 50}, []float64{100, 0}, 0.4, true}, // the third round has no no-op turn
		{[]float64{40}, nil, 0, false},
	} {
		got, ok := medianRatio(tc.rates, tc.base)
		if ok != tc.ok || got != tc.want {
			t.Errorf("medianRatio(%v, %v) = %v, %v; want %v, %v", tc.rates, tc.base, got, ok, tc.want, tc.ok)
		}
	}
}

// TestNoopAnswersEachClient: a no-op batch answers each client with the mean size of
// the server's answers to that client, not one size for all.
func TestNoopAnswersEachClient(t *testing.T) {
	ws := &workspace{Project: 1, Clients: []client{{APIKey: "a"}, {APIKey: "b"}}, Flags: []int64{7}, Admin: "x", Others: []string{"u"}}
	cfg := &config{clients: 2, ops: []string{opNoop, opNoopBatch}}
	d := newDriver("http://server", "http://noop", ws, cfg)
	d.answers[opBatch][0].add(12_000)
	d.answers[opBatch][1].add(16_000)
	d.answers[opBatch][1].add(18_000)
	rng := rand.New(rand.NewPCG(1, 1))
	for c, want := range []string{"bytes=12000", "bytes=17000"} {
		req, err := d.request(t.Context(), opNoopBatch, c, rng)
		if err != nil {
			t.Fatal(err)
		}
		if req.URL.Host != "noop" || req.URL.RawQuery != want {
			t.Errorf("client %d: no-op batch asks %s, want %s from the no-op", c, req.URL, want)
		}
	}
	if d.answers[opBatchAnother] != nil {
		t.Error("sizes kept for an operation no no-op batch mirrors in this run")
	}
}
