package rules_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/examples"
	"github.com/heraldhq/herald/rules"
)

// versioned finds rules files among YAML files: a top-level version: key.
var versioned = regexp.MustCompile(`(?m)^version:`)

// exampleEnv stands in for secrets the examples read from the environment:
// every variable is set, to a value long enough for any adapter.
func exampleEnv(name string) (string, bool) {
	return "example-" + strings.ToLower(name) + "-0123456789", true
}

// TestExamples loads every rules file under examples/ and runs its tests,
// so the documentation cannot rot.
func TestExamples(t *testing.T) {
	var files []string
	err := filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && versioned.Match(data) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no rules files under examples/")
	}
	for _, f := range files {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			runFileTests(t, f, exampleEnv)
		})
	}
}

func TestDefaultRulesEmbedded(t *testing.T) {
	data, err := os.ReadFile("../examples/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(examples.DefaultRules, data) {
		t.Fatal("examples.DefaultRules differs from examples/default.yaml")
	}
	set, err := rules.Parse("rules.yaml", examples.DefaultRules, rules.Options{Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("the default rules need no environment, got:\n%v", err)
	}
	// The seed's trigger URL: /notify?code=abc&event=new follow&user=ann.
	// Whatever the event and its parameters, the default changes nothing.
	for _, typ := range []string{"new follow", "raid", "follow", "donation"} {
		data := map[string]any{"code": "abc", "event": typ, "user": "ann", "test": "1"}
		res := set.Route(event("trigger", typ, "abc", data))
		want := rules.EventName(typ)
		if len(res.Deliveries) != 1 || res.Deliveries[0].Room != "abc" || res.Deliveries[0].Name != want ||
			len(res.Deliveries[0].Payload) != len(data) || res.Deliveries[0].Payload["user"] != "ann" {
			t.Errorf("default rules route trigger %q as %+v, want %s to abc with exactly its data", typ, res, want)
		}
	}
}
