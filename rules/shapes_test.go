package rules_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/rules"
)

// testShapes stands in for the ingress registry: twitch with three of its
// types, Ko-fi with one (a text amount and a boolean), an open trigger whose fields are strings, and a
// dynamic webhook.
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
	case "kofi":
		return []herald.Shape{{Type: "Donation", Fields: map[string]herald.Kind{"amount": herald.KindString, "is_public": herald.KindBool}}}, true
	case "trigger":
		return []herald.Shape{{Rest: herald.KindString}}, true
	}
	return nil, false
}

// testOpenTypes stands in for the open-types registry: twitch sends any
// EventSub type, the others only what their shapes list.
func testOpenTypes(typ string) *regexp.Regexp {
	if typ == "twitch" {
		return regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
	}
	return nil
}

// testCodeless stands in for the codeless registry: Twitch and Ko-fi
// events never carry a code, a webhook's only from its code: option.
func testCodeless(typ string) (string, bool) {
	switch typ {
	case "twitch", "kofi":
		return "", true
	case "webhook":
		return "code", true
	}
	return "", false
}

const twitchIngress = "version: 1\ningress:\n  twitch: {type: twitch, path: /twitch, secret: x}\n  hook: {type: webhook, path: /hook}\nrules:\n"

// subscribedIngress declares Twitch subscriptions, one of them to a type
// herald has no shape for and one a near miss of a known type.
const subscribedIngress = "version: 1\ningress:\n  twitch:\n    type: twitch\n    path: /twitch\n    secret: x\n" +
	"    subscriptions: [channel.raid, channel.raids, {type: channel.ban, version: \"1\"}]\n  kofi: {type: kofi, path: /kofi}\nrules:\n"

func TestShapeChecks(t *testing.T) {
	tests := []struct {
		name     string
		head     string // the file before rule; twitchIngress when ""
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
		{name: "text + number in a when: the types, not a template",
			head:    subscribedIngress,
			rule:    "  - name: big\n    when: source == \"kofi\" && type == \"Donation\" && data.amount + 1 > 5\n    to: a\n",
			wantErr: `rules.yaml:11:65: rule "big": when: text + number fails on every event: the types do not match (data.amount is text); use float(data.amount) to add to it`},
		{name: "number + text in a when",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers + \"x\" == \"5x\"\n    to: a\n",
			wantErr: `the types do not match (data.viewers is a number); compare numbers, or use string(data.viewers)`},
		{name: "a trigger parameter joined to text, + a number: certain",
			rule:    "  - name: f\n    when: source == \"trigger\" && type == \"follow\"\n    to: a\n    set:\n      text: 'data.user + \" followed, follower #\" + len(data.user)'\n",
			wantErr: `rules.yaml:10:50: rule "f": set.text: text + number fails on every event: write the text as a template instead`},
		{name: "a trigger parameter + a number: probable (a POST may send a number)",
			rule:     "  - name: f\n    when: source == \"trigger\" && type == \"follow\"\n    to: a\n    set:\n      next: data.n + 1\n",
			wantWarn: `warning: rule "f": set.next: text + number fails on every event`},
		{name: "string(number) is fine",
			rule: "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\"\n    to: a\n    set:\n      text: data.from_broadcaster_user_name + \" brings \" + string(data.viewers)\n"},
		{name: "trigger field compared with a number: probable",
			rule:     "  - name: t\n    when: source == \"trigger\" && data.test == 1\n    drop: true\n",
			wantWarn: `data.test is a string, so == with a number is never true: compare float(data.test) with the number, or data.test with a quoted text`},
		{name: "number field compared with text",
			rule:    "  - name: big\n    when: source == \"twitch\" && type == \"channel.cheer\" && data.bits >= \"100\"\n    to: a\n",
			wantErr: `data.bits is a number, so >= with a string fails on every event`},
		{name: "arithmetic on a text field, certain",
			head:    subscribedIngress,
			rule:    "  - name: double\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      twice: data.amount * 2\n",
			wantErr: `rules.yaml:14:26: rule "double": set.twice: data.amount is a string, so * with a number fails on every event: write float(data.amount) * 2`},
		{name: "a number minus a text field",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && 100 - data.amount > 5\n    to: a\n",
			wantErr: `rules.yaml:11:57: rule "r": when: data.amount is a string, so - with a number fails on every event: write 100 - float(data.amount)`},
		{name: "a text field divided by a text field",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      one: data.amount / data.amount\n",
			wantErr: `rules.yaml:14:24: rule "r": set.one: data.amount is a string, so / fails on every event: write float(data.amount) / float(data.amount)`},
		{name: "the remainder of a text field: whole numbers only",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.amount % 2 == 0\n    to: a\n",
			wantErr: `rules.yaml:11:65: rule "r": when: data.amount is a string, so % with a number fails on every event: write int(float(data.amount)) % 2`},
		{name: "the remainder of a number field: a float to %, certain",
			rule:    "  - name: round\n    when: source == \"twitch\" && type == \"channel.cheer\" && data.bits % 100 == 0\n    to: a\n",
			wantErr: `rules.yaml:7:70: rule "round": when: data.bits is a number, which expressions read as a float, and % takes integers only, so it fails on every event: write int(data.bits) % 100`},
		{name: "a number field on the right of %, in a set",
			rule:    "  - name: r\n    when: source == \"twitch\" && type == \"channel.cheer\"\n    to: a\n    set:\n      left: 1000 % data[\"bits\"]\n",
			wantErr: `rules.yaml:10:18: rule "r": set.left: data.bits is a number, which expressions read as a float, and % takes integers only, so it fails on every event: write 1000 % int(data.bits)`},
		{name: "the remainder of a number field by type alone: probable",
			rule:     "  - name: r\n    when: type == \"channel.cheer\" && data.bits % 2 == 0\n    to: a\n",
			wantWarn: `rules.yaml:7:48: warning: rule "r": when: data.bits is a number, which expressions read as a float, and % takes integers only, so it fails on every event: write int(data.bits) % 2`},
		{name: "a text field by a number field: both converted",
			rule:    "  - name: r\n    when: source == \"twitch\" && type == \"channel.cheer\"\n    to: a\n    set:\n      odd: data.message % data.bits\n",
			wantErr: `rules.yaml:10:25: rule "r": set.odd: data.message is a string, so % with a number fails on every event: write int(float(data.message)) % int(data.bits)`},
		{name: "the remainder of int(…), len(…) and literals is fine",
			rule: "  - name: r\n    when: source == \"twitch\" && type == \"channel.cheer\" && int(data.bits) % 100 == 0 && len(data.message) % 2 == 0\n    to: a\n" +
				"    set:\n      months: int(data.bits) % 12\n      seven: 7 % 2\n"},
		{name: "a power of a text field, both spellings",
			head: subscribedIngress,
			rule: "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      sq: data.amount ** 2\n      cube: data[\"amount\"] ^ 3\n",
			wantErr: "rules.yaml:14:23: rule \"r\": set.sq: data.amount is a string, so ** with a number fails on every event: write float(data.amount) ** 2\n" +
				`rules.yaml:15:28: rule "r": set.cube: data.amount is a string, so ^ with a number fails on every event: write float(data.amount) ^ 3`},
		{name: "a minus sign before a text field",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      refund: -data.amount\n",
			wantErr: `rules.yaml:14:15: rule "r": set.refund: data.amount is a string, so a minus sign before it fails on every event: write -float(data.amount)`},
		{name: "arithmetic on a trigger parameter: probable, int or float",
			rule: "  - name: t\n    when: source == \"trigger\"\n    set:\n      months: data.months * 12\n      odd: data.n % 2\n",
			wantWarn: "rules.yaml:9:27: warning: rule \"t\": set.months: data.months is a string, so * with a number fails on every event: write float(data.months) * 12 (or int(data.months) * 12 for whole numbers)\n" +
				`rules.yaml:10:19: warning: rule "t": set.odd: data.n is a string, so % with a number fails on every event: write int(data.n) % 2`},
		{name: "arithmetic on a type alone: probable",
			head:     subscribedIngress,
			rule:     "  - name: r\n    when: type == \"Donation\" && -data.amount < 0\n    to: a\n",
			wantWarn: `rules.yaml:11:33: warning: rule "r": when: data.amount is a string, so a minus sign before it fails on every event: write -float(data.amount)`},
		{name: "a text field ordered against a number: convert it, quoting would compare letters",
			head:    subscribedIngress,
			rule:    "  - name: big\n    when: source == \"kofi\" && type == \"Donation\" && data.amount >= 10\n    to: a\n",
			wantErr: `rules.yaml:11:65: rule "big": when: data.amount is a string, so >= with a number fails on every event: write float(data.amount) >= 10`},
		{name: "a trigger parameter ordered against a number: probable",
			rule:     "  - name: t\n    when: source == \"trigger\" && 5 < data.n\n    drop: true\n",
			wantWarn: `rules.yaml:7:36: warning: rule "t": when: data.n is a string, so < with a number fails on every event: write 5 < float(data.n)`},
		{name: "converted text fields are fine",
			head: subscribedIngress,
			rule: "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && float(data.amount) >= 10 && int(float(data.amount)) % 2 == 0\n    to: a\n" +
				"    set:\n      twice: float(data.amount) * 2\n      refund: -float(data.amount)\n      sq: float(data.amount) ** 2\n"},
		{name: "a boolean field compared with quoted text: never true",
			head:    subscribedIngress,
			rule:    "  - name: double\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      flag: data.is_public == \"false\"\n",
			wantErr: `rules.yaml:14:28: rule "double": set.flag: data.is_public is a boolean, so == with a string is never true: write data.is_public == false`},
		{name: "a boolean field unequal to quoted text: always true",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && \"true\" != data.is_public\n    to: a\n",
			wantErr: `rules.yaml:11:60: rule "r": when: data.is_public is a boolean, so != with a string is always true: write true != data.is_public`},
		{name: "a boolean field compared with other text",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.is_public == \"yes\"\n    to: a\n",
			wantErr: `rules.yaml:11:68: rule "r": when: data.is_public is a boolean, so == with a string is never true: compare data.is_public with true or false, without quotes`},
		{name: "a boolean field compared with a number",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.is_public == 1\n    to: a\n",
			wantErr: `rules.yaml:11:68: rule "r": when: data.is_public is a boolean, so == with a number is never true: compare data.is_public with true or false`},
		{name: "a number field compared with quoted digits: the number without quotes",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers == \"10\"\n    to: a\n",
			wantErr: `rules.yaml:7:72: rule "raid": when: data.viewers is a number, so == with a string is never true: write data.viewers == 10`},
		{name: "a number field compared with a boolean",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers != false\n    to: a\n",
			wantErr: `rules.yaml:7:72: rule "raid": when: data.viewers is a number, so != with a boolean is always true: compare data.viewers with a number`},
		{name: "a trigger parameter compared with a boolean: probable",
			rule:     "  - name: t\n    when: source == \"trigger\" && data.test == true\n    drop: true\n",
			wantWarn: `rules.yaml:7:44: warning: rule "t": when: data.test is a string, so == with a boolean is never true: write data.test == "true"`},
		{name: "a boolean field compared with a boolean is fine",
			head: subscribedIngress,
			rule: "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.is_public == false && data.is_public != true\n    to: a\n"},
		{name: "a number field in a list of quoted numbers: fails, the numbers without quotes, in the order written",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers in [\"5\", \"10\"]\n    to: a\n",
			wantErr: `rules.yaml:7:72: rule "raid": when: data.viewers is a number, so in with a list of strings fails on every event: write data.viewers in [5, 10]`},
		{name: "a boolean field in a list of quoted booleans",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.is_public in [\"true\"]\n    to: a\n",
			wantErr: `rules.yaml:11:68: rule "r": when: data.is_public is a boolean, so in with a list of strings fails on every event: write data.is_public in [true]`},
		{name: "not in a list of quoted numbers fails too",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data[\"viewers\"] not in [\"10\"]\n    to: a\n",
			wantErr: `rules.yaml:7:79: rule "raid": when: data.viewers is a number, so not in with a list of strings fails on every event: write data.viewers not in [10]`},
		{name: "a number field in a list of other texts",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers in [\"ten\", \"20\"]\n    to: a\n",
			wantErr: `rules.yaml:7:72: rule "raid": when: data.viewers is a number, so in with a list of strings fails on every event: compare data.viewers with numbers, without quotes`},
		{name: "a text field in a list of numbers: never true",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.amount in [5, 10]\n    to: a\n",
			wantErr: `rules.yaml:11:65: rule "r": when: data.amount is a string, so in with a list of numbers is never true: compare float(data.amount) with the numbers, or data.amount with quoted texts`},
		{name: "a text field not in a list of numbers: always true",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      odd: data.amount not in [1, 2.5]\n",
			wantErr: `rules.yaml:14:28: rule "r": set.odd: data.amount is a string, so not in with a list of numbers is always true: compare float(data.amount) with the numbers, or data.amount with quoted texts`},
		{name: "a boolean field in a list of numbers, negated with not (…): the in is never true",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && not (data.is_public in [0, 1])\n    to: a\n",
			wantErr: `rules.yaml:11:73: rule "r": when: data.is_public is a boolean, so in with a list of numbers is never true: compare data.is_public with true or false`},
		{name: "a trigger parameter in a list of booleans: probable, the booleans quoted",
			rule:     "  - name: t\n    when: source == \"trigger\" && data.test in [true, false]\n    drop: true\n",
			wantWarn: `rules.yaml:7:44: warning: rule "t": when: data.test is a string, so in with a list of booleans is never true: write data.test in ["true", "false"]`},
		{name: "a list of texts the optimiser makes no set of: compared item by item, never true",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers in [\"1\" + \"0\"]\n    to: a\n",
			wantErr: `rules.yaml:7:72: rule "raid": when: data.viewers is a number, so in with a list of strings is never true: write data.viewers in [10]`},
		{name: "lists of the field's kind, mixed lists and lists not written out are fine",
			rule: "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.viewers in [10, 20.5] && data.viewers not in [1]" +
				" && data.from_broadcaster_user_name in [\"a\", \"b\"] && data.viewers in [\"10\", 20] && data.viewers in [data.viewers, \"1\"] && data.viewers in []\n    to: a\n"},
		{name: "a boolean field in arithmetic: fails whatever the other side",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      twice: data.is_public * 2\n",
			wantErr: `rules.yaml:14:29: rule "r": set.twice: data.is_public is a boolean, so * with a number fails on every event`},
		{name: "a boolean field ordered against a number",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.is_public < 1\n    to: a\n",
			wantErr: `rules.yaml:11:68: rule "r": when: data.is_public is a boolean, so < with a number fails on every event`},
		{name: "text + a boolean field in a set: a template",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      text: '\"public \" + data.is_public'\n",
			wantErr: `rules.yaml:14:24: rule "r": set.text: data.is_public is a boolean, so + with a string fails on every event: write the text as a template ("… {{ is_public }} …") or use string(data.is_public)`},
		{name: "text + a boolean field in a when: string(…)",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\" && data.amount + data.is_public != \"\"\n    to: a\n",
			wantErr: `rules.yaml:11:65: rule "r": when: data.is_public is a boolean, so + with a string fails on every event: use string(data.is_public)`},
		{name: "a minus sign before a boolean field",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      neg: -data.is_public\n",
			wantErr: `rules.yaml:14:12: rule "r": set.neg: data.is_public is a boolean, so a minus sign before it fails on every event`},
		{name: "a boolean field ordered, by type alone: probable",
			head:     subscribedIngress,
			rule:     "  - name: r\n    when: type == \"Donation\" && 1 <= data.is_public\n    to: a\n",
			wantWarn: `rules.yaml:11:35: warning: rule "r": when: data.is_public is a boolean, so <= with a number fails on every event`},
		{name: "a boolean field as a condition, compared or converted is fine",
			head: subscribedIngress,
			rule: "  - name: r\n    when: 'source == \"kofi\" && type == \"Donation\" && data.is_public && !data.is_public == false && (data.is_public ? 1 : 0) * 2 > 1'\n    to: a\n" +
				"    set:\n      text: '\"public \" + string(data.is_public)'\n      flag: \"{{ is_public }}\"\n"},
		{name: "a near miss of a Twitch type is a warning: Twitch may send it",
			rule:     "  - name: r\n    when: source == \"twitch\" && type == \"channel.raids\"\n    to: a\n",
			wantWarn: `rules.yaml:7:11: warning: rule "r": when: ingress "twitch" (twitch) has no type "channel.raids" that herald knows of; did you mean "channel.raid"?`},
		{name: "a near miss the file subscribes to is not doubted",
			head: subscribedIngress,
			rule: "  - name: r\n    when: source == \"twitch\" && type == \"channel.raids\"\n    to: a\n"},
		{name: "a Twitch type herald has no shape for is not checked",
			rule: "  - name: ban\n    when: source == \"twitch\" && type == \"channel.ban\" && data.reason != \"\"\n    to: a\n"},
		{name: "a subscribed type herald has no shape for is not checked",
			head: subscribedIngress,
			rule: "  - name: ban\n    when: source == \"twitch\" && type == \"channel.ban\" && data.reason != \"\"\n    to: a\n"},
		{name: "Twitch chat messages",
			rule: "  - name: chat\n    when: source == \"twitch\" && type in [\"channel.chat.message\", \"channel.chat.notification\"]\n    to: a\n"},
		{name: "Twitch vip.add, by type alone",
			rule: "  - name: vip\n    when: type == \"channel.vip.add\"\n    to: a\n"},
		{name: "Twitch user.update",
			rule: "  - name: u\n    when: source == \"twitch\" && type == \"user.update\"\n    to: a\n"},
		{name: "a known and an unshaped type: the fields could be either's",
			rule: "  - name: r\n    when: source == \"twitch\" && type in [\"channel.raid\", \"channel.ban\"] && data.reason != \"\"\n    to: a\n"},
		{name: "not an EventSub type: Twitch never sends it",
			rule:    "  - name: r\n    when: source == \"twitch\" && type == \"Channel.Raid\"\n    to: a\n",
			wantErr: `rules.yaml:7:11: rule "r": when can never be true: ingress "twitch" (twitch) never sends type "Channel.Raid" (it sends: channel.raid, channel.cheer, channel.channel_points_custom_reward_redemption.add); did you mean "channel.raid"?`},
		{name: "Ko-fi's types are a closed set",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"Donations\"\n    to: a\n",
			wantErr: `rule "r": when can never be true: ingress "kofi" (kofi) never sends type "Donations" (it sends: Donation); did you mean "Donation"?`},
		{name: "Ko-fi never sends a Twitch type",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source == \"kofi\" && type == \"channel.ban\"\n    to: a\n",
			wantErr: `rule "r": when can never be true: ingress "kofi" (kofi) never sends type "channel.ban" (it sends: Donation)`},
		{name: "type cannot be two things",
			rule:    "  - name: r\n    when: source == \"twitch\" && type == \"channel.raid\" && type == \"channel.cheer\"\n    to: a\n",
			wantErr: `rules.yaml:7:59: rule "r": when can never be true: type cannot be both "channel.raid" and "channel.cheer"`},
		{name: "source cannot be two things",
			rule:    "  - name: r\n    when: source == \"kofi\" && source == \"twitch\"\n    to: a\n",
			wantErr: `rules.yaml:7:31: rule "r": when can never be true: source cannot be both "kofi" and "twitch"`},
		{name: "a list and a value outside it",
			rule:    "  - name: r\n    when: type in [\"channel.raid\", \"channel.cheer\"] && \"stream.online\" == type\n    to: a\n",
			wantErr: `rules.yaml:7:56: rule "r": when can never be true: type cannot be both one of "channel.cheer", "channel.raid" and "stream.online"`},
		{name: "unknown source",
			rule:     "  - name: r\n    when: source == \"twich\"\n    to: a\n",
			wantWarn: `no ingress named "twich" in this file`},
		{name: "nested fields",
			rule: "  - name: r\n    when: source == \"twitch\" && type == \"channel.channel_points_custom_reward_redemption.add\" && data.reward.cost > 5\n    to: a\n    set:\n      text: \"{{ reward.title }}\"\n"},
		{name: "a field herald does not know: the error says how to read it",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && data.brand_new_thing > 1\n    to: a\n",
			wantErr: `(a field herald does not know of yet: get(data, "brand_new_thing"))`},
		{name: "a field herald does not know, in a template: the error says how to read it there",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\"\n    to: a\n    set:\n      text: \"{{ brand_new_thing }} raids\"\n",
			wantErr: `(a field herald does not know of yet: write the value as an expression that reads it with get(), e.g. '"… " + string(get(data, "brand_new_thing"))')`},
		{name: "get(data, ...) reads it without the check",
			rule: "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && get(data, \"brand_new_thing\") > 1\n    to: a\n"},
		{name: "dynamic webhook: nothing checked",
			rule: "  - name: r\n    when: source == \"hook\" && data.anything + 1 > 2\n    to: a\n"},
		{name: "field inside a closure",
			rule:    "  - name: raid\n    when: source == \"twitch\" && type == \"channel.raid\" && all([1], data.viewer > 1)\n    to: a\n",
			wantErr: `data.viewer: "channel.raid" events have no field "viewer"; did you mean viewers?`},
		{name: "no to for events without a code: every alert lost",
			head:    subscribedIngress,
			rule:    "  - name: don\n    when: source == \"kofi\" && type == \"Donation\"\n    emit: DONATION\n",
			wantErr: `rules.yaml:10:11: rule "don": no to, and ingress "kofi" (kofi) sends events without a code, so this rule could never send one: add to: with the room the alerts go to (the code of the page that shows them)`},
		{name: "no to for Twitch or Ko-fi",
			head:    subscribedIngress,
			rule:    "  - name: r\n    when: source in [\"twitch\", \"kofi\"]\n",
			wantErr: `rule "r": no to, and ingress "kofi" (kofi) or ingress "twitch" (twitch) sends events without a code`},
		{name: "no to for a webhook without a code expression",
			rule:    "  - name: r\n    when: source == \"hook\"\n",
			wantErr: `rule "r": no to, and ingress "hook" (webhook) sends events without a code, so this rule could never send one: add to: with the room the alerts go to (the code of the page that shows them), or set code: on ingress "hook"`},
		{name: "no to for a webhook with a code expression",
			head: "version: 1\ningress:\n  hook: {type: webhook, path: /hook, code: data.room}\nrules:\n",
			rule: "  - name: r\n    when: source == \"hook\"\n"},
		{name: "no to for a trigger: the code is the URL's",
			rule: "  - name: r\n    when: source == \"trigger\"\n"},
		{name: "no to, one source with a code",
			rule: "  - name: r\n    when: source in [\"trigger\", \"twitch\"]\n"},
		{name: "no to in a drop rule",
			rule: "  - name: r\n    when: source == \"twitch\" && type == \"channel.raid\"\n    drop: true\n"},
		{name: "no to, types only: a warning",
			rule:     "  - name: r\n    when: type == \"channel.raid\"\n",
			wantWarn: `rules.yaml:6:11: warning: rule "r": no to, and ingress "hook" (webhook) or ingress "twitch" (twitch) sends "channel.raid" events without a code: those go nowhere; add to: with the room`},
		{name: "no to, a type only a trigger sends",
			head: subscribedIngress,
			rule: "  - name: r\n    when: type == \"follow\"\n"},
		{name: "type in a list",
			rule:    "  - name: r\n    when: source == \"twitch\" && type in [\"channel.raid\", \"channel.cheer\"] && data.nope == \"x\"\n    to: a\n",
			wantErr: `data.nope: "channel.cheer" or "channel.raid" events have no field "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := tc.head
			if head == "" {
				head = twitchIngress
			}
			set, err := rules.Parse("rules.yaml", []byte(head+tc.rule), rules.Options{
				Getenv: testEnv, Shapes: testShapes, OpenTypes: testOpenTypes, Codeless: testCodeless, Builtin: map[string]string{"trigger": "trigger"}})
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

// TestParseErrorKeepsWarnings: a file that does not load still says what
// it warned about, for herald check to show beside the errors; the
// error's text is the errors alone, as reload logs and golden files read.
func TestParseErrorKeepsWarnings(t *testing.T) {
	file := subscribedIngress +
		"  - name: public\n    when: type == \"Donation\" && data.is_public == \"true\"\n    to: a\n" +
		"  - name: double\n    when: source == \"kofi\" && type == \"Donation\"\n    to: a\n    set:\n      twice: data.amount * 2\n"
	_, err := rules.Parse("rules.yaml", []byte(file), rules.Options{Getenv: testEnv, Shapes: testShapes, OpenTypes: testOpenTypes})
	var le *rules.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Parse error = %#v, want a *rules.LoadError", err)
	}
	if got, want := err.Error(), `rules.yaml:17:26: rule "double": set.twice: data.amount is a string, so * with a number fails on every event: write float(data.amount) * 2`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if got, want := le.Warnings.Error(), `rules.yaml:11:48: warning: rule "public": when: data.is_public is a boolean, so == with a string is never true: write data.is_public == true`; got != want {
		t.Errorf("warnings = %q, want %q", got, want)
	}
	var list yamlpos.List
	if !errors.As(err, &list) || len(list) != 1 {
		t.Errorf("errors.As(yamlpos.List) = %v", list)
	}
}
