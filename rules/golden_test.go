package rules_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/errors/*.golden")

// testEnv is the environment golden and fuzz cases load with.
func testEnv(name string) (string, bool) {
	switch name {
	case "CODE":
		return "abc123", true
	case "HOME":
		return "/home/herald", true
	}
	return "", false
}

// TestErrorsGolden loads each testdata/errors/<case>.yaml and compares the
// error text, exactly as herald prints it, with <case>.golden.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = rules.Parse("rules.yaml", data, rules.Options{Getenv: testEnv})
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want errors", f)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./rules -update)", err)
			}
			if got != string(want) {
				t.Errorf("Parse(%s) errors:\n%s\nwant:\n%s", f, got, want)
			}
		})
	}
}
