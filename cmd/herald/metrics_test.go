package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/internal/pagetest"
)

const metricsRules = `version: 1
ingress:
  kofi:
    type: kofi
    path: /webhooks/kofi
    verification_token: kofi-token-for-tests
rules:
  - name: no-bots
    when: data.user == "bot"
    drop: true
  - name: api-big
    when: source == "api" && int(data.n) > 1
    emit: BIG
`

// TestMetricsAfterKnownTraffic drives known traffic through the real
// server (a page, triggers, a drop, an unrouted event, Ko-fi refusals, a
// broken rules save) and reads /metrics with the Prometheus text parser.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	const code = "metrics-code-5b1"
	rulesFile := writeRules(t, metricsRules)
	// The journal on disk, as herald runs by default: its commits count.
	base := startServer(t, func(c *config) { c.metrics = true; c.rulesFile = rulesFile; c.dataDir = t.TempDir() })
	// No page yet: each transport reads 0 rather than being absent, so
	// sum(herald_pages_connected) == 0 can alert on a lost overlay.
	for _, transport := range []string{"polling", "websocket"} {
		if got, ok := value(scrape(t, base)["herald_pages_connected"], map[string]string{"transport": transport}); !ok || got != 0 {
			t.Errorf("herald_pages_connected{transport=%q} with no page = %v (present: %v), want 0", transport, got, ok)
		}
	}
	page := pagetest.Start(t, base, pagetest.Options{Code: code})
	page.WaitRegistered(t)

	for range 3 {
		do(t, "GET", base+"/notify?code="+code+"&event=follow&user=ada", nil, nil)
		page.Expect(t, "FOLLOW", 10*time.Second)
	}
	do(t, "GET", base+"/notify?code=nobody-here&event=raid", nil, nil)         // reaches no page
	do(t, "GET", base+"/notify?code="+code+"&event=follow&user=bot", nil, nil) // dropped
	do(t, "GET", base+"/notify?event=follow", nil, nil)                        // refused: no code
	admin := map[string]string{"Authorization": "Bearer " + testToken}
	do(t, "POST", base+"/api/route", strings.NewReader(`{"source":"api","type":"ping"}`), admin) // unrouted
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for range 2 {
		body := "data=" + url.QueryEscape(`{"verification_token":"wrong","type":"Donation"}`)
		do(t, "POST", base+"/webhooks/kofi", strings.NewReader(body), form)
	}
	writeAtomically(t, rulesFile, metricsRules+"  - {name: broken, when: 'data.amount >>= 3', emit: X}\n")
	waitFor(t, "the broken save to be refused", func() bool { return rulesStatus(t, base).LastError != nil })

	a := do(t, "GET", base+"/metrics", nil, nil)
	if a.status != 200 {
		t.Fatalf("GET /metrics = %d %s", a.status, a.body)
	}
	if strings.Contains(a.body, `rule="no-bots"`) {
		t.Errorf("/metrics has a rule_errors series for a rule that never failed:\n%s", a.body)
	}
	if strings.Contains(a.body, code) || strings.Contains(a.body, "nobody-here") {
		t.Fatalf("/metrics shows a code:\n%s", a.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{name: "herald_events_total", labels: map[string]string{"source": "trigger", "type": "follow"}, want: 4},
		{name: "herald_events_total", labels: map[string]string{"source": "trigger", "type": "raid"}, want: 1},
		{name: "herald_events_total", labels: map[string]string{"source": "api", "type": "ping"}, want: 1},
		{name: "herald_deliveries_total", labels: map[string]string{"source": "trigger"}, want: 4},
		{name: "herald_delivery_pages_total", labels: map[string]string{"source": "trigger"}, want: 3},
		{name: "herald_deliveries_unreached_total", labels: map[string]string{"source": "trigger"}, want: 1},
		{name: "herald_events_routed_total", want: 4},
		{name: "herald_events_dropped_total", want: 1},
		{name: "herald_events_unrouted_total", want: 1},
		{name: "herald_codes_connected", want: 1},
		{name: "herald_ingress_published_total", labels: map[string]string{"instance": "trigger"}, want: 5},
		{name: "herald_ingress_refused_total", labels: map[string]string{"instance": "trigger", "reason": "bad_request"}, want: 1},
		{name: "herald_ingress_refused_total", labels: map[string]string{"instance": "kofi", "reason": "forbidden"}, want: 2},
		{name: "herald_rules_reloads_total", want: 1},
		{name: "herald_rules_reload_failures_total", want: 1},
		{name: "herald_rules_last_load_failed", want: 1},
		{name: "herald_ingress_to_page_seconds", want: 4}, // sample count
		{name: "herald_journal_entries", want: 4},
		{name: "herald_journal_rooms", want: 2},
		{name: "herald_journal_append_errors_total", want: 0},
		{name: "herald_journal_healthy", want: 1},
		{name: "herald_journal_commit_wait_seconds", want: 4}, // sample count: each journaled delivery
		{name: "herald_journal_marks_queued", want: 0},
		{name: "herald_rule_errors_total", labels: map[string]string{"rule": "api-big"}, want: 1},
	}
	// Either transport: the page may upgrade to WebSocket after it
	// reports polling; there is one page.
	if got := sum(families["herald_pages_connected"]); got != 1 {
		t.Errorf("herald_pages_connected sums to %v, want 1", got)
	}
	for _, tc := range tests {
		got, ok := value(families[tc.name], tc.labels)
		if !ok {
			t.Errorf("%s%v: missing from /metrics", tc.name, tc.labels)
			continue
		}
		if got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// How the 4 appends (and their marks) were grouped depends on timing;
	// that they were committed, and that the batch ratio is sane, does not.
	commits, _ := value(families["herald_journal_commits_total"], nil)
	ops, _ := value(families["herald_journal_commit_operations_total"], nil)
	if commits < 1 || ops < 4 || ops < commits {
		t.Errorf("herald_journal_commits_total = %v, herald_journal_commit_operations_total = %v; want at least one commit carrying the 4 appends", commits, ops)
	}
	if mf := families["herald_journal_commit_wait_seconds"]; mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetSummary().GetSampleSum() <= 0 {
		t.Errorf("herald_journal_commit_wait_seconds = %v, want the time the 4 deliveries waited for their commits", mf)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", a.body)
	}
}

// scrape reads base's /metrics into families.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	a := do(t, "GET", base+"/metrics", nil, nil)
	if a.status != 200 {
		t.Fatalf("GET /metrics = %d %s", a.status, a.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// sum adds up a gauge family's samples.
func sum(mf *dto.MetricFamily) float64 {
	total := 0.0
	for _, m := range mf.GetMetric() {
		total += m.GetGauge().GetValue()
	}
	return total
}

// value finds the sample of mf whose labels include labels: a counter's or
// gauge's value, a histogram's sample count.
func value(mf *dto.MetricFamily, labels map[string]string) (float64, bool) {
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.GetSummary().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsOffByDefault(t *testing.T) {
	base := startServer(t, nil)
	if a := do(t, "GET", base+"/metrics", nil, nil); a.status != 404 {
		t.Errorf("GET /metrics without --metrics = %d, want 404", a.status)
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	cfg, err := parseFlags([]string{"--metrics-listen", "127.0.0.1:0"}, noEnv, nil)
	if err != nil || cfg.metricsListen != "127.0.0.1:0" || cfg.metrics {
		t.Fatalf("parseFlags(--metrics-listen) = %+v, %v", cfg, err)
	}
	if _, err := parseFlags([]string{"--metrics", "--metrics-listen", ":9"}, noEnv, nil); err == nil {
		t.Error("--metrics with --metrics-listen was accepted")
	}
}

// TestMetricsJournalHealthy: herald_journal_healthy is 1 with the journal
// on disk, and 0 when --data could not be used (a file in its place) and
// the history is in memory, which ends at the next restart.
func TestMetricsJournalHealthy(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		want float64
	}{
		{"on disk", t.TempDir(), 1},
		{"in memory for want of --data", notADir, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startServer(t, func(c *config) { c.metrics = true; c.dataDir = tc.data })
			do(t, "GET", base+"/notify?code=healthy-code&event=follow", nil, nil)
			if got, ok := value(scrape(t, base)["herald_journal_healthy"], nil); !ok || got != tc.want {
				t.Errorf("herald_journal_healthy = %v (present %v), want %v", got, ok, tc.want)
			}
		})
	}
}
