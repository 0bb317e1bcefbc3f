package gatehouse_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// levelComparison matches a comparison (<, >, <=, >=) with a membership or access level on
// either side: the shape every "who may" rule takes.
var levelComparison = regexp.MustCompile(`((Level|level|AdminLevel|OwnerLevel|MemberLevel)\b|membership\(\))[^=]*\s(<|>|<=|>=)\s|\s(<|>|<=|>=)\s[^;{]*(AdminLevel|OwnerLevel|MemberLevel|access\.(Viewer|Editor|Manager|None|Project[A-Z][a-z]+)|\.Level\b|membership\(\))`)

// TestAccessIsDecidedInAccess holds docs/design.md's promise: no code outside access/ (and
// tests) compares membership or access levels. Every "who may" question is a function of
// access/ that handlers, pages and the store call; a comparison anywhere else is a rule of
// access decided on its own, which is how the escalations of issue 10 came about.
func TestAccessIsDecidedInAccess(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case "access", "bench", ".git", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if levelComparison.MatchString(line) {
				t.Errorf("%s:%d compares levels outside access/: %s", path, n, strings.TrimSpace(line))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
