package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
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

// heapFloor is the least heap the collector lets the server grow to before it runs. At the
// runtime's default (GOGC=100, the next collection when the heap doubles, 4 MB at least) a
// server holding a few megabytes live collects dozens of times a second under load, each
// request allocating a few kilobytes, most of them net/http's: with 2 MB live the collector
// ran 35 times a second under batch checks, and a single check's server time fell by 8 %
// with the floor, where it runs under once a second. Once the live heap is past about half
// the floor (an organization of a million objects holds more) the percentage is 100 again,
// exactly the default: the floor costs at most this much memory, never a multiple.
const heapFloor = 64 << 20

// keepHeapFloor sets the collector's percentage after every collection, from what it
// found live, so that the next one comes no sooner than at floor bytes of heap; it returns
// a function that stops it. An operator who sets GOGC keeps what they set.
func keepHeapFloor(getenv func(string) string, floor uint64) (stop func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	last := 100
	var arm func()
	arm = func() {
		// An object that only the collector can find: its finalizer runs after each
		// collection, and arms the next one.
		runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
			if stopped.Load() {
				return
			}
			metrics.Read(sample)
			live := sample[0].Value.Uint64()
			if pct := floorPercent(live, live+sample[1].Value.Uint64()+sample[2].Value.Uint64(), floor); pct != last {
				debug.SetGCPercent(pct)
				last = pct
			}
			arm()
		})
	}
	arm()
	return func() {
		if stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(100) // the default, GOGC being unset
		}
	}
}

// floorPercent is the collector's percentage that lets the heap grow to floor before the
// next collection, and never below the default 100. The runtime's goal is the larger of
// live + scan*percent/100 (live: the heap found live; scan: that and the stacks and globals
// the collector scans) and its minimum heap, 4 MB scaled by percent/100; so the percentage
// is also at most what scales that minimum to floor. It is rounded down to a multiple of
// 100 so that small changes in the live heap change nothing.
func floorPercent(live, scan, floor uint64) int {
	if scan == 0 || live+scan >= floor {
		return 100
	}
	pct := min((floor-live)*100/scan, floor*100/runtimeHeapMinimum)
	return int(max(100, pct/100*100))
}

// runtimeHeapMinimum is the Go runtime's least heap goal at GOGC=100 (defaultHeapMinimum).
const runtimeHeapMinimum = 4 << 20
