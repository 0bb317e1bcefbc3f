package gatehouse_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repositoryFiles returns the text files a clone has (vendored assets aside),
// relative to the repository root.
func repositoryFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case ".git", "ui/static", "screenshots":
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
			return err // a large file is a built binary or data, not text of ours
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".json", ".html", ".css", ".js", ".sql", ".txt", ".yaml", ".yml", "":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestReferencesStayInRepository: a clone has the whole product's reference.
// No file names the specification it was once built from outside the
// repository, and every relative link in the markdown reaches a file (and a
// heading, when it names one) of the repository.
func TestReferencesStayInRepository(t *testing.T) {
	outside := regexp.MustCompile(`shared/spec|\.\./shared`)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, path := range repositoryFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if path == "docs_test.go" {
			continue // names the pattern it looks for
		}
		text := string(data)
		for _, m := range outside.FindAllStringIndex(text, -1) {
			t.Errorf("%s:%d points outside the repository (%q)", path, 1+strings.Count(text[:m[0]], "\n"), text[m[0]:m[1]])
		}
		if filepath.Ext(path) != ".md" {
			continue
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), file)
			}
			if rel, err := filepath.Rel(".", dest); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", path, target)
				continue
			}
			destText, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s links to %s: %v", path, target, err)
				continue
			}
			if anchor != "" && !hasHeading(string(destText), anchor) {
				t.Errorf("%s links to %s: %s has no heading %q", path, target, dest, anchor)
			}
		}
	}
}

// hasHeading reports whether markdown has a heading whose GitHub anchor is anchor.
func hasHeading(markdown, anchor string) bool {
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(markdown, "\n") {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(title)), ""), " ", "-")
		if slug == anchor {
			return true
		}
	}
	return false
}
