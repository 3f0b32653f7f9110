package rules_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/rules"
)

// TestOKFiles loads each testdata/ok file and runs the tests it carries.
func TestOKFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/ok/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/ok files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			runFileTests(t, f, testEnv)
		})
	}
}

// runFileTests loads file and fails t for each of its failing tests, at
// the test's file:line.
func runFileTests(t *testing.T, file string, getenv func(string) (string, bool)) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Parse(file, data, rules.Options{Getenv: getenv})
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	for _, r := range set.RunTests() {
		if !r.Passed() {
			t.Errorf("%s: test %q failed:\n%v", r.Pos, r.Name, r.Failures)
		}
	}
}

func TestIngressSpecs(t *testing.T) {
	src := `version: 1
ingress:
  kofi:
    type: kofi
    path: /kofi
    verification_token: ${TOKEN}
    port: ${PORT:-8080}
    nested: {list: [a, "${TOKEN}"]}
  bare:
    type: trigger
    path: /t
`
	env := func(k string) (string, bool) {
		if k == "TOKEN" {
			return "s3cret", true
		}
		return "", false
	}
	set, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	specs := set.Ingress()
	if len(specs) != 2 {
		t.Fatalf("Ingress() = %d specs, want 2", len(specs))
	}
	k := specs[0]
	if k.Name != "kofi" || k.Type != "kofi" || k.Path != "/kofi" || k.Pos != (yamlpos.Pos{File: "rules.yaml", Line: 3, Col: 3}) {
		t.Errorf("spec = %+v", k)
	}
	var opts struct {
		Token  string `yaml:"verification_token"`
		Port   int    `yaml:"port"`
		Nested struct {
			List []string `yaml:"list"`
		} `yaml:"nested"`
	}
	if err := yamlpos.DecodeStrict("rules.yaml", k.Options, &opts); err != nil {
		t.Fatalf("DecodeStrict(Options) = %v (type and path must be removed)", err)
	}
	if opts.Token != "s3cret" || opts.Port != 8080 || !reflect.DeepEqual(opts.Nested.List, []string{"a", "s3cret"}) {
		t.Errorf("options = %+v, want expanded values", opts)
	}
	if line := k.Options.Content[0].Line; line != 6 {
		t.Errorf("first option key at line %d, want 6 (positions kept)", line)
	}
	b := specs[1]
	if b.Options == nil || b.Options.Kind != yaml.MappingNode || len(b.Options.Content) != 0 {
		t.Errorf("bare Options = %+v, want an empty mapping", b.Options)
	}
}

func TestParseEnvDefaultsToProcess(t *testing.T) {
	t.Setenv("HERALD_TEST_ROOM", "from-env")
	set, err := rules.Parse("rules.yaml", []byte("version: 1\nrules:\n  - name: a\n    to: ${HERALD_TEST_ROOM}\n"), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := set.Route(event("trigger", "x", "", nil))
	if len(res.Deliveries) != 1 || res.Deliveries[0].Room != "from-env" {
		t.Errorf("Route = %+v, want one delivery to from-env", res)
	}
}

func TestDollarEscape(t *testing.T) {
	set, err := rules.Parse("rules.yaml", []byte("version: 1\nrules:\n  - name: a\n    emit: $${X}\n"), rules.Options{Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	res := set.Route(event("s", "x", "c", nil))
	if got := res.Deliveries[0].Name; got != "${X}" {
		t.Errorf("emit $${X} = %q, want ${X}", got)
	}
}

func TestErrorsAreLists(t *testing.T) {
	_, err := rules.Parse("rules.yaml", []byte("version: 1\nrules:\n  - name: a\n    when: dta\n"), rules.Options{})
	var list yamlpos.List
	if !errorsAs(err, &list) || len(list) != 1 {
		t.Fatalf("Parse error = %#v, want a yamlpos.List of one", err)
	}
	if !strings.HasPrefix(list[0].Error(), "rules.yaml:4:11: ") {
		t.Errorf("error = %q", list[0])
	}
}

// TestIngressPathEndingInSlashIsAWarning: a path ending in / takes the
// tree below it, which is rarely meant, but a platform may post to exactly
// that URL: the file loads, with a warning saying what to write instead.
func TestIngressPathEndingInSlashIsAWarning(t *testing.T) {
	set, err := rules.Parse("rules.yaml", []byte("version: 1\ningress:\n  gen:\n    type: webhook\n    path: /hooks/gen/\n"), rules.Options{})
	if err != nil {
		t.Fatalf("a path ending in / refused: %v", err)
	}
	if w := set.Warnings().Error(); !strings.Contains(w, "rules.yaml:5:11: warning:") || !strings.Contains(w, "write /hooks/gen") {
		t.Errorf("warnings = %q, want one at the path saying to write /hooks/gen", w)
	}
}
