package rules_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/rules"
)

// testShapes stands in for the ingress registry: a closed twitch raid, an
// open trigger whose fields are strings, and a dynamic webhook.
func testShapes(typ string) ([]herald.Shape, bool) {
	switch typ {
	case "twitch":
		return []herald.Shape{
			{Type: "channel.raid", Fields: map[string]herald.Kind{
				"from_broadcaster_user_name": herald.KindString, "viewers": herald.KindNumber}},
			{Type: "channel.cheer", Fields: map[string]herald.Kind{
				"user_name": herald.KindString, "bits": herald.KindNumber, "message": herald.KindString}},
			{Type: "channel.channel_points_custom_reward_redemption.add", Fields: map[string]herald.Kind{
				"reward": herald.KindObject, "reward.title": herald.KindString, "reward.cost": herald.KindNumber}},
		}, true
	case "trigger":
		return []herald.Shape{{Rest: herald.KindString}}, true
	}
	return nil, false
}

const twitchIngress = "version: 1\ningress:\n  twitch: {type: twitch, path: /twitch, secret: x}\n  hook: {type: webhook, path: /hook}\nrules:\n"

func TestShapeChecks(t *testing.T) {
	tests := []struct {
		name     string
		rule     string
		wantErr  string // "" for none
		wantWarn string // "" for none
	}{
		{name: "field the type never has, certain",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewer > 10\n    to: a\n",
			wantErr: `rules.yaml:7:64: rule "raid": data.viewer: "channel.raid" events have no field "viewer"; did you mean viewers?`},
		{name: "field in a template",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\"\n    to: a\n    set:\n      text: \"{{ from_broadcaster_user_nam }} raids\"\n",
			wantErr: `rules.yaml:10:17: rule "raid": data.from_broadcaster_user_nam: "channel.raid" events have no field "from_broadcaster_user_nam"; did you mean from_broadcaster_user_name?`},
		{name: "type alone is probable: a warning",
			rule:     "  - name: raid\n    when: type == \"channel.raid\" && data.viewer > 10\n    to: a\n",
			wantWarn: `warning: rule "raid": data.viewer:`},
		{name: "text + number, certain",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\"\n    to: a\n    set:\n      text: data.from_broadcaster_user_name + \" brings \" + data.viewers\n",
			wantErr: `text + number fails on every event: write the text as a template ("… {{ viewers }} …") or use string(data.viewers)`},
		{name: "string(number) is fine",
			rule: "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\"\n    to: a\n    set:\n      text: data.from_broadcaster_user_name + \" brings \" + string(data.viewers)\n"},
		{name: "trigger field compared with a number: probable",
			rule:     "  - name: t\n    when: source == \"trigger\" && data.test == 1\n    drop: true\n",
			wantWarn: `data.test is a string, so == with a number is never true: compare float(data.test) with the number, or data.test with a quoted text`},
		{name: "number field compared with text",
			rule:    "  - name: big\n    when: source == \"twitch\" && type == \"channel.cheer\" && data.bits >= \"100\"\n    to: a\n",
			wantErr: `data.bits is a number, so >= with a string fails on every event`},
		{name: "when that can never be true",
			rule:    "  - name: r\n    when: source == \"twitch\" && type == \"channel.raids\"\n    to: a\n",
			wantErr: `rule "r": when can never be true: ingress "twitch" (twitch) never sends type "channel.raids" (it sends: channel.raid, channel.cheer, channel.channel_points_custom_reward_redemption.add); did you mean "channel.raid"?`},
		{name: "unknown source",
			rule:     "  - name: r\n    when: source == \"twich\"\n    to: a\n",
			wantWarn: `no ingress named "twich" in this file`},
		{name: "nested fields",
			rule: "  - name: r\n    when: source == \"twitch\" && type == \"channel.channel_points_custom_reward_redemption.add\" && data.reward.cost > 5\n    to: a\n    set:\n      text: \"{{ reward.title }}\"\n"},
		{name: "a field herald does not know: the error says how to read it",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.brand_new_thing > 1\n    to: a\n",
			wantErr: `(a field herald does not know of yet: get(data, "brand_new_thing"))`},
		{name: "get(data, ...) reads it without the check",
			rule: "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && get(data, \"brand_new_thing\") > 1\n    to: a\n"},
		{name: "dynamic webhook: nothing checked",
			rule: "  - name: r\n    when: source == \"hook\" && data.anything + 1 > 2\n    to: a\n"},
		{name: "field inside a closure",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && all([1], data.viewer > 1)\n    to: a\n",
			wantErr: `data.viewer: "channel.raid" events have no field "viewer"; did you mean viewers?`},
		{name: "type in a list",
			rule:    "  - name: r\n    when: source == \"twitch\" && type in [\"channel.raid\", \"channel.cheer\"] && data.nope == \"x\"\n    to: a\n",
			wantErr: `data.nope: "channel.cheer" or "channel.raid" events have no field "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := rules.Parse("rules.yaml", []byte(twitchIngress+tc.rule), rules.Options{
				Getenv: testEnv, Shapes: testShapes, Builtin: map[string]string{"trigger": "trigger"}})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("Parse errors = %q, want %q", got, tc.wantErr)
			}
			if set == nil {
				return
			}
			warns := set.Warnings().Error()
			if tc.wantWarn == "" && warns != "" || !strings.Contains(warns, tc.wantWarn) {
				t.Errorf("Parse warnings = %q, want %q", warns, tc.wantWarn)
			}
		})
	}
}
