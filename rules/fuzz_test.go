package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/rules"
)

// FuzzParse checks more than "no panic": every reported position lies
// inside the file, and a file that loads routes an event without panicking
// (so every rule holds a compiled program) and runs its own tests.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/errors/*.yaml", "testdata/ok/*.yaml", "../examples/rules.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := rules.Parse("rules.yaml", data, rules.Options{Getenv: testEnv, Shapes: testShapes, OpenTypes: testOpenTypes,
			Builtin: map[string]string{"trigger": "trigger"}})
		if err != nil {
			var list yamlpos.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse error %T %v is not a non-empty yamlpos.List", err, err)
			}
			lines := strings.Split(string(data), "\n")
			for _, e := range list {
				if e.Pos.File != "rules.yaml" || e.Pos.Line < 1 || e.Pos.Line > len(lines) {
					t.Fatalf("error %q: line outside the file (%d lines)", e, len(lines))
				}
				if max := utf8.RuneCountInString(lines[e.Pos.Line-1]) + 1; e.Pos.Col < 0 || e.Pos.Col > max {
					t.Fatalf("error %q: column outside line %d (%d runes)", e, e.Pos.Line, max-1)
				}
			}
			return
		}
		if set.Len() != len(set.Rules()) {
			t.Fatalf("Len %d != %d rule names", set.Len(), len(set.Rules()))
		}
		set.Route(event("kofi", "Donation", "abc", map[string]any{"amount": 10.0}))
		set.Route(event("", "", "", nil))
		set.RunTests()
		set.Lint()
	})
}

// FuzzTemplate loads a rule whose text is the fuzzed template. A template
// that loads renders to a string on any event without failing, and its
// text outside {{ }} comes through unchanged.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{ user_name }} is raiding with {{ viewers }} viewers!", `{{ a | default "x|y" | upper }}`,
		"{{ reward.title }}", "{{ choices.0.title | number 2 }}", "plain {{", "{{}}", `{{ a | default "\"" }}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		if !utf8.ValidString(tmpl) || strings.ContainsAny(tmpl, "\r\n\x00") || !strings.Contains(tmpl, "{{") {
			return
		}
		src := "version: 1\nrules:\n  - name: r\n    to: a\n    set:\n      text: '" + strings.ReplaceAll(tmpl, "'", "''") + "'\n"
		set, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
		if err != nil {
			return
		}
		for _, data := range []map[string]any{nil, {"user_name": "ann", "viewers": 5.0, "a": []any{1.0, map[string]any{"b": nil}}}} {
			res := set.Route(event("twitch", "channel.raid", "abc", data))
			if len(res.Errors) > 0 || len(res.Deliveries) != 1 {
				t.Fatalf("template %q failed on an event: %+v", tmpl, res)
			}
			text, ok := res.Deliveries[0].Payload["text"].(string)
			if !ok {
				t.Fatalf("template %q rendered %T", tmpl, res.Deliveries[0].Payload["text"])
			}
			if lead, _, _ := strings.Cut(tmpl, "{{"); !strings.HasPrefix(text, lead) {
				t.Fatalf("template %q rendered as %q, lost its leading text %q", tmpl, text, lead)
			}
		}
	})
}

// FuzzSetText loads a rule setting text to the fuzzed string in double
// quotes. Without {{ (a template) or ${ (the environment) it is text, so
// it loads whatever expression it would also make ("5", "type",
// "float(data.amount)") and comes through to the page exactly as written.
func FuzzSetText(f *testing.F) {
	for _, s := range []string{"Thanks for the donation!", "thanks", "type", "code", "5", "-2.5", "true", "nil", "float(data.amount)",
		"'hello'", `"hi"`, "", " padded ", `back\slash`, "tab\there", "emoji 🎉", "}} only", "{ not a template }", "$5 tip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || strings.Contains(text, "{{") || strings.Contains(text, "${") {
			return
		}
		src := "version: 1\nrules:\n  - name: r\n    to: a\n    set:\n      text: " + strconv.Quote(text) + "\n"
		set, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
		if err != nil {
			t.Fatalf("text %q in double quotes refused:\n%v", text, err)
		}
		res := set.Route(event("twitch", "channel.raid", "abc", map[string]any{"amount": "3.00"}))
		if len(res.Errors) > 0 || len(res.Deliveries) != 1 {
			t.Fatalf("text %q failed on an event: %+v", text, res)
		}
		if got := res.Deliveries[0].Payload["text"]; got != text {
			t.Fatalf("text %q came through as %#v", text, got)
		}
	})
}

// FuzzDecodeEvent: /api/route and `herald route -e` read an event as JSON.
// Whatever the bytes, decoding either fails with an error or yields an
// event whose data has JSON's own shapes (float64 numbers), which the
// example rules then route without panicking.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"source":"twitch","type":"channel.raid","data":{"from_broadcaster_user_name":"ann","viewers":5}}`))
	f.Add([]byte(`{"source":"trigger","type":"follow","code":"alerts","data":{"n":1e400}}`))
	f.Add([]byte(`{"type":"x","data":{"a":[1,{"b":null}]},"time":"2026-01-01T00:00:00Z","headers":{"h":"v"}}`))
	f.Add([]byte(`{"unknown":1}`))
	data, err := os.ReadFile("../examples/rules.yaml")
	if err != nil {
		f.Fatal(err)
	}
	set, err := rules.Parse("rules.yaml", data, rules.Options{Getenv: testEnv})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := rules.DecodeEvent(raw)
		if err != nil {
			return
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case nil, bool, float64, string:
			case []any:
				for _, x := range v {
					walk(x)
				}
			case map[string]any:
				for _, x := range v {
					walk(x)
				}
			default:
				t.Fatalf("decoded data holds a %T (%v), not a JSON value", v, v)
			}
		}
		walk(map[string]any(ev.Data))
		set.Route(ev)
	})
}
