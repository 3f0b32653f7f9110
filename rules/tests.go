package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// testCase is one entry of the file's tests: list.
type testCase struct {
	name   string
	pos    yamlpos.Pos
	event  herald.Event
	expect []expectation
}

// expectation is one delivery a test wants: room and name exactly, rule
// if given, and payload as a subset (only the fields listed are checked).
type expectation struct {
	pos     yamlpos.Pos
	room    string
	name    string
	rule    string
	payload map[string]any
}

// EventSpec is an event as users write it: in a test of the rules file
// (YAML) or for `herald route --event` (JSON).
type EventSpec struct {
	ID      string            `yaml:"id" json:"id"`
	Source  string            `yaml:"source" json:"source"`
	Type    string            `yaml:"type" json:"type"`
	Code    string            `yaml:"code" json:"code"`
	Data    map[string]any    `yaml:"data" json:"data"`
	Headers map[string]string `yaml:"headers" json:"headers"`
	Time    time.Time         `yaml:"time" json:"time"`
}

// Event turns the spec into the event an ingress would publish. Data goes
// through JSON so numbers are float64, as they are in real events.
func (e EventSpec) Event() (herald.Event, error) {
	data, err := normalize(e.Data)
	if err != nil {
		return herald.Event{}, fmt.Errorf("data: %w", err)
	}
	m, _ := data.(map[string]any)
	return herald.Event{ID: e.ID, Source: e.Source, Type: e.Type, Code: e.Code,
		Data: m, Headers: e.Headers, Received: e.Time}, nil
}

// normalize gives v the shape encoding/json would: float64 numbers,
// map[string]any objects.
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

func (p *parser) testsSection(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "tests: expected a list of tests, got %s", describe(n))
		return
	}
	names := map[string]yamlpos.Pos{}
	for i, item := range n.Content {
		tc, ok := p.testCase(deref(item), i)
		if !ok {
			continue
		}
		if first, dup := names[tc.name]; dup {
			p.errs.Add(p.ownPos(item, tc.pos), "duplicate test name %q (first at %s)", tc.name, first)
			continue
		}
		names[tc.name] = tc.pos
		p.set.tests = append(p.set.tests, tc)
	}
}

func (p *parser) testCase(n *yaml.Node, i int) (testCase, bool) {
	f := p.fields(n, fmt.Sprintf("test %d", i+1), []string{"name", "event", "expect"}, "name", "event", "expect")
	if f == nil || f["name"] == nil || f["event"] == nil || f["expect"] == nil {
		return testCase{}, false
	}
	name, ok := p.str(f["name"], fmt.Sprintf("test %d: name", i+1))
	if !ok {
		return testCase{}, false
	}
	tc := testCase{name: name, pos: yamlpos.At(p.file, f["name"])}
	what := fmt.Sprintf("test %q", name)
	var spec EventSpec
	before := len(p.errs)
	p.errs.Append(yamlpos.At(p.file, f["event"]), yamlpos.DecodeStrict(p.file, f["event"], &spec))
	if len(p.errs) > before {
		return testCase{}, false
	}
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("test-%d", i+1)
	}
	ev, err := spec.Event()
	if err != nil {
		p.errorf(f["event"], "%s: event: %v", what, err)
		return testCase{}, false
	}
	tc.event = ev
	e := f["expect"]
	if e.Kind != yaml.SequenceNode {
		p.errorf(e, "%s: expect: expected a list of deliveries ([] for dropped or unrouted), got %s", what, describe(e))
		return testCase{}, false
	}
	for j, item := range e.Content {
		x, ok := p.expectation(deref(item), fmt.Sprintf("%s: expect %d", what, j+1))
		if !ok {
			return testCase{}, false
		}
		tc.expect = append(tc.expect, x)
	}
	return tc, true
}

func (p *parser) expectation(n *yaml.Node, what string) (expectation, bool) {
	f := p.fields(n, what, []string{"room", "name", "rule", "payload"}, "room", "name")
	if f == nil || f["room"] == nil || f["name"] == nil {
		return expectation{}, false
	}
	x := expectation{pos: yamlpos.At(p.file, n)}
	var ok1, ok2, ok3 = true, true, true
	x.room, ok1 = p.str(f["room"], what+": room")
	x.name, ok2 = p.str(f["name"], what+": name")
	if r := f["rule"]; r != nil {
		x.rule, ok3 = p.str(r, what+": rule")
	}
	if pl := f["payload"]; pl != nil {
		var m map[string]any
		if pl.Kind != yaml.MappingNode || pl.Decode(&m) != nil {
			p.errorf(pl, "%s: payload: expected a mapping of field: value, got %s", what, describe(pl))
			return expectation{}, false
		}
		v, err := normalize(m)
		if err != nil {
			p.errorf(pl, "%s: payload: %v", what, err)
			return expectation{}, false
		}
		x.payload, _ = v.(map[string]any)
	}
	return x, ok1 && ok2 && ok3
}

// TestResult is the outcome of one test of the rules file.
type TestResult struct {
	// Name is the test's name; Pos where it is.
	Name string
	Pos  yamlpos.Pos
	// Route is what routing the test's event produced.
	Route Result
	// Failures says what differed, each at the test or the expectation it
	// concerns; empty means the test passed.
	Failures yamlpos.List
}

// Passed reports whether the test passed.
func (r TestResult) Passed() bool { return len(r.Failures) == 0 }

// Tests is the number of tests the file holds.
func (s *Set) Tests() int { return len(s.tests) }

// RunTests routes each test's event and compares the deliveries with the
// expected ones. A rule failing on a test's event fails the test.
func (s *Set) RunTests() []TestResult {
	out := make([]TestResult, 0, len(s.tests))
	for _, tc := range s.tests {
		res := s.Route(tc.event)
		out = append(out, TestResult{Name: tc.name, Pos: tc.pos, Route: res, Failures: tc.check(res)})
	}
	return out
}

func (tc testCase) check(res Result) yamlpos.List {
	var fails yamlpos.List
	what := fmt.Sprintf("test %q", tc.name)
	for _, e := range res.Errors {
		// An expression's message names its rule already.
		msg := strings.TrimPrefix(e.Err.Error(), fmt.Sprintf("rule %q: ", e.Rule))
		fails.Add(tc.pos, "%s: rule %q failed: %s (at %s)", what, e.Rule, msg, e.Pos)
	}
	if len(res.Deliveries) != len(tc.expect) {
		fails.Add(tc.pos, "%s: got %d deliveries, want %d (got: %s)", what,
			len(res.Deliveries), len(tc.expect), summary(res))
		return fails
	}
	for i, x := range tc.expect {
		d := res.Deliveries[i]
		w := fmt.Sprintf("%s: delivery %d", what, i+1)
		if d.Room != x.room {
			fails.Add(x.pos, "%s: room = %q, want %q", w, d.Room, x.room)
		}
		if d.Name != x.name {
			fails.Add(x.pos, "%s: name = %q, want %q", w, d.Name, x.name)
		}
		if x.rule != "" && d.Rule != x.rule {
			fails.Add(x.pos, "%s: rule = %q, want %q", w, d.Rule, x.rule)
		}
		if len(x.payload) == 0 {
			continue
		}
		got, err := normalize(d.Payload)
		if err != nil {
			fails.Add(x.pos, "%s: payload: %v", w, err)
			continue
		}
		gm, _ := got.(map[string]any)
		for _, k := range sortedKeys(x.payload) {
			if g, ok := gm[k]; !ok {
				fails.Add(x.pos, "%s: payload.%s missing, want %s", w, k, jsonText(x.payload[k]))
			} else if !reflect.DeepEqual(g, x.payload[k]) {
				fails.Add(x.pos, "%s: payload.%s = %s, want %s", w, k, jsonText(g), jsonText(x.payload[k]))
			}
		}
	}
	return fails
}

func summary(res Result) string {
	if len(res.Deliveries) == 0 {
		switch {
		case res.Dropped:
			return "dropped by " + res.Matched[len(res.Matched)-1]
		case res.Unrouted:
			return "unrouted"
		}
		return "nothing"
	}
	parts := make([]string, len(res.Deliveries))
	for i, d := range res.Deliveries {
		parts[i] = fmt.Sprintf("%s to %s", d.Name, d.Room)
		if d.Rule != "" {
			parts[i] += " by " + d.Rule
		} else {
			parts[i] += " by the default route"
		}
	}
	return strings.Join(parts, ", ")
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
