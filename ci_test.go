package gatehouse_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStartPostgresFailureStopsTests holds README's test command to its word: when
// .ci/start-postgres cannot start a server, `eval "$(.ci/start-postgres)" && go test …`
// must stop before the tests, not run them without PostgreSQL. (eval of an empty string
// succeeds, which is how CI once went on regardless.) The start fails here because the
// port is already taken by something that is not PostgreSQL.
func TestStartPostgresFailureStopsTests(t *testing.T) {
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL server binaries are missing under CI")
		}
		t.Skip("PostgreSQL server binaries not installed (apt-get install postgresql-15)")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	// Under /tmp itself, not t.TempDir(): as root the script hands the cluster's folder to
	// the postgres user, who cannot reach into a test's private temporary folder.
	dir := filepath.Join(os.TempDir(), "gatehouse-pg-fail-"+strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command("bash", "-c", `eval "$(.ci/start-postgres)" && echo TESTS-WOULD-RUN`)
	cmd.Env = append(os.Environ(), "GATEHOUSE_PG_PORT="+strconv.Itoa(port), "GATEHOUSE_PG_DIR="+dir)
	out, err := cmd.Output()
	if strings.Contains(string(out), "TESTS-WOULD-RUN") {
		t.Fatalf("README's test command went on after start-postgres failed: %q", out)
	}
	if err == nil {
		t.Fatal("README's test command succeeded although start-postgres failed")
	}
}
