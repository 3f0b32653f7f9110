package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// report is everything one run measured; it is printed as a table and as
// one JSON line (the line bench/compare.sh reads).
type report struct {
	Label       string  `json:"label,omitempty"`
	Target      string  `json:"target"`
	Mode        string  `json:"mode"` // "trigger" or "hold"
	Pages       int     `json:"pages"`
	Codes       int     `json:"codes"`
	Register    string  `json:"register"`
	Triggers    int     `json:"triggers"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	Warmup      int     `json:"warmup"`
	LoadAvg     string  `json:"loadavg"` // /proc/loadavg at start: other work on the machine
	Reader      string  `json:"reader"`  // how the loader read its pages: uring or goroutines

	ConnectS   float64 `json:"connect_s"`  // first dial to every page ready
	RegisterS  float64 `json:"register_s"` // first dial to every page probed
	Connected  int     `json:"connected"`  // pages proven registered
	DialErrors int     `json:"dial_errors"`

	TriggersOK     int     `json:"triggers_ok"`
	TriggerErrors  int     `json:"trigger_errors"`
	TriggersPerS   float64 `json:"triggers_per_s"`
	HTTPP50Ms      float64 `json:"http_p50_ms"`
	HTTPP99Ms      float64 `json:"http_p99_ms"`
	Expected       int64   `json:"expected"`
	Delivered      int64   `json:"delivered"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	LatP50Ms       float64 `json:"lat_p50_ms"`
	LatP99Ms       float64 `json:"lat_p99_ms"`
	LatMaxMs       float64 `json:"lat_max_ms"`
	ServerCPUS     float64 `json:"server_cpu_s"` // server CPU used while triggering
	LoaderCPUS     float64 `json:"loader_cpu_s"` // this process, whole run
	// LoaderTriggerCPUS is this process's CPU over the same span as
	// ServerCPUS: on a machine the two share, what the loader takes is
	// not the server's to use.
	LoaderTriggerCPUS float64 `json:"loader_trigger_cpu_s"`

	HoldS           float64 `json:"hold_s,omitempty"`
	AliveAfterHold  int     `json:"alive_after_hold,omitempty"`
	ProbedAfterHold int     `json:"probed_after_hold,omitempty"`

	RSSBeforeKB  int64   `json:"rss_before_kb"`
	RSSAfterKB   int64   `json:"rss_after_kb"` // after connect, or after the hold
	RSSPerPageKB float64 `json:"rss_per_page_kb"`

	FirstError string `json:"first_error,omitempty"`
	OK         bool   `json:"ok"`
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 when it is empty.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencies sorts samples in place and returns p50, p99 and max in ms.
func latencies(samples []int64) (p50, p99, maxMs float64) {
	slices.Sort(samples)
	ms := func(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }
	return ms(percentile(samples, 50)), ms(percentile(samples, 99)), ms(percentile(samples, 100))
}

func (r *report) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("target", "%s (%s)", r.Target, r.Label)
	row("pages / codes", "%d over %d codes, register=%s, reader=%s", r.Pages, r.Codes, r.Register, r.Reader)
	row("machine load", "%s", r.LoadAvg)
	row("connect", "%.2fs ready, %.2fs registered, %d registered, %d dial errors", r.ConnectS, r.RegisterS, r.Connected, r.DialErrors)
	if r.Mode == "hold" {
		row("hold", "%.0fs: %d alive, %d received a probe after it", r.HoldS, r.AliveAfterHold, r.ProbedAfterHold)
	} else {
		offered := "max"
		if r.Rate > 0 {
			offered = fmt.Sprintf("%.0f/s", r.Rate)
		}
		row("triggers", "%d sent (%s, %d in flight): %d ok, %d errors, %.0f/s", r.Triggers, offered, r.Concurrency, r.TriggersOK, r.TriggerErrors, r.TriggersPerS)
		row("trigger round trip", "p50 %.3f ms, p99 %.3f ms", r.HTTPP50Ms, r.HTTPP99Ms)
		row("deliveries", "%d of %d expected, %.0f/s", r.Delivered, r.Expected, r.DeliveriesPerS)
		row("trigger-to-page", "p50 %.3f ms, p99 %.3f ms, max %.3f ms", r.LatP50Ms, r.LatP99Ms, r.LatMaxMs)
		row("cpu", "server %.2fs, loader %.2fs while triggering (%.2fs in all)", r.ServerCPUS, r.LoaderTriggerCPUS, r.LoaderCPUS)
	}
	if r.RSSAfterKB > 0 {
		row("server RSS", "%d KB before, %d KB after, %.1f KB per page", r.RSSBeforeKB, r.RSSAfterKB, r.RSSPerPageKB)
	}
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	row("result", "%s", map[bool]string{true: "OK", false: "FAIL"}[r.OK])
	tw.Flush()
}

func (r *report) jsonLine() []byte {
	b, _ := json.Marshal(r) // plain fields always marshal
	return append(b, '\n')
}
