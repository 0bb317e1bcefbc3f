// Command gatehouse-load measures Gatehouse as users run it: it seeds a realistic
// workspace, starts `gatehouse serve` (the shipped binary, logging a JSON line per request
// as shipped) and a no-op Go HTTP server, each in a process of its own, drives list,
// retrieve, update, single and batch check traffic (also about another member, as an
// application using Gatehouse as its authorization service asks) with several clients, and
// prints throughput and latency per operation and each as a share of the no-op's.
//
//	go run ./cmd/gatehouse-load                                   # temporary SQLite file
//	go run ./cmd/gatehouse-load --database-url postgres://…        # a fresh database on that server
//	go run ./cmd/gatehouse-load --seed-only --database-url sqlite:/tmp/g.db --workspace /tmp/ws.json
//	go run ./cmd/gatehouse-load --url http://127.0.0.1:8000 --workspace /tmp/ws.json
//
// See docs/benchmarks.md for the figures and how to read them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Getenv(noopEnv) == "1" {
		err = serveNoop(ctx, os.Stdin, os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-load:", err)
		os.Exit(1)
	}
}
