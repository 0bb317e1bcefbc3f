package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
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
