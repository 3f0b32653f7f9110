package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

func TestEventTypeLabelsAreBounded(t *testing.T) {
	m := New(Options{Status: router.New(router.Options{}).Status})
	for i := range MaxTypes + 10 {
		m.Observe(router.Observation{Event: herald.Event{Source: "webhook", Type: fmt.Sprintf("t%d", i)}})
	}
	for i := range MaxSources + 5 {
		m.Observe(router.Observation{Event: herald.Event{Source: fmt.Sprintf("s%d", i), Type: "x"}})
	}
	if got := testutil.ToFloat64(m.events.WithLabelValues("webhook", Other)); got != 10 {
		t.Errorf("webhook events past the type bound = %v, want 10 counted as %q", got, Other)
	}
	if got := testutil.ToFloat64(m.events.WithLabelValues(Other, Other)); got != 6 {
		t.Errorf("events from sources past the bound = %v, want 6", got)
	}
	if n := testutil.CollectAndCount(m.events); n > MaxSources*MaxTypes {
		t.Errorf("%d event series, want at most %d", n, MaxSources*MaxTypes)
	}
}

// TestOddEventTypesAreOther: a type from outside that is no fit label
// value is counted as "other" and leaves the source's MaxTypes slots to
// real types.
func TestOddEventTypesAreOther(t *testing.T) {
	m := New(Options{Status: router.New(router.Options{}).Status})
	for _, typ := range []string{
		strings.Repeat("x", 200_000), // sent to /notify as event=
		strings.Repeat("y", MaxLabelLen+1),
		"line\nbreak",
		"bad\xffutf8",
		"",
	} {
		m.Observe(router.Observation{Event: herald.Event{Source: "trigger", Type: typ}})
	}
	for _, typ := range []string{"follow", strings.Repeat("z", MaxLabelLen), "寄付"} {
		m.Observe(router.Observation{Event: herald.Event{Source: "trigger", Type: typ}})
		if got := testutil.ToFloat64(m.events.WithLabelValues("trigger", typ)); got != 1 {
			t.Errorf("events of type %.20q = %v, want 1 under its own label", typ, got)
		}
	}
	if got := testutil.ToFloat64(m.events.WithLabelValues("trigger", Other)); got != 5 {
		t.Errorf("odd types counted as %q = %v, want 5", Other, got)
	}
	if got := m.types["trigger"]; got != 3 {
		t.Errorf("type slots taken = %d, want 3 (the odd types take none)", got)
	}
}

func TestNoCodeInAnyLabel(t *testing.T) {
	const code = "secret-code-91"
	m := New(Options{Status: router.New(router.Options{}).Status})
	now := time.Now()
	m.Observe(router.Observation{
		Event:  herald.Event{Source: "trigger", Type: "follow", Code: code, Received: now},
		Result: rules.Result{Deliveries: []herald.Delivery{{Room: code, Name: "FOLLOW"}}},
		Done:   now.Add(time.Millisecond),
	})
	out, err := testutil.CollectAndFormat(m.reg, expfmt.TypeTextPlain, "herald_events_total", "herald_deliveries_total",
		"herald_delivery_pages_total", "herald_deliveries_unreached_total", "herald_ingress_to_page_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), code) || !strings.Contains(string(out), "herald_deliveries_unreached_total") {
		t.Errorf("metrics:\n%s\nwant the unreached delivery counted and no code", out)
	}
}

// BenchmarkObserve is the per-event cost of /metrics on the alert path.
func BenchmarkObserve(b *testing.B) {
	m := New(Options{Status: router.New(router.Options{}).Status})
	now := time.Now()
	o := router.Observation{
		Event:  herald.Event{Source: "trigger", Type: "follow", Code: "c", Received: now},
		Result: rules.Result{Deliveries: []herald.Delivery{{Room: "c", Name: "FOLLOW"}}},
		Done:   now.Add(time.Millisecond),
	}
	o.Pages.Add(0, 1)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(o)
	}
}

// TestRuleErrorsAndSessionGauge: rule errors are counted by rule name, up
// to MaxRules names (the rest summed as "other"); the session gauge is 1
// only for an instance whose connection is up, and absent for instances
// without one.
func TestRuleErrorsAndSessionGauge(t *testing.T) {
	st := router.Status{RuleErrors: map[string]router.RuleErrors{}, Instances: []router.Instance{
		{Name: "twitch", Type: "twitch", Connection: &ingress.RunStatus{State: ingress.StateConnected}},
		{Name: "twitch-alt", Type: "twitch", Connection: &ingress.RunStatus{State: ingress.StateReconnecting}},
		{Name: "kofi", Type: "kofi", Path: "/kofi"},
	}}
	for i := range MaxRules + 3 {
		st.RuleErrors[fmt.Sprintf("rule-%04d", i)] = router.RuleErrors{Count: 2}
	}
	m := New(Options{Status: func() router.Status { return st }})
	out, err := testutil.CollectAndFormat(m.reg, expfmt.TypeTextPlain, "herald_rule_errors_total", "herald_ingress_session_connected")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		`herald_rule_errors_total{rule="rule-0000"} 2`,
		fmt.Sprintf(`herald_rule_errors_total{rule="rule-%04d"} 2`, MaxRules-1),
		`herald_rule_errors_total{rule="other"} 6`,
		`herald_ingress_session_connected{instance="twitch"} 1`,
		`herald_ingress_session_connected{instance="twitch-alt"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, fmt.Sprintf(`rule="rule-%04d"`, MaxRules)) || strings.Contains(text, `instance="kofi"`) {
		t.Errorf("metrics have a rule past the bound or a gauge for an instance without a connection:\n%s", text)
	}
}
