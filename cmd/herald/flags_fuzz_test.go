package main

import (
	"testing"

	"github.com/heraldhq/herald/internal/limit"
)

// FuzzParseRate: a rate flag either fails with an error or yields a rate
// whose burst is the count it was given and whose refill is positive.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"120/10s", "60/1m", "off", "0", "5/s", "1/0s", "-1/s", "9999999999/1ns", "3/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRate(s)
		if err != nil {
			return
		}
		if r != (limit.Rate{}) && (r.Burst <= 0 || r.PerSecond <= 0) {
			t.Fatalf("parseRate(%q) = %+v", s, r)
		}
	})
}
