package rules_test

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/rules"
)

func event(source, typ, code string, data map[string]any) herald.Event {
	return herald.Event{ID: "ev1", Source: source, Type: typ, Code: code, Data: data,
		Received: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func mustParse(t testing.TB, src string) *rules.Set {
	t.Helper()
	set, err := rules.Parse("rules.yaml", []byte(src), rules.Options{Getenv: testEnv})
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return set
}

// brief is a delivery reduced to what a table can state.
type brief struct{ Room, Name, Rule string }

func briefs(ds []herald.Delivery) []brief {
	out := []brief{}
	for _, d := range ds {
		out = append(out, brief{d.Room, d.Name, d.Rule})
	}
	return out
}

func TestRoute(t *testing.T) {
	const chain = `version: 1
rules:
  - name: log-all-kofi
    when: source == "kofi"
    emit: LOG
    to: log
    continue: true
  - name: drop-test
    when: data.test == true
    drop: true
  - name: big
    when: source == "kofi" && data.amount >= 10
    emit: BIG
    to: [a, b, c]
    continue: true
  - name: any-donation
    when: '"Donation" == type'
    emit: DONATION
    to: a
  - name: rename-follow
    when: type == "follow"
    emit: FOLLOW
`
	tests := []struct {
		name     string
		rules    string
		ev       herald.Event
		want     []brief
		matched  []string
		dropped  bool
		unrouted bool
		errs     []string // rule names of runtime errors
	}{
		{name: "no rules, code: default route", rules: "version: 1",
			ev:   event("trigger", "new follow", "abc", nil),
			want: []brief{{"abc", "NEW_FOLLOW", ""}}},
		{name: "no rules, no code: unrouted", rules: "version: 1",
			ev: event("kofi", "Donation", "", nil), want: []brief{}, unrouted: true},
		{name: "continue chain and fan-out to three codes", rules: chain,
			ev: event("kofi", "Donation", "", map[string]any{"amount": 12.0}),
			want: []brief{{"log", "LOG", "log-all-kofi"}, {"a", "BIG", "big"}, {"b", "BIG", "big"},
				{"c", "BIG", "big"}, {"a", "DONATION", "any-donation"}},
			matched: []string{"log-all-kofi", "big", "any-donation"}},
		{name: "threshold not reached", rules: chain,
			ev:      event("kofi", "Donation", "", map[string]any{"amount": 9.99}),
			want:    []brief{{"log", "LOG", "log-all-kofi"}, {"a", "DONATION", "any-donation"}},
			matched: []string{"log-all-kofi", "any-donation"}},
		{name: "drop after continue keeps earlier deliveries", rules: chain,
			ev:      event("kofi", "Donation", "", map[string]any{"amount": 50.0, "test": true}),
			want:    []brief{{"log", "LOG", "log-all-kofi"}},
			matched: []string{"log-all-kofi", "drop-test"}, dropped: true},
		{name: "first match wins", rules: chain,
			ev:   event("trigger", "follow", "abc", nil),
			want: []brief{{"abc", "FOLLOW", "rename-follow"}}, matched: []string{"rename-follow"}},
		{name: "runtime error skips the rule, not the event", rules: chain,
			ev:      event("kofi", "Donation", "", map[string]any{"amount": "lots"}),
			want:    []brief{{"log", "LOG", "log-all-kofi"}, {"a", "DONATION", "any-donation"}},
			matched: []string{"log-all-kofi", "any-donation"}, errs: []string{"big"}},
		{name: "no code and no to: rule fails, event unrouted",
			rules: "version: 1\nrules:\n  - name: r\n    emit: X\n",
			ev:    event("kofi", "Donation", "", nil), want: []brief{}, unrouted: true, errs: []string{"r"}},
		{name: "failed rule falls back to the default route",
			rules: "version: 1\nrules:\n  - name: r\n    when: data.n > 1\n",
			ev:    event("trigger", "x", "abc", nil), want: []brief{{"abc", "X", ""}}, errs: []string{"r"}},
		{name: "emit expression", rules: "version: 1\nrules:\n  - name: r\n    emit: !expr 'upper(data.kind) + \"_ALERT\"'\n",
			ev:   event("trigger", "x", "abc", map[string]any{"kind": "sub"}),
			want: []brief{{"abc", "SUB_ALERT", "r"}}, matched: []string{"r"}},
		{name: "emit expression of the wrong type falls back to the event's name",
			rules: "version: 1\nrules:\n  - name: r\n    emit: !expr data.n\n",
			ev:    event("trigger", "x", "abc", map[string]any{"n": 1.0}),
			want:  []brief{{"abc", "X", "r"}}, matched: []string{"r"}, errs: []string{"r"}},
		{name: "an emit yielding a name Socket.IO keeps for itself falls back to the event's name",
			rules: "version: 1\nrules:\n  - name: r\n    emit: \"{{ name }}\"\n",
			ev:    event("trigger", "e", "abc", map[string]any{"name": "disconnect"}),
			want:  []brief{{"abc", "E", "r"}}, matched: []string{"r"}, errs: []string{"r"}},
		{name: "an emit expression yielding connect falls back too",
			rules: "version: 1\nrules:\n  - name: r\n    emit: !expr lower(data.title)\n",
			ev:    event("twitch", "channel.channel_points_custom_reward_redemption.add", "abc", map[string]any{"title": "Connect"}),
			want:  []brief{{"abc", "CHANNEL.CHANNEL_POINTS_CUSTOM_REWARD_REDEMPTION.ADD", "r"}}, matched: []string{"r"}, errs: []string{"r"}},
		{name: "a failing set field is left out, the alert still goes out",
			rules: "version: 1\nrules:\n  - name: raid\n    to: alerts\n    set:\n      text: data.from + \" brings \" + data.viewers\n      ok: '\"yes\"'\n",
			ev:    event("twitch", "channel.raid", "", map[string]any{"from": "ann", "viewers": 5.0}),
			want:  []brief{{"alerts", "CHANNEL.RAID", "raid"}}, matched: []string{"raid"}, errs: []string{"raid"}},
		{name: "a failing to item is left out, the others still get it",
			rules: "version: 1\nrules:\n  - name: r\n    to: [alerts, !expr data.room]\n",
			ev:    event("trigger", "x", "", map[string]any{"room": 3.0}),
			want:  []brief{{"alerts", "X", "r"}}, matched: []string{"r"}, errs: []string{"r"}},
		{name: "template emit and to",
			rules: "version: 1\nrules:\n  - name: r\n    emit: \"{{ kind | upper }}_ALERT\"\n    to: [\"{{ event.code }}-{{ room }}\"]\n",
			ev:    event("trigger", "x", "abc", map[string]any{"kind": "sub", "room": "chat"}),
			want:  []brief{{"abc-chat", "SUB_ALERT", "r"}}, matched: []string{"r"}},
		{name: "to expression list", rules: "version: 1\nrules:\n  - name: r\n    to: [fixed, !expr 'map(data.rooms, # + \"-x\")']\n",
			ev:   event("trigger", "x", "", map[string]any{"rooms": []any{"a", "b"}}),
			want: []brief{{"fixed", "X", "r"}, {"a-x", "X", "r"}, {"b-x", "X", "r"}}, matched: []string{"r"}},
		{name: "headers and time", rules: "version: 1\nrules:\n  - name: r\n    when: headers[\"X-Test\"] == \"1\" && time.Year() == 2025\n    to: t\n",
			ev: func() herald.Event {
				ev := event("webhook", "x", "", nil)
				ev.Headers = map[string]string{"X-Test": "1"}
				return ev
			}(),
			want: []brief{{"t", "X", "r"}}, matched: []string{"r"}},
		{name: "catch-all drop turns the default route off",
			rules: "version: 1\nrules:\n  - name: nothing-else\n    drop: true\n",
			ev:    event("trigger", "x", "abc", nil), want: []brief{}, matched: []string{"nothing-else"}, dropped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustParse(t, tc.rules).Route(tc.ev)
			if got := briefs(res.Deliveries); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Route deliveries = %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(res.Matched, tc.matched) {
				t.Errorf("Route matched = %q, want %q", res.Matched, tc.matched)
			}
			if res.Dropped != tc.dropped || res.Unrouted != tc.unrouted {
				t.Errorf("Route dropped, unrouted = %v, %v, want %v, %v", res.Dropped, res.Unrouted, tc.dropped, tc.unrouted)
			}
			var errs []string
			for _, e := range res.Errors {
				errs = append(errs, e.Rule)
			}
			if !reflect.DeepEqual(errs, tc.errs) {
				t.Errorf("Route errors = %v, want rules %q", res.Errors, tc.errs)
			}
			for _, d := range res.Deliveries {
				if d.EventID != tc.ev.ID || d.Source != tc.ev.Source || !d.Time.Equal(tc.ev.Received) {
					t.Errorf("delivery %+v does not carry the event's id, source and time", d)
				}
			}
		})
	}
}

func TestRuntimeErrorPosition(t *testing.T) {
	set := mustParse(t, "version: 1\nrules:\n  - name: big\n    when: source == \"kofi\" && data.amount >= 10\n")
	res := set.Route(event("kofi", "Donation", "", map[string]any{}))
	if len(res.Errors) != 1 {
		t.Fatalf("Route errors = %v, want one", res.Errors)
	}
	got := res.Errors[0].Error()
	if !strings.HasPrefix(got, `rules.yaml:4:`) || !strings.Contains(got, `rule "big": when: `) || strings.Count(got, `rule "big"`) != 1 {
		t.Errorf("runtime error = %q, want it at rules.yaml:4 naming the rule once", got)
	}
}

// TestRuleWithNoRoomLeftIsSkipped: when every to item of a rule fails,
// the rule did nothing: its failure is one "skipped" error, not items
// "left out" of an alert that (the log would then say) still went out.
func TestRuleWithNoRoomLeftIsSkipped(t *testing.T) {
	set := mustParse(t, "version: 1\nrules:\n  - name: r\n    to: \"{{ room }}\"\n    emit: TO_T\n")
	res := set.Route(event("webhook", "x", "", map[string]any{}))
	if len(res.Errors) != 1 || !res.Errors[0].Skipped() || !strings.Contains(res.Errors[0].Error(), "no room to send to") {
		t.Fatalf("Route errors = %v, want the rule skipped once for having no room", res.Errors)
	}
	if !res.Unrouted || len(res.Deliveries) != 0 {
		t.Errorf("Route = %+v, want the event unrouted", res)
	}
}

func TestSetCopiesPayload(t *testing.T) {
	set := mustParse(t, `version: 1
rules:
  - name: r
    to: room
    set:
      text: data.name + " followed"
      name: upper(data.name)
`)
	data := map[string]any{"name": "ann", "other": 1.0}
	before := maps.Clone(data)
	res := set.Route(event("trigger", "follow", "", data))
	if !maps.Equal(data, before) {
		t.Errorf("Route changed the event's data: %v, was %v", data, before)
	}
	want := map[string]any{"name": "ANN", "other": 1.0, "text": "ann followed"}
	if got := res.Deliveries[0].Payload; !reflect.DeepEqual(got, want) {
		t.Errorf("payload = %v, want %v", got, want)
	}
}

func TestDefaultPayloadIsData(t *testing.T) {
	data := map[string]any{"k": "v"}
	res := rules.Empty().Route(event("trigger", "x", "abc", data))
	if got := res.Deliveries[0].Payload; !reflect.DeepEqual(got, data) {
		t.Errorf("payload = %v, want the event's data", got)
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	set := mustParse(t, `version: 1
rules:
  - name: r
    emit: FOLLOW
    set: {text: '"hi"'}
tests:
  - name: passes
    event: {type: follow, code: abc}
    expect: [{room: abc, name: FOLLOW, payload: {text: hi}}]
  - name: wrong name
    event: {type: follow, code: abc}
    expect:
      - {room: abc, name: FOLOW, payload: {text: ho, missing: 1}}
  - name: wrong count
    event: {type: follow, code: abc}
    expect: []
`)
	results := set.RunTests()
	var got []string
	for _, r := range results {
		if !r.Passed() {
			got = append(got, r.Failures.Error())
		}
	}
	want := []string{
		"rules.yaml:13:9: test \"wrong name\": delivery 1: name = \"FOLLOW\", want \"FOLOW\"\n" +
			"rules.yaml:13:9: test \"wrong name\": delivery 1: payload.missing missing, want 1\n" +
			"rules.yaml:13:9: test \"wrong name\": delivery 1: payload.text = \"hi\", want \"ho\"",
		"rules.yaml:14:11: test \"wrong count\": got 1 deliveries, want 0 (got: FOLLOW to abc by r)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RunTests failures:\n%q\nwant:\n%q", got, want)
	}
}
