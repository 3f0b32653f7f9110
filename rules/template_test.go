package rules_test

import (
	"math"
	"strings"
	"testing"

	"github.com/heraldhq/herald/rules"
)

// TestTemplateText routes one event through a rule whose text is a
// template and checks the text a viewer would read.
func TestTemplateText(t *testing.T) {
	data := map[string]any{
		"user_name": "Ann", "viewers": 5.0, "big": 1234567.0, "ratio": 2.5, "huge": 1e21,
		"empty": "", "is_gift": true, "reward": map[string]any{"title": "Hydrate"},
		"choices": []any{map[string]any{"title": "Yes"}}, "amount": "3.50",
		"tiny_loss": -0.004, "neg_zero": math.Copysign(0, -1), "loss": -1234.5, "half": 2.675, "nines": 9.995,
		"big_id": 12345678901234567890.0, "big_text": "12345678901234567890", "padded": " +0012.50 ",
	}
	tests := []struct {
		name, tmpl, want string
	}{
		{name: "raid line", tmpl: `{{ user_name }} is raiding with {{ viewers }} viewers!`, want: "Ann is raiding with 5 viewers!"},
		{name: "no exponent, no .0", tmpl: `{{ big }} {{ huge }} {{ ratio }}`, want: "1234567 1000000000000000000000 2.5"},
		{name: "missing field is empty", tmpl: `[{{ nobody }}]`, want: "[]"},
		{name: "default for missing and empty", tmpl: `{{ nobody | default "someone" }}/{{ empty | default "x" }}/{{ user_name | default "x" }}`, want: "someone/x/Ann"},
		{name: "nested field and list index", tmpl: `{{ reward.title }} {{ choices.0.title }} {{ choices.5.title }}`, want: "Hydrate Yes "},
		{name: "data. prefix", tmpl: `{{ data.user_name }}`, want: "Ann"},
		{name: "event fields", tmpl: `{{ event.source }}/{{ event.type }}/{{ event.code }}`, want: "twitch/channel.raid/abc"},
		{name: "upper lower", tmpl: `{{ user_name | upper }}{{ user_name | lower }}`, want: "ANNann"},
		{name: "number", tmpl: `{{ big | number }} {{ amount | number 2 }} {{ viewers | number 1 }}`, want: "1,234,567 3.50 5.0"},
		{name: "no minus on zero", tmpl: `{{ tiny_loss | number 2 }} {{ neg_zero }} {{ neg_zero | number }} {{ neg_zero | number 1 }}`, want: "0.00 0 0 0.0"},
		{name: "a negative number", tmpl: `{{ loss | number 2 }} {{ loss | number 0 }}`, want: "-1,234.50 -1,235"},
		{name: "rounds half up as printed", tmpl: `{{ half | number 2 }} {{ nines | number 2 }} {{ nines | number 0 }}`, want: "2.68 10.00 10"},
		{name: "beyond float64's integers, both forms agree", tmpl: `{{ big_id }} {{ big_id | number 2 }}`, want: "12345678901234567000 12,345,678,901,234,567,000.00"},
		{name: "text keeps every digit", tmpl: `{{ big_text }} {{ big_text | number 2 }}`, want: "12345678901234567890 12,345,678,901,234,567,890.00"},
		{name: "text as formatFloat writes it", tmpl: `{{ padded | number }} {{ padded | number 3 }}`, want: "12.5 12.500"},
		{name: "bool and text around", tmpl: `gift={{ is_gift }}`, want: "gift=true"},
		{name: "filter chain", tmpl: `{{ nobody | default "anon" | upper }}`, want: "ANON"},
		{name: "bar inside a default", tmpl: `{{ nobody | default "a|b" }}`, want: "a|b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - name: r\n    to: alerts\n    set:\n      text: '" + strings.ReplaceAll(tc.tmpl, "'", "''") + "'\n"
			res := mustParse(t, src).Route(event("twitch", "channel.raid", "abc", data))
			if len(res.Errors) > 0 || len(res.Deliveries) != 1 {
				t.Fatalf("Route = %+v", res)
			}
			if got := res.Deliveries[0].Payload["text"]; got != tc.want {
				t.Errorf("template %s = %q, want %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{name: "unclosed", value: `"hi {{ user_name"`, want: "rules.yaml:6:17: rule \"r\": set.text: unclosed {{"},
		{name: "unknown filter", value: `"{{ user_name | uper }}"`, want: `unknown filter "uper" (known: upper, lower, default, number); did you mean upper?`},
		{name: "expression in a template", value: `"{{ a + b }}"`, want: `is not a field name`},
		{name: "default without quotes", value: `"{{ a | default someone }}"`, want: `filter default needs a quoted text`},
		{name: "unknown event field", value: `"{{ event.user }}"`, want: `unknown event field "user"`},
		{name: "unquoted template", value: `{{ user_name }} is here`, want: "rules.yaml:6:"},
		{name: "unquoted lone template", value: `{{ user_name }}`, want: `a value starting with {{ must be quoted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - name: r\n    to: alerts\n    set:\n      text: " + tc.value + "\n"
			_, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(text: %s) = %v, want an error containing %q", tc.value, err, tc.want)
			}
		})
	}
}
