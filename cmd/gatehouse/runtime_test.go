package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReexecEnv(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the setting is Linux's")
	}
	for _, tt := range []struct {
		name    string
		args    []string
		environ []string
		want    []string // nil: no start again
	}{
		{"serve", []string{"gatehouse", "serve"}, []string{"A=1"}, []string{"A=1", "GODEBUG=madvdontneed=0"}},
		{"serve with other settings", []string{"gatehouse", "serve", "--addr", ":1"}, []string{"GODEBUG=gctrace=1", "B=2"}, []string{"GODEBUG=madvdontneed=0,gctrace=1", "B=2"}},
		{"started again already", []string{"gatehouse", "serve"}, []string{"GODEBUG=madvdontneed=0"}, nil},
		{"the operator's choice", []string{"gatehouse", "serve"}, []string{"GODEBUG=madvdontneed=1"}, nil},
		{"another command", []string{"gatehouse", "migrate"}, []string{"A=1"}, nil},
		{"no command", []string{"gatehouse"}, nil, nil},
	} {
		if got := reexecEnv(tt.args, tt.environ); !slices.Equal(got, tt.want) {
			t.Errorf("%s: reexecEnv(%q, %q) = %q, want %q", tt.name, tt.args, tt.environ, got, tt.want)
		}
	}
}

// TestServeRunsWithMadvFree: the shipped binary's server runs with the runtime setting,
// under the process id it was started as (a supervisor's signals still reach it).
func TestServeRunsWithMadvFree(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the setting is Linux's")
	}
	dir := t.TempDir()
	b := startBinary(t, builtBinary(t), "sqlite:"+filepath.Join(dir, "g.db"), nil)
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(b.cmd.Process.Pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	var godebug string
	for kv := range strings.SplitSeq(string(environ), "\x00") {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug = v
		}
	}
	if !strings.Contains(godebug, "madvdontneed=0") {
		t.Errorf("gatehouse serve runs with GODEBUG=%q, want madvdontneed=0", godebug)
	}
	b.stop(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

// builtBinary builds this command once for the package's tests.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "gatehouse")
		if out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput(); err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

func TestFloorPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, scan, floor uint64
		want              int
	}{
		{2 * mb, 2 * mb, 64 * mb, 1600},      // the runtime's 4 MB minimum, times 16, is the floor
		{2 * mb, 8 * mb, 64 * mb, 700},       // stacks and globals count: 62/8 = 7.75, rounded down
		{5 * mb, 5 * mb, 64 * mb, 1100},      // 59/5 = 11.8, rounded down
		{31 * mb, 31 * mb, 64 * mb, 100},     // 106 %, rounded down to the default
		{32 * mb, 32 * mb, 64 * mb, 100},     // the default already reaches the floor
		{20 * mb, 50 * mb, 64 * mb, 100},     // so it does here, with large globals
		{500 * mb, 501 * mb, 64 * mb, 100},   // a large organization: the default
		{0, 0, 64 * mb, 100},                 // nothing read yet
		{1, 1, 64 * mb, 1600},                // the minimum heap again
		{64*mb - 1, 64*mb - 1, 64 * mb, 100}, // just under the floor
		{10 * mb, 10 * mb, 1 << 30, 10_100},  // 1014/10 = 101.4, rounded down
	} {
		if got := floorPercent(tc.live, tc.scan, tc.floor); got != tc.want {
			t.Errorf("floorPercent(%d, %d, %d) = %d, want %d", tc.live, tc.scan, tc.floor, got, tc.want)
		}
	}
}

// TestKeepHeapFloor: with the floor kept, a run that allocates 256 MB in small pieces
// while holding little is collected a handful of times rather than once every few
// megabytes; GOGC in the environment turns it off, and stopping it restores the default.
func TestKeepHeapFloor(t *testing.T) {
	gcPercent := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	collections := func() uint32 {
		runtime.GC() // the finalizer sets the percentage after a collection
		time.Sleep(50 * time.Millisecond)
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 256 << 10 {
			heapSink = make([]byte, 1<<10)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC
	}
	byDefault := collections()

	stop := keepHeapFloor(func(string) string { return "" }, heapFloor)
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() == 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := gcPercent(); p <= 100 {
		stop()
		t.Fatalf("GC percent with the floor kept = %d, want above 100 for this small heap", p)
	}
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	if g := goal[0].Value.Uint64(); g < heapFloor*9/10 || g > heapFloor*2 {
		t.Errorf("heap goal with the floor kept = %d MB, want about %d MB", g>>20, heapFloor>>20)
	}
	withFloor := collections()
	stop()
	if p := gcPercent(); p != 100 {
		t.Errorf("GC percent after stop = %d, want 100", p)
	}
	t.Logf("collections while allocating 256 MB: %d by default, %d with the floor", byDefault, withFloor)
	if withFloor*5 > byDefault {
		t.Errorf("collections with the floor = %d, by default %d: want at least 5 times fewer", withFloor, byDefault)
	}

	stop = keepHeapFloor(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}, heapFloor)
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	if p := gcPercent(); p != 100 {
		t.Errorf("GC percent with GOGC set = %d, want it left alone", p)
	}
	stop()
}

var heapSink []byte
