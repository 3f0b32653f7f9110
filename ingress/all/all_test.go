package all_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress"
	_ "github.com/heraldhq/herald/ingress/all"
	"github.com/heraldhq/herald/router"
)

// plugins lists the adapter folders under ingress/: everything but the
// shared internal/ and this all/.
func plugins(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" && e.Name() != "all" && e.Name() != "testdata" {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatal("no plugin folders under ingress/")
	}
	return out
}

// TestEveryPluginIsComplete: each plugin folder has its README, sample and
// tests, registers its folder name, and is imported here.
func TestEveryPluginIsComplete(t *testing.T) {
	src, err := os.ReadFile("all.go")
	if err != nil {
		t.Fatal(err)
	}
	types := ingress.Default.Types()
	for _, name := range plugins(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", name)
			for _, f := range []string{"README.md", "sample.yaml"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}
			if tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go")); len(tests) == 0 {
				t.Error("no _test.go file")
			}
			if !slices.Contains(types, name) {
				t.Errorf("type %q not registered (registered: %v)", name, types)
			}
			if !strings.Contains(string(src), `"github.com/heraldhq/herald/ingress/`+name+`"`) {
				t.Errorf("all.go does not import ingress/%s", name)
			}
		})
	}
}

// noEnv leaves every variable unset, so ${VAR:-default} takes its default.
func noEnv(string) (string, bool) { return "", false }

// TestSamplesLoad builds every plugin's sample.yaml exactly as a reload
// would, adapters included, so the samples cannot rot.
func TestSamplesLoad(t *testing.T) {
	for _, name := range plugins(t) {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("..", name, "sample.yaml")
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			set, err := router.New(router.Options{Getenv: noEnv}).Check(file, data)
			if err != nil {
				t.Fatalf("sample does not load:\n%v", err)
			}
			n := 0
			for _, spec := range set.Ingress() {
				if spec.Type == name {
					n++
				}
			}
			if n == 0 {
				t.Errorf("sample declares no %q instance", name)
			}
		})
	}
}

// TestShapesAreDocumented: every event type an ingress declares a shape
// for is listed in its README, so the README cannot fall behind shapes.go.
func TestShapesAreDocumented(t *testing.T) {
	for _, typ := range ingress.DefaultShapes.Types() {
		readme, err := os.ReadFile(filepath.Join("..", typ, "README.md"))
		if err != nil {
			t.Errorf("ingress %s declares shapes but has no README: %v", typ, err)
			continue
		}
		shapes, _ := ingress.DefaultShapes.Lookup(typ)
		for _, sh := range shapes {
			if sh.Type != "" && !strings.Contains(string(readme), "`"+sh.Type+"`") {
				t.Errorf("ingress/%s/README.md does not list event type %s", typ, sh.Type)
			}
		}
	}
}

// TestOpenTypesReachTheRules: the router hands the rules the adapters'
// shapes and open types. A rule about a Twitch type herald lists no
// fields for (channel.chat.message) loads unchecked; a Ko-fi type that
// does not exist is refused, since Ko-fi sends only its four. Without
// Twitch's open types the same Twitch rule could never be true.
func TestOpenTypesReachTheRules(t *testing.T) {
	head := "version: 1\ningress:\n  tw: {type: twitch, path: /tw, secret: 0123456789ab}\n  ko: {type: kofi, path: /ko, verification_token: t}\nrules:\n"
	chat := head + "  - name: chat\n    when: source == \"tw\" && type == \"channel.chat.message\" && data.message.text != \"\"\n    to: a\n"
	r := router.New(router.Options{})
	if _, err := r.Check("rules.yaml", []byte(chat)); err != nil {
		t.Errorf("a rule about an open Twitch type was refused: %v", err)
	}
	_, err := r.Check("rules.yaml", []byte(head+"  - name: d\n    when: source == \"ko\" && type == \"Donations\"\n    to: a\n"))
	if err == nil || !strings.Contains(err.Error(), "never sends type") {
		t.Errorf("a rule about a Ko-fi type that does not exist: %v, want it refused as never true", err)
	}
	strict := router.New(router.Options{OpenTypes: ingress.NewOpenTypeRegistry()})
	if _, err := strict.Check("rules.yaml", []byte(chat)); err == nil || !strings.Contains(err.Error(), "never sends type") {
		t.Errorf("with no open types registered, a rule about an unlisted Twitch type: %v, want it refused", err)
	}
}

// TestExamplesFitTheirShapes: every shape carries an example event (what
// `herald route --sample` prints), and the example passes the shape's own
// check: a field the shape does not declare, or of another kind, means
// the shape or the example drifted from what the ingress publishes.
func TestExamplesFitTheirShapes(t *testing.T) {
	for _, typ := range ingress.DefaultShapes.Types() {
		shapes, _ := ingress.DefaultShapes.Lookup(typ)
		for _, sh := range shapes {
			t.Run(typ+"/"+sh.Type, func(t *testing.T) {
				if len(sh.Example) == 0 {
					t.Fatalf("ingress %s declares no example of %q events", typ, sh.Type)
				}
				if err := ingress.CheckData(sh, sh.Example); err != nil {
					t.Errorf("the example does not fit its shape:\n%v", err)
				}
			})
		}
	}
}
