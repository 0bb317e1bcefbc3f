package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/license"
)

// noopEnv, set to "1" in a process's environment, makes this command (or its test binary)
// serve the no-op handler instead of driving load: the baseline runs in a process of its
// own, as the server does, so that neither shares a scheduler or a heap with the driver.
const noopEnv = "GATEHOUSE_LOAD_NOOP_SERVER"

// serveNoop serves GET /_noop on a loopback port until ctx ends or stdin closes, printing
// "listening http://ADDR" first. Plain net/http with the timeouts gatehouse serve sets:
// the floor every Go HTTP server pays, nothing more.
func serveNoop(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_noop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	// The transport floor of a batch: the body is read and an answer of the asked size
	// written, the bytes a batch check moves with nothing decided.
	mux.HandleFunc("POST /_noop", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		n = min(max(n, 0), len(noopAnswer))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(noopAnswer[:n])
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, stdin); cancel() }() // the driver went away
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// noopAnswer is what the no-op's POST answers with, cut to the size asked for.
var noopAnswer = bytes.Repeat([]byte(" "), 1<<20)

// process is a child process serving HTTP: the server under test or the no-op baseline.
type process struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string // http://ADDR, from the line the process prints when it listens
	lines atomic.Int64
	done  chan struct{} // closed when the process's output has been read to its end
	mu    sync.Mutex
	tail  []string // the last lines of its stderr, for error messages
}

// start runs cmd and waits for it to print the address it listens on (a line containing
// "http://"). Its stderr (the server's JSON log) is read as a log collector would read
// it, line by line, counted and dropped.
func start(ctx context.Context, name string, cmd *exec.Cmd) (*process, error) {
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines.Add(1)
			p.mu.Lock()
			if len(p.tail) == 20 {
				p.tail = p.tail[1:]
			}
			p.tail = append(p.tail, sc.Text())
			p.mu.Unlock()
		}
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 {
				select {
				case addr <- strings.Fields(sc.Text()[i:])[0]:
				default:
				}
			}
		}
	}()
	select {
	case p.base = <-addr:
		return p, nil
	case <-p.done:
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s exited before listening:\n%s", name, p.lastLines())
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("%s did not listen within 2 minutes:\n%s", name, p.lastLines())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *process) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop asks the process to shut down as an operator would (SIGTERM, then stdin closed)
// and waits for it, so that what it writes on a clean shutdown (the last log lines, a CPU
// profile) is complete. It kills it after 30 s.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.stdin.Close()
	waited := make(chan error, 1)
	go func() { <-p.done; waited <- p.cmd.Wait() }()
	select {
	case err := <-waited:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30 s; killed", p.name)
	}
}

// startNoop starts this command's own executable as the no-op baseline.
func startNoop(ctx context.Context) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-test.run=^$") // a test binary ignores it; the command never parses it
	cmd.Env = append(os.Environ(), noopEnv+"=1")
	return start(ctx, "no-op server", cmd)
}

// serverBinary is cfg.server, or gatehouse built from this module into dir: the load is
// measured on the binary users run, never on a server inside the load process.
func serverBinary(ctx context.Context, cfg *config, dir string, stdout io.Writer) (string, error) {
	if cfg.server != "" {
		return cfg.server, nil
	}
	bin := filepath.Join(dir, "gatehouse")
	fmt.Fprintln(stdout, "building gatehouse (pass --server PATH to use a built binary)")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/gatehouse/gatehouse/cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse: %w\n%s", err, out)
	}
	return bin, nil
}

// startServer runs `gatehouse serve` on dbURL with an enterprise licence made for the run
// (rules are enforced, as for the teams that rely on them) and its logging as shipped:
// one JSON line per request on stderr.
func startServer(ctx context.Context, bin, dbURL, cpuProfile string) (*process, error) {
	priv, pub, err := license.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := license.ParsePrivateKey(priv)
	if err != nil {
		return nil, err
	}
	lic, err := license.Issue(key, license.License{ID: "gatehouse-load", Plan: license.Enterprise,
		IssuedAt: time.Now(), ValidUntil: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database-url", dbURL}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_LICENSE_PUBLIC_KEY="+pub, "GATEHOUSE_LICENSE_KEY="+lic)
	p, err := start(ctx, "gatehouse serve", cmd)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p.base); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w\n%s", err, p.lastLines())
	}
	return p, nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(base + "/_ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/_ready did not answer 200 within a minute (last: %v)", base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
