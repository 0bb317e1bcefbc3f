//go:build unix

package gatehouse_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readmeBuild is the line of the README's seed example that builds the binary.
// The test runs it itself (into a temporary directory, not the checkout) and
// every other line of the example verbatim.
const readmeBuild = "go build -o ./gatehouse ./cmd/gatehouse"

// shellBlocks returns the ```sh blocks of the markdown section that starts
// with heading.
func shellBlocks(t *testing.T, markdown, heading string) []string {
	t.Helper()
	_, section, ok := strings.Cut(markdown, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "```sh\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "```\n")
		if !ok {
			t.Fatalf("unterminated ```sh block in %q", heading)
		}
		blocks = append(blocks, block)
		section = after
	}
}

// TestReadmeSeedExample runs the README's seed example for real: the binary it
// builds, its licence and server commands, and its curl session against that
// server on a free port, with H changed to that address (as a reader whose
// port 8000 is taken would). Every answer must be the one the README promises:
// success everywhere except the one 403 for Pat's edit of the other flag, whose
// body the README quotes. So the README cannot rot, and an address written out
// instead of $H (the CSRF check refuses a mismatched Origin) fails here.
func TestReadmeSeedExample(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README's example: %v", tool, err)
			}
			t.Skipf("%s not found, so the README's example is not run (under CI=true this fails)", tool)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(t, string(readme), "## The seed example, with curl")
	if len(blocks) != 2 {
		t.Fatalf("seed example has %d shell blocks, want 2 (start the server, then curl)", len(blocks))
	}
	start, session := blocks[0], blocks[1]
	buildLine, start, _ := strings.Cut(start, "\n")
	if buildLine != readmeBuild {
		t.Fatalf("the seed example starts with %q, want %q", buildLine, readmeBuild)
	}

	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "gatehouse"), "./cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", readmeBuild, err, out)
	}

	addr := freeAddr(t)
	base := "http://" + addr
	// `wait` keeps bash as the server's parent, so the whole group stops at cleanup.
	server := exec.Command("bash", "-c", start+"wait\n")
	server.Dir = dir
	server.Env = append(os.Environ(), "GATEHOUSE_ADDR="+addr, "DATABASE_URL=", "GATEHOUSE_LICENSE_KEY_FILE=")
	serverOut := &syncBuffer{}
	server.Stdout, server.Stderr = serverOut, serverOut
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-server.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	waitReady(t, base, exited, serverOut)

	const readmeH = "H=http://127.0.0.1:8000"
	if n := strings.Count(session, readmeH); n != 1 {
		t.Fatalf("the curl session sets %q %d times, want once", readmeH, n)
	}
	session = strings.Replace(session, readmeH, "H="+base, 1)
	if strings.Contains(session, "127.0.0.1:8000") {
		t.Fatalf("the curl session names 127.0.0.1:8000 beside H; with H changed that request goes elsewhere:\n%s", session)
	}
	// Each curl also reports its status on stderr, leaving its stdout (which
	// the example pipes to jq) as the README shows it.
	script := "curl() { command curl -w '%{stderr}%{http_code} %{method} %{url}\\n' \"$@\"; }\n" + session
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", script)
	sh.Dir = dir
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := sh.Run(); err != nil {
		t.Fatalf("curl session: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}

	statusLine := regexp.MustCompile(`^(\d{3}) ([A-Z]+) (\S+)$`)
	var answers, refused []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		m := statusLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Errorf("curl session printed on stderr: %s", sc.Text())
			continue
		}
		answers = append(answers, sc.Text())
		if m[1][0] != '2' {
			refused = append(refused, sc.Text())
		}
	}
	if want := strings.Count(session, "curl "); len(answers) != want {
		t.Errorf("%d answers, want one for each of the %d curl commands:\n%s", len(answers), want, strings.Join(answers, "\n"))
	}
	if len(refused) != 1 || !regexp.MustCompile(`^403 PATCH \S+/feature_flags/\d+$`).MatchString(refused[0]) {
		t.Errorf("refused answers = %q, want exactly the 403 to Pat's edit of the other flag; all answers:\n%s", refused, strings.Join(answers, "\n"))
	}
	promised := regexp.MustCompile(`(?m)^# → (\{.*\})$`).FindAllStringSubmatch(session, -1)
	if len(promised) == 0 {
		t.Error("the curl session quotes no answer (# → …)")
	}
	for _, p := range promised {
		if !strings.Contains(stdout.String(), p[1]) {
			t.Errorf("the README promises the answer %s; the session printed:\n%s", p[1], &stdout)
		}
	}
	for _, want := range []string{`"name":"Pat was here"`, `"name":"owner edits"`, `"access_source":"explicit_role"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("session output lacks %s:\n%s", want, &stdout)
		}
	}
}

// syncBuffer collects a process's output while the test may read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string, exited <-chan error, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/_ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the README's server commands ended before the server was ready: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready in 30 s:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
