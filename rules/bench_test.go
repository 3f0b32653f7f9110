package rules_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/heraldhq/herald/rules"
)

// Kinds of benchmark rule, by what their when reads first. (They once
// told a hand-rolled pre-check from the expr VM; plain expr runs them all,
// and the kinds show what each shape costs.)
const (
	literalRules = "literal" // an event field == a literal first
	dataRules    = "data"    // data fields compared with literals
	vmRules      = "vm"      // a builtin call first
)

// ruleFile writes a rules file of n rules of one kind, each a realistic
// filter that the benchmark event does not match.
func ruleFile(n int, kind string) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: rule-%d\n", i)
		switch kind {
		case literalRules:
			fmt.Fprintf(&b, "    when: source == \"kofi\" && type == \"T%d\" && data.amount >= 10\n", i)
		case dataRules:
			fmt.Fprintf(&b, "    when: data.amount >= %d && data.kind == \"k%d\"\n", 1000+i, i)
		case vmRules:
			fmt.Fprintf(&b, "    when: len(data.kind) == %d && data.amount >= %d\n", 100+i, 1000+i)
		}
		fmt.Fprintf(&b, "    emit: EVENT_%d\n    to: [a%d, b%d]\n", i, i, i)
		fmt.Fprintf(&b, "    set:\n      text: data.from + \" sent \" + string(data.amount)\n")
	}
	return b.String()
}

// BenchmarkRouteNoMatch routes one event through n rules none of which
// match; ns/op divided by n is the cost of a non-matching rule.
func BenchmarkRouteNoMatch(b *testing.B) {
	for _, kind := range []string{literalRules, dataRules, vmRules} {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/rules=%d", kind, n), func(b *testing.B) {
				set := mustParse(b, ruleFile(n, kind))
				ev := event("twitch", "channel.follow", "", map[string]any{"amount": 5.0, "from": "ann", "kind": "x"})
				b.ReportAllocs()
				for b.Loop() {
					res := set.Route(ev)
					if !res.Unrouted || len(res.Errors) > 0 {
						b.Fatal(res)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
			})
		}
	}
}

// BenchmarkRouteNoMatchMixed routes a Twitch follow through 100 rules of
// the shapes users write (see examples/), none of which match it.
func BenchmarkRouteNoMatchMixed(b *testing.B) {
	whens := []string{
		`source == "kofi" && type == "Donation" && float(data.amount) >= %d`,
		`data.bits >= %d`,
		`data.is_public == true && data.n == %d`,
		`data.tier_name == "Gold%d"`,
		`type in ["channel.cheer", "channel.subscribe"] && data.n == %d`,
		`type startsWith "stream." && data.n == %d`,
	}
	var src strings.Builder
	src.WriteString("version: 1\nrules:\n")
	for i := range 100 {
		fmt.Fprintf(&src, "  - name: rule-%d\n    when: '%s'\n    emit: E%d\n", i, fmt.Sprintf(whens[i%len(whens)], 100+i), i)
	}
	set := mustParse(b, src.String())
	ev := event("twitch", "channel.follow", "", map[string]any{"bits": 5.0, "is_public": false, "tier_name": "1000", "n": 0.0})
	b.ReportAllocs()
	for b.Loop() {
		if res := set.Route(ev); !res.Unrouted || len(res.Errors) > 0 {
			b.Fatal(res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/rule")
}

// BenchmarkRouteMatch routes an event that the last of 100 rules matches,
// with a computed field and a fan-out to two rooms.
func BenchmarkRouteMatch(b *testing.B) {
	src := ruleFile(99, dataRules) + "  - name: last\n    when: data.amount >= 1\n    emit: LAST\n    to: [a, b]\n    set:\n      text: data.from + \" sent \" + string(data.amount)\n"
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
	src := []byte(ruleFile(1000, dataRules))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := rules.Parse("rules.yaml", src, rules.Options{Getenv: testEnv}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteTwitchExample routes a raid through the Twitch example
// rules (ten rules, a template text): the realistic load, a few events a
// second through tens of rules.
func BenchmarkRouteTwitchExample(b *testing.B) {
	src, err := os.ReadFile("../examples/twitch/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	set, err := rules.Parse("rules.yaml", src, rules.Options{Getenv: func(k string) (string, bool) { return "0123456789ab", true }})
	if err != nil {
		b.Fatal(err)
	}
	ev := event("twitch", "channel.raid", "", map[string]any{"from_broadcaster_user_name": "Ann", "viewers": 5.0})
	b.ReportAllocs()
	for b.Loop() {
		if res := set.Route(ev); len(res.Deliveries) != 1 || len(res.Errors) > 0 {
			b.Fatal(res)
		}
	}
}
