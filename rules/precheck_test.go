package rules

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
)

// compileWhen compiles src as a when expression.
func compileWhen(t testing.TB, src string) *program {
	t.Helper()
	p, err := newExprCompiler().compile(src, "when", span{}, true)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return p
}

// vmRun runs p for ev in the VM, the way Route does.
func vmRun(p *program, ev herald.Event) (any, error) {
	s := &Set{names: p.names}
	var st *state
	defer s.release(st)
	return s.run(p, &ev, &st)
}

// agree fails t unless the pre-check's verdict on ev is unsure or is what
// the VM makes of it: the same bool, and no error.
func agree(t *testing.T, p *program, src string, ev herald.Event) verdict {
	t.Helper()
	v := p.native.eval(&ev, &dataCache{})
	if v == unsure {
		return v
	}
	out, err := vmRun(p, ev)
	if err != nil {
		t.Fatalf("%q on data %#v, source %q, type %q: pre-check says %v, VM fails: %v", src, ev.Data, ev.Source, ev.Type, v == yes, err)
	}
	if b, ok := out.(bool); !ok || b != (v == yes) {
		t.Fatalf("%q on data %#v, source %q, type %q: pre-check says %v, VM says %#v", src, ev.Data, ev.Source, ev.Type, v == yes, out)
	}
	return v
}

func dataEvent(source, typ string, data map[string]any) herald.Event {
	return herald.Event{ID: "ev1", Source: source, Type: typ, Data: data, Received: time.Unix(0, 0)}
}

// TestNativeCheckVerdicts pins what the pre-check answers itself and
// what it leaves to the VM, and checks each answer against the VM.
func TestNativeCheckVerdicts(t *testing.T) {
	tests := []struct {
		name string
		when string
		ev   herald.Event
		want verdict
	}{
		{name: "literal equality, no", when: `source == "kofi"`, ev: dataEvent("twitch", "x", nil), want: no},
		{name: "literal equality, yes", when: `source == "kofi"`, ev: dataEvent("kofi", "x", nil), want: yes},
		{name: "literal first", when: `"kofi" == source`, ev: dataEvent("kofi", "x", nil), want: yes},
		{name: "float data against int", when: `data.amount >= 10`, ev: dataEvent("", "", map[string]any{"amount": 5.0}), want: no},
		{name: "int data against int", when: `data.bits >= 100`, ev: dataEvent("", "", map[string]any{"bits": 100}), want: yes},
		{name: "mirrored ordering", when: `100 > data.bits`, ev: dataEvent("", "", map[string]any{"bits": 100.5}), want: no},
		{name: "missing field ordered is the VM's error", when: `data.amount >= 10`, ev: dataEvent("", "", nil), want: unsure},
		{name: "string field ordered against number is the VM's error", when: `data.amount >= 10`, ev: dataEvent("", "", map[string]any{"amount": "12"}), want: unsure},
		{name: "string field equal to number is false", when: `data.amount == 12`, ev: dataEvent("", "", map[string]any{"amount": "12"}), want: no},
		{name: "missing field equal", when: `data.tier_name == "Gold"`, ev: dataEvent("", "", nil), want: no},
		{name: "missing field is nil", when: `data.tier_name == nil`, ev: dataEvent("", "", nil), want: yes},
		{name: "bool", when: `data.is_public == true`, ev: dataEvent("", "", map[string]any{"is_public": true}), want: yes},
		{name: "bare bool", when: `data.is_gift`, ev: dataEvent("", "", map[string]any{"is_gift": false}), want: no},
		{name: "bare non-bool is the VM's error", when: `data.is_gift`, ev: dataEvent("", "", map[string]any{"is_gift": "yes"}), want: unsure},
		{name: "float() of a string", when: `float(data.amount) >= 10`, ev: dataEvent("", "", map[string]any{"amount": "12.50"}), want: yes},
		{name: "float() of a bad string is the VM's error", when: `float(data.amount) >= 10`, ev: dataEvent("", "", map[string]any{"amount": "lots"}), want: unsure},
		{name: "float() of nil is the VM's error", when: `float(data.amount) >= 10`, ev: dataEvent("", "", nil), want: unsure},
		{name: "int() truncates", when: `int(data.amount) == 12`, ev: dataEvent("", "", map[string]any{"amount": 12.9}), want: yes},
		{name: "in a list of strings", when: `type in ["channel.follow", "channel.subscribe"]`, ev: dataEvent("", "channel.subscribe", nil), want: yes},
		{name: "not in", when: `type not in ["channel.follow"]`, ev: dataEvent("", "channel.subscribe", nil), want: yes},
		{name: "nil in a list of strings finds the empty string", when: `data.x in ["", "a"]`, ev: dataEvent("", "", nil), want: yes},
		{name: "number in a list of strings is the VM's error", when: `data.x in ["a"]`, ev: dataEvent("", "", map[string]any{"x": 1.0}), want: unsure},
		{name: "in a mixed list", when: `data.x in ["a", 1, true]`, ev: dataEvent("", "", map[string]any{"x": 1.0}), want: yes},
		{name: "startsWith", when: `type startsWith "channel."`, ev: dataEvent("", "channel.follow", nil), want: yes},
		{name: "startsWith nil is false", when: `data.x startsWith "a"`, ev: dataEvent("", "", nil), want: no},
		{name: "contains a number is the VM's error", when: `data.x contains "1"`, ev: dataEvent("", "", map[string]any{"x": 12.0}), want: unsure},
		{name: "chain stops at the first no", when: `source == "kofi" && type == "Donation" && float(data.amount) >= 10`, ev: dataEvent("twitch", "Donation", nil), want: no},
		{name: "chain, all native", when: `source == "kofi" && type == "Donation" && float(data.amount) >= 10`, ev: dataEvent("kofi", "Donation", map[string]any{"amount": 10}), want: yes},
		{name: "a failing first part is not hidden by a later no", when: `data.amount >= 10 && source == "kofi"`, ev: dataEvent("twitch", "", nil), want: unsure},
		{name: "a part the pre-check cannot read ends the chain", when: `len(data.from) > 0 && source == "kofi"`, ev: dataEvent("twitch", "", map[string]any{"from": "ann"}), want: unsure},
		{name: "but not before it", when: `source == "kofi" && len(data.from) > 0`, ev: dataEvent("twitch", "", map[string]any{"from": "ann"}), want: no},
		{name: "or", when: `type == "a" || data.x > 1`, ev: dataEvent("", "b", map[string]any{"x": 2.0}), want: yes},
		{name: "or with an unreadable part", when: `type == "a" || len(data.x) > 1`, ev: dataEvent("", "a", nil), want: yes},
		{name: "negation", when: `!(data.x > 1)`, ev: dataEvent("", "", map[string]any{"x": 2.0}), want: no},
		{name: "NaN compares false", when: `float(data.x) < 1`, ev: dataEvent("", "", map[string]any{"x": "NaN"}), want: no},
		{name: "other types are the VM's", when: `data.x == 1`, ev: dataEvent("", "", map[string]any{"x": int32(1)}), want: unsure},
		{name: "headers are the VM's", when: `headers["X"] == "1"`, ev: dataEvent("", "", nil), want: unsure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileWhen(t, tt.when)
			if got := agree(t, p, tt.when, tt.ev); got != tt.want {
				t.Errorf("%q: pre-check verdict %d, want %d (0 unsure, 1 no, 2 yes)", tt.when, got, tt.want)
			}
		})
	}
}

// precheckExprs are when expressions over data.x and data.y: every kind
// of part the pre-check reads, and some it does not.
var precheckExprs = []string{
	`data.x == 10`, `data.x == 10.5`, `data.x == "10"`, `data.x == true`, `data.x == nil`,
	`data.x != nil`, `data.x != "a"`, `data.x == false`, `data.x == -1`,
	`data.x >= 10`, `data.x < 10.5`, `10 <= data.x`, `data.x > "m"`, `"m" > data.x`, `data.x <= -1`, `data.x > 0`,
	`float(data.x) >= 10`, `int(data.x) == 10`, `float(data.x) < 2.5`, `int(data.x) > -2`,
	`data.x`, `!data.x`, `not data.x`,
	`data.x in ["a", "b"]`, `data.x in ["", "a"]`, `data.x in [1, 2.5, "a", nil, true]`, `data.x not in ["a"]`, `data.x in [10]`,
	`data.x startsWith "a"`, `data.x endsWith "c"`, `data.x contains "b"`,
	`type startsWith "channel."`, `type in ["channel.follow", "channel.subscribe"]`, `type endsWith "follow"`,
	`source == "kofi" && type == "Donation" && float(data.x) >= 10`,
	`data.x >= 10 && source == "kofi"`, `source == "kofi" || data.x > 1`, `data.x > 1 || source == "kofi"`,
	`(data.x > 1 || data.y == "a") && type == "T"`, `data.x > 1 && len(data.y) > 0`, `len(data.y) > 0 && data.x > 1`,
	`!(data.x > 1)`, `data.x in 1..5`, `data.x == data.y`, `data.y == "a" && data.x`, `data.y != "a" or data.x < 3`,
}

var precheckValues = []any{
	nil, "", "a", "b", "abc", "10", "10.5", "-1", "zz", "NaN",
	10, 0, -1, int64(10), 10.0, 10.5, -1.0, 0.0, 2.5, math.NaN(), math.Inf(1), 1e300,
	true, false, []any{1.0}, map[string]any{}, int32(10), float32(10),
}

// TestNativeCheckAgreesWithVM is the differential test: every pre-check
// answer over many expressions and events is the VM's.
func TestNativeCheckAgreesWithVM(t *testing.T) {
	sure := 0
	for _, src := range precheckExprs {
		p := compileWhen(t, src)
		for _, x := range append(precheckValues, missing{}) {
			for _, y := range []any{missing{}, "a", ""} {
				for _, ev := range []herald.Event{
					dataEvent("kofi", "Donation", dataOf(x, y)),
					dataEvent("twitch", "channel.follow", dataOf(x, y)),
					dataEvent("", "T", dataOf(x, y)),
				} {
					if agree(t, p, src, ev) != unsure {
						sure++
					}
				}
			}
		}
	}
	if sure == 0 {
		t.Fatal("the pre-check never answered")
	}
}

// missing stands for a data field the event does not have.
type missing struct{}

func dataOf(x, y any) map[string]any {
	d := map[string]any{}
	if _, ok := x.(missing); !ok {
		d["x"] = x
	}
	if _, ok := y.(missing); !ok {
		d["y"] = y
	}
	return d
}

// FuzzPrecheckMatchesVM checks the pre-check against the VM on any
// expression that compiles and an event whose data.x and source come from
// the fuzzer. Seeds: the when expressions of the repository's rules files
// and of the differential test.
func FuzzPrecheckMatchesVM(f *testing.F) {
	for _, src := range append(whensOf(f), precheckExprs...) {
		f.Add(src, "a", 10.5, uint8(0))
		f.Add(src, "kofi", -1.0, uint8(3))
	}
	f.Fuzz(func(t *testing.T, src, s string, n float64, k uint8) {
		p, err := newExprCompiler().compile(src, "when", span{}, true)
		if err != nil {
			return
		}
		x := []any{missing{}, nil, s, n, int(n), int64(n), n != 0, []any{s}, float32(n)}[int(k)%9]
		if _, ok := x.(int); ok && (math.IsNaN(n) || math.Abs(n) >= 1<<62) {
			x = n
		}
		agree(t, p, src, dataEvent(s, s, dataOf(x, s)))
		agree(t, p, src, dataEvent("kofi", "Donation", dataOf(x, missing{})))
	})
}

// whensOf reads the when expressions of the rules files in testdata and
// examples.
func whensOf(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"testdata/ok/*.yaml", "../examples/*.yaml", "../examples/*/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	var whens []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Rules []struct{ When string }
		}
		if yaml.Unmarshal(data, &doc) != nil {
			continue // ${VAR} and other non-plain files: the seeds are a convenience
		}
		for _, r := range doc.Rules {
			if r.When != "" {
				whens = append(whens, r.When)
			}
		}
	}
	if len(whens) == 0 {
		t.Fatal("no when expressions found in testdata or examples")
	}
	return whens
}

// TestNativeCheckNoAllocs: a rule the pre-check rejects costs no
// allocation, whatever it reads.
func TestNativeCheckNoAllocs(t *testing.T) {
	s, err := Parse("rules.yaml", []byte(`version: 1
rules:
  - name: a
    when: source == "kofi" && type == "Donation" && float(data.amount) >= 10
  - name: b
    when: data.bits >= 100 && data.is_public == true
  - name: c
    when: data.tier_name == "Gold" || type startsWith "channel.sub"
  - name: d
    when: type in ["channel.follow", "channel.subscribe"] && data.amount > 1000
`), Options{Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ev := dataEvent("twitch", "channel.cheer", map[string]any{"amount": "12.5", "bits": 10.0, "tier_name": "Silver"})
	if allocs := testing.AllocsPerRun(100, func() {
		if res := s.Route(ev); !res.Unrouted || len(res.Errors) > 0 {
			t.Fatalf("Route = %+v, want unrouted without errors", res)
		}
	}); allocs != 0 {
		t.Errorf("Route allocates %v times per event, want 0", allocs)
	}
}

// TestDataCacheSlots routes through more data fields than a dataCache
// holds: each rule must see its own field, cached or not.
func TestDataCacheSlots(t *testing.T) {
	var src strings.Builder
	src.WriteString("version: 1\nrules:\n")
	const n = cacheSlots + 4
	for i := range n {
		fmt.Fprintf(&src, "  - name: r%d\n    when: data.f%d == %d && data.g >= 0\n    to: room\n", i, i, i)
	}
	s, err := Parse("rules.yaml", []byte(src.String()), Options{Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 3, cacheSlots - 1, cacheSlots, n - 1} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			data := map[string]any{"g": 1.0}
			for j := range n {
				data[fmt.Sprintf("f%d", j)] = float64(j + 100) // matches no rule
			}
			data[fmt.Sprintf("f%d", i)] = float64(i)
			res := s.Route(dataEvent("x", "y", data))
			if want := []string{fmt.Sprintf("r%d", i)}; !slices.Equal(res.Matched, want) || len(res.Errors) > 0 {
				t.Errorf("Matched %v, errors %v; want %v", res.Matched, res.Errors, want)
			}
		})
	}
}
