package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/router"
)

// markdownFiles lists every .md of the repository outside node_modules.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("no markdown files: %v", err)
	}
	return out
}

// TestDocCurlURLsHaveNoSpaces: curl refuses a URL with a space in it
// ("curl: (3) URL rejected"), so a copied command would fail.
func TestDocCurlURLsHaveNoSpaces(t *testing.T) {
	quoted := regexp.MustCompile(`curl[^\n]*?'(https?://[^']*)'`)
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range quoted.FindAllStringSubmatch(string(b), -1) {
			if strings.ContainsAny(m[1], " \t") {
				t.Errorf("%s: curl URL with a space (write %%20 or use curl -G --data-urlencode): %s", f, m[1])
			}
		}
		if strings.Contains(string(b), "uuidgen") {
			t.Errorf("%s: uses uuidgen, which Debian does not install by default", f)
		}
	}
}

// TestReadmeRulesLoad loads every rules file written out in the README
// (a yaml block starting with version: 1) the way herald check does, and
// runs its tests: an example loads without a warning.
func TestReadmeRulesLoad(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(version: 1\n.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) == 0 {
		t.Fatal("no rules file in README.md")
	}
	env := func(k string) (string, bool) {
		return "a-secret-of-20-chars", k == "KOFI_TOKEN" || k == "TWITCH_SECRET"
	}
	for i, m := range blocks {
		r := router.New(router.Options{Getenv: env, Reserved: fixedPaths, ReservedNames: reservedNames})
		set, err := r.Check("README.md", []byte(m[1]))
		if err != nil {
			t.Errorf("README rules block %d does not load:\n%v", i+1, err)
			continue
		}
		if w := append(set.Warnings(), set.Lint()...); len(w) > 0 {
			t.Errorf("README rules block %d warns:\n%v", i+1, w)
		}
		for _, res := range set.RunTests() {
			if !res.Passed() {
				t.Errorf("README rules block %d: %v", i+1, res.Failures)
			}
		}
	}
}
