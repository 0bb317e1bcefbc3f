package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"
)

// freeWithMadvFree is the runtime setting the server runs with: the Go runtime gives freed
// heap pages back with MADV_FREE, which leaves them mapped until the kernel needs them,
// instead of MADV_DONTNEED, which unmaps them at once. The server folds its snapshots'
// tables in the background as permissions change, copying megabytes into freshly freed
// pages every few seconds; on virtual machines whose memory faults are slow (Firecracker,
// where the benchmarks run) touching unmapped pages again cost 30–40 ms of CPU per fold
// and set the tail of the requests around it: rule changes at 100,000 rules on a durable
// PostgreSQL, p99 44–56 ms with MADV_DONTNEED, 35–36 ms with MADV_FREE (docs/benchmarks.md).
// The price is resident memory that reads higher than the heap until the kernel reclaims
// those pages under pressure. The runtime reads the setting only at start (//go:debug does
// not accept it), so serve starts itself again with it; GODEBUG naming madvdontneed in the
// environment is left as the operator set it.
const freeWithMadvFree = "madvdontneed=0"

// reexecEnv returns the environment serve starts itself again with, or nil when the
// process already runs as it should (or the setting does not apply).
func reexecEnv(args []string, environ []string) []string {
	if runtime.GOOS != "linux" || len(args) < 2 || args[1] != "serve" {
		return nil
	}
	for i, kv := range environ {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			continue
		}
		if strings.Contains(v, "madvdontneed=") {
			return nil
		}
		env := append([]string(nil), environ...)
		env[i] = "GODEBUG=" + freeWithMadvFree + "," + v
		return env
	}
	return append(append([]string(nil), environ...), "GODEBUG="+freeWithMadvFree)
}

// reexec replaces the process with itself under env; it returns only if that fails, and
// the server then runs as it is.
func reexec(env []string) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
