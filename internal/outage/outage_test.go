package outage

import (
	"testing"
	"time"
)

// step is one thing that happens to a store, and what the pacer should
// make of it.
type step struct {
	at     time.Duration // since the start
	fail   bool          // a failure, else a success
	tell   bool
	counts int // since (a failure) or failed (a recovery)
}

func TestPacer(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"an outage, told at once, again a minute on, and its end", []step{
			{at: 0, fail: true, tell: true},
			{at: 30 * time.Second, fail: true},
			{at: 59 * time.Second, fail: true},
			{at: 61 * time.Second, fail: true, tell: true, counts: 3},
			{at: 62 * time.Second, tell: true, counts: 4},
			{at: 63 * time.Second},
		}},
		{"a store that fails every other write: two lines a minute", []step{
			{at: 0, fail: true, tell: true},
			{at: 1 * time.Second, tell: true, counts: 1},
			{at: 2 * time.Second, fail: true},
			{at: 3 * time.Second},
			{at: 4 * time.Second, fail: true},
			{at: 5 * time.Second},
			{at: 60 * time.Second, fail: true, tell: true, counts: 3},
			{at: 60*time.Second + time.Millisecond, tell: true, counts: 3},
		}},
		{"the last word is true: a failure told is always followed by its recovery", []step{
			{at: 0, fail: true, tell: true},
			{at: time.Second, tell: true, counts: 1},
			{at: 61 * time.Second, fail: true, tell: true},
			{at: 61*time.Second + time.Millisecond, tell: true, counts: 1},
		}},
		{"a new outage a minute after the last is told at once", []step{
			{at: 0, fail: true, tell: true},
			{at: time.Second, tell: true, counts: 1},
			{at: 2 * time.Minute, fail: true, tell: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p Pacer
			start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			for i, s := range tt.steps {
				var tell bool
				var n int
				if s.fail {
					tell, n = p.Fail(start.Add(s.at))
				} else {
					tell, n = p.Recover(start.Add(s.at))
				}
				if tell != s.tell || n != s.counts {
					t.Errorf("step %d (fail %v at %v): tell %v, count %d; want %v, %d", i, s.fail, s.at, tell, n, s.tell, s.counts)
				}
				if p.Failing() != s.fail {
					t.Errorf("step %d: Failing() = %v, want %v", i, p.Failing(), s.fail)
				}
			}
		})
	}
}
