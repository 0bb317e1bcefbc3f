// Command gatehouse-load measures the Gatehouse API under load on this machine: it starts a
// server in-process on loopback, seeds a realistic workspace, drives list, retrieve, update,
// single check and batch check traffic with several clients, and prints throughput and
// latency per operation beside a no-op handler served by the same server in the same run.
//
//	go run ./cmd/gatehouse-load                                   # temporary SQLite file
//	go run ./cmd/gatehouse-load --database-url postgres://…        # a fresh database on that server
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-load:", err)
		os.Exit(1)
	}
}
