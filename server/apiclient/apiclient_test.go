package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/server"
)

// TestClientUpToDate: the committed openapi.json is what the server serves,
// and client.gen.go is what oapi-codegen makes of it: `go generate
// ./server/apiclient` was run after the last change to a route or a body.
func TestClientUpToDate(t *testing.T) {
	doc := server.Schema()
	committed, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, doc) {
		t.Errorf("openapi.json is not the document the server serves: run go generate ./server/apiclient")
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Its output is named in the configuration, relative to where it runs.
	if err := os.WriteFile(filepath.Join(dir, "oapi-codegen.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	// The version go.mod pins, as go generate runs it (go tool oapi-codegen).
	tool := filepath.Join(dir, "oapi-codegen")
	if out, err := exec.Command("go", "build", "-o", tool, "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen").CombinedOutput(); err != nil {
		t.Fatalf("building oapi-codegen: %v\n%s", err, out)
	}
	gen := exec.Command(tool, "-config", "oapi-codegen.yaml", "openapi.json")
	gen.Dir = dir
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, current) {
		t.Errorf("client.gen.go is not what oapi-codegen makes of the served document: run go generate ./server/apiclient")
	}
}
