package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestRunSmall runs the whole command on a small workspace for a moment: it seeds, checks
// every operation once, drives them in turns and reports each, with no failed request.
// It asserts nothing about speed.
// On PostgreSQL (GATEHOUSE_TEST_DATABASE_URL) it also creates and drops its own database.
func TestRunSmall(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runSmall(t, "") })
	t.Run("postgres", func(t *testing.T) {
		// Skips without PostgreSQL, except under CI, where it fails: CI must run it.
		runSmall(t, sqltest.PostgresURL(t))
	})
}

func runSmall(t *testing.T, databaseURL string) {
	t.Helper()
	args := []string{"--duration", "300ms", "--slice", "25ms", "--members", "12", "--roles", "3",
		"--flags", "300", "--grants", "20", "--clients", "2", "--max-requests", "200", "--database-url", databaseURL}
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
		if f := strings.Fields(line); f[1] == "0" || f[2] != "0" {
			t.Errorf("%s: %s requests, %s errors; want some, none failed:\n%s", op, f[1], f[2], out)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--ops", "list,nope"},
		{"--clients", "0"},
		{"--clients", "50", "--members", "50"},
		{"--duration", "0s"},
		{"--list-pages", "1000", "--flags", "1000"},
		{"extra"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("parseConfig(%q) = nil error, want one", args)
		}
	}
}
