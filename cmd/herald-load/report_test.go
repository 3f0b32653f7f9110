package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1) // 1..100
	}
	tests := []struct {
		name   string
		sorted []int64
		p      float64
		want   int64
	}{
		{name: "empty", sorted: nil, p: 50, want: 0},
		{name: "single p50", sorted: []int64{7}, p: 50, want: 7},
		{name: "single p99", sorted: []int64{7}, p: 99, want: 7},
		{name: "p50 of 1..100", sorted: hundred, p: 50, want: 50},
		{name: "p99 of 1..100", sorted: hundred, p: 99, want: 99},
		{name: "max of 1..100", sorted: hundred, p: 100, want: 100},
		{name: "tiny p is the minimum", sorted: hundred, p: 0.001, want: 1},
		{name: "p99 of 10 is the max", sorted: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, p: 99, want: 10},
		{name: "p50 of 4 is the lower middle", sorted: []int64{10, 20, 30, 40}, p: 50, want: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v…, %v) = %d, want %d", tc.sorted[:min(len(tc.sorted), 4)], tc.p, got, tc.want)
			}
		})
	}
}

func TestLatenciesSortsAndConvertsToMs(t *testing.T) {
	ns := []int64{3_000_000, 1_000_000, 250_000, 2_000_000} // 3, 1, 0.25, 2 ms
	p50, p99, maxMs := latencies(ns)
	if p50 != 1 || p99 != 3 || maxMs != 3 {
		t.Errorf("latencies = %v, %v, %v; want 1, 3, 3", p50, p99, maxMs)
	}
	if !slices.IsSorted(ns) {
		t.Errorf("latencies left samples unsorted: %v", ns)
	}
}

func TestReportJSONLineIsOneParseableLine(t *testing.T) {
	r := &report{Target: "http://127.0.0.1:1", Mode: "trigger", Pages: 3, Expected: 9, Delivered: 9, LatP99Ms: 1.5, OK: true}
	line := r.jsonLine()
	if strings.Count(string(line), "\n") != 1 || !strings.HasSuffix(string(line), "\n") {
		t.Fatalf("jsonLine = %q, want exactly one trailing newline", line)
	}
	var back report
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatalf("jsonLine does not parse: %v", err)
	}
	if back != *r {
		t.Errorf("round trip = %+v, want %+v", back, *r)
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr bool
	}{
		{name: "seed answer", body: `{"success":1,"count":100,"msg":"Broadcast event to 100 clients"}`, want: 100},
		{name: "zero pages", body: `{"success":1,"count":0,"msg":"Broadcast event to 0 clients"}`, want: 0},
		{name: "failure", body: `{"success":0,"msg":"nope"}`, wantErr: true},
		{name: "no count", body: `{"success":1}`, wantErr: true},
		{name: "not json", body: `ok`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCount([]byte(tc.body))
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("parseCount(%q) = %d, %v; want %d, error %v", tc.body, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
