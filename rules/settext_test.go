package rules_test

import (
	"testing"

	"github.com/heraldhq/herald/rules"
)

// TestSetDoubleQuotedIsText routes one event through a rule setting field
// x to a value written as in a rules file: in double quotes it is text,
// {{ }} or not; unquoted, in single quotes or after !expr an expression.
// A double-quoted value that was an expression before double quotes made
// text (a number, a boolean, an event field, a call) loads with a
// warning saying what to write for the old meaning; ordinary text does not.
func TestSetDoubleQuotedIsText(t *testing.T) {
	data := map[string]any{"user": "Ann", "amount": "12.50", "a": "x", "b": "y"}
	tests := []struct {
		name  string
		value string // as written after "x: "
		want  any
		warn  string // the whole warning, "" for none
	}{
		{name: "text without placeholders", value: `"Thanks for the donation!"`, want: "Thanks for the donation!"},
		{name: "a single word", value: `"thanks"`, want: "thanks"},
		{name: "a word that names a function", value: `"now"`, want: "now"},
		{name: "constants only: text, no warning", value: `"2024-01-01"`, want: "2024-01-01"},
		{name: "empty text", value: `""`, want: ""},
		{name: "a template", value: `"{{ user }} followed"`, want: "Ann followed"},
		{name: "the event's type: the word",
			value: `"type"`, want: "type",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "type" is the word type now (double quotes make text); for the event's type write x: type (no quotes), or {{ event.type }} inside text`},
		{name: "the event's code: the word, not the secret",
			value: `"code"`, want: "code",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "code" is the word code now (double quotes make text); for the event's code, a secret, write x: code (no quotes), or {{ event.code }} inside text`},
		{name: "the event's source: the word",
			value: `"source"`, want: "source",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "source" is the word source now (double quotes make text); for the event's source write x: source (no quotes), or {{ event.source }} inside text`},
		{name: "a number: text, with a warning",
			value: `"5"`, want: "5",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "5" is the text "5" now (double quotes make text); for the number write x: 5`},
		{name: "a negative number",
			value: `"-2.5"`, want: "-2.5",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "-2.5" is the text "-2.5" now (double quotes make text); for the number write x: -2.5`},
		{name: "a boolean: text, with a warning",
			value: `"true"`, want: "true",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "true" is the text "true" now (double quotes make text); for the boolean write x: true`},
		{name: "a call: text, with a warning",
			value: `"float(data.amount)"`, want: "float(data.amount)",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "float(data.amount)" is text now (double quotes make text); for the expression, drop the quotes: x: float(data.amount)`},
		{name: "an expression YAML cannot take bare: single quotes",
			value: `"data.a + \": \" + data.b"`, want: `data.a + ": " + data.b`,
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "data.a + \": \" + data.b" is text now (double quotes make text); for the expression, use single quotes: x: 'data.a + ": " + data.b'`},
		{name: "a quoted string: its quotes show",
			value: `"'hello'"`, want: "'hello'",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "'hello'" is the text 'hello' with its quotes now (double quotes make text); for hello alone write x: "hello"`},
		{name: "${VAR} as written",
			value: `"${UNSET:-5}"`, want: "5",
			warn: `rules.yaml:7:10: warning: rule "r": set.x: "${UNSET:-5}" is the text "5" now (double quotes make text); for the number write x: ${UNSET:-5}`},
		{name: "single quotes: an expression, as before", value: `'"Welcome, " + data.user'`, want: "Welcome, Ann"},
		{name: "single-quoted number: an expression", value: `'5'`, want: 5},
		{name: "unquoted: an expression, as before", value: `float(data.amount)`, want: 12.5},
		{name: "unquoted field: an expression", value: `type`, want: "follow"},
		{name: "!expr on double quotes: an expression, as before", value: `!expr "upper(type)"`, want: "FOLLOW"},
		{name: "!expr on a number in double quotes", value: `!expr "5"`, want: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - name: r\n    when: source == \"trigger\"\n    to: alerts\n    set:\n      x: " + tc.value + "\n"
			set, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
			if err != nil {
				t.Fatalf("x: %s refused:\n%v", tc.value, err)
			}
			res := set.Route(event("trigger", "follow", "abc", data))
			if len(res.Errors) > 0 || len(res.Deliveries) != 1 {
				t.Fatalf("Route = %+v", res)
			}
			if got := res.Deliveries[0].Payload["x"]; got != tc.want {
				t.Errorf("x: %s = %#v, want %#v", tc.value, got, tc.want)
			}
			if got := set.Warnings().Error(); got != tc.warn {
				t.Errorf("x: %s warnings:\n%s\nwant:\n%s", tc.value, got, tc.warn)
			}
		})
	}
}

// TestSetTextHints: a set value that fails to compile as an expression
// but reads as words says to write it in double quotes.
func TestSetTextHints(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{name: "unquoted words", value: `Thanks for the follow`,
			want: `rules.yaml:7:17: rule "r": set.x: unexpected token Identifier("for") (unquoted, a set value is an expression; for text write it in double quotes: x: "Thanks for the follow")`},
		{name: "single-quoted words", value: `'Thanks for the donation!'`,
			want: `rules.yaml:7:18: rule "r": set.x: unexpected token Identifier("for") (in single quotes, a set value is an expression; for text write it in double quotes: x: "Thanks for the donation!")`},
		{name: "a broken expression: no hint", value: `'data.a +'`,
			want: `rules.yaml:7:18: rule "r": set.x: unexpected token EOF`},
		{name: "an expression of the wrong types: no hint", value: `type + 1`,
			want: `rules.yaml:7:15: rule "r": set.x: invalid operation: + (mismatched types string and int)`},
		{name: "!expr on words: no hint", value: `!expr "Thanks for"`,
			want: `rules.yaml:7:16: rule "r": set.x: unexpected token Identifier("for")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - name: r\n    when: source == \"trigger\"\n    to: alerts\n    set:\n      x: " + tc.value + "\n"
			_, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
			if err == nil || err.Error() != tc.want {
				t.Errorf("x: %s: error\n%v\nwant:\n%s", tc.value, err, tc.want)
			}
		})
	}
}
