package rules_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/rules"
)

// TestLintNeverFires: a rule an earlier one (without continue) catches
// every event of is warned about: one with no when, the same when, or a
// when that asks only sources and types, as many or fewer.
func TestLintNeverFires(t *testing.T) {
	rule := func(name, when, extra string) string {
		s := "  - name: " + name + "\n"
		if when != "" {
			s += "    when: '" + when + "'\n"
		}
		return s + "    emit: X\n" + extra
	}
	tests := []struct {
		name   string
		first  string // the earlier rule's when
		extra  string // more keys of the earlier rule
		second string // the later rule's when
		want   string // "" when it may fire
	}{
		{name: "no when", second: `source == "trigger"`, want: `matches every event and has no continue`},
		{name: "the same when", first: `source == "trigger"`, second: `source == "trigger"`, want: `has the same when`},
		{name: "the same when, written otherwise", first: `source == "trigger" && type == "raid"`, second: `type=="raid"&&source=="trigger"`,
			want: `matches every event it would`},
		{name: "a broader source", first: `source == "trigger"`, second: `source == "trigger" && type == "raid"`, want: `matches every event it would`},
		{name: "a broader type list", first: `type in ["raid", "follow"]`, second: `type == "raid" && data.viewers > "5"`, want: `matches every event it would`},
		{name: "a narrower type list", first: `type == "raid"`, second: `type in ["raid", "follow"]`},
		{name: "the earlier one asks more", first: `source == "trigger" && data.user != "bot"`, second: `source == "trigger" && type == "raid"`},
		{name: "the earlier one continues", first: `source == "trigger"`, extra: "    continue: true\n", second: `source == "trigger" && type == "raid"`},
		{name: "another source", first: `source == "trigger"`, second: `source == "kofi"`},
		{name: "a later rule with no when", first: `source == "trigger"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "version: 1\nrules:\n" + rule("first", tc.first, tc.extra) + rule("second", tc.second, "")
			set, err := rules.Parse("rules.yaml", []byte(file), rules.Options{Getenv: testEnv})
			if err != nil {
				t.Fatal(err)
			}
			got := set.Lint().Error()
			if tc.want == "" && strings.Contains(got, "never fires") || tc.want != "" && !strings.Contains(got, `rule "second" never fires: rule "first" (rules.yaml:3:11) `+tc.want) {
				t.Errorf("Lint = %q, want %q", got, tc.want)
			}
		})
	}
}
