package rules_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/rules"
)

// ruleFile writes a rules file of n rules, each a realistic filter that
// the benchmark event does not match. vm selects rules the literal
// pre-check cannot decide, so every one runs the expr VM.
func ruleFile(n int, vm bool) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: rule-%d\n", i)
		if vm {
			fmt.Fprintf(&b, "    when: data.amount >= %d && data.kind == \"k%d\"\n", 1000+i, i)
		} else {
			fmt.Fprintf(&b, "    when: source == \"kofi\" && type == \"T%d\" && data.amount >= 10\n", i)
		}
		fmt.Fprintf(&b, "    emit: EVENT_%d\n    to: [a%d, b%d]\n", i, i, i)
		fmt.Fprintf(&b, "    set:\n      text: data.from + \" sent \" + string(data.amount)\n")
	}
	return b.String()
}

// BenchmarkRouteNoMatch routes one event through n rules none of which
// match; ns/op divided by n is the cost of a non-matching rule.
func BenchmarkRouteNoMatch(b *testing.B) {
	for _, vm := range []bool{false, true} {
		for _, n := range []int{10, 100, 1000} {
			name := fmt.Sprintf("precheck/rules=%d", n)
			if vm {
				name = fmt.Sprintf("vm/rules=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				set := mustParse(b, ruleFile(n, vm))
				ev := event("twitch", "channel.follow", "", map[string]any{"amount": 5.0, "from": "ann"})
				b.ReportAllocs()
				for b.Loop() {
					res := set.Route(ev)
					if !res.Unrouted {
						b.Fatal("matched")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
			})
		}
	}
}

// BenchmarkRouteMatch routes an event that the last of 100 rules matches,
// with a computed field and a fan-out to two rooms.
func BenchmarkRouteMatch(b *testing.B) {
	src := ruleFile(99, true) + "  - name: last\n    when: data.amount >= 1\n    emit: LAST\n    to: [a, b]\n    set:\n      text: data.from + \" sent \" + string(data.amount)\n"
	set := mustParse(b, src)
	ev := event("twitch", "x", "", map[string]any{"amount": 5.0, "from": "ann"})
	b.ReportAllocs()
	for b.Loop() {
		if res := set.Route(ev); len(res.Deliveries) != 2 {
			b.Fatal(res)
		}
	}
}

// BenchmarkParse1000 loads and compiles a 1,000-rule file.
func BenchmarkParse1000(b *testing.B) {
	src := []byte(ruleFile(1000, true))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := rules.Parse("rules.yaml", src, rules.Options{Getenv: testEnv}); err != nil {
			b.Fatal(err)
		}
	}
}
