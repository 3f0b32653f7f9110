package socketio

import (
	"testing"

	"github.com/heraldhq/herald"
)

// TestAlreadySent: which deliveries a page skips because it has them.
// A delivery a cluster node sent alone while Redis was away names the
// pages it went to live (LiveTo); once journaled, those pages skip it
// whether it comes with its offset or, after later ones, as a replay
// without one, and every other page gets it.
func TestAlreadySent(t *testing.T) {
	tests := []struct {
		name    string
		pid     string
		claimed string // the session it came back with and did not get
		offset  uint64 // the page's position
		d       herald.Delivery
		want    bool
	}{
		{"a live delivery, to the pages it names", "p1", "", 0, herald.Delivery{LiveTo: []string{"p1"}}, false},
		{"a live delivery, to another page", "p2", "", 0, herald.Delivery{LiveTo: []string{"p1"}}, false},
		{"journaled late, to a page that had it", "p1", "", 0, herald.Delivery{Offset: 5, LiveTo: []string{"p1"}}, true},
		{"journaled late, to a page that had it under its old session", "p9", "p1", 0, herald.Delivery{Offset: 5, LiveTo: []string{"p1"}}, true},
		{"journaled late, to a page that came since", "p2", "", 0, herald.Delivery{Offset: 5, LiveTo: []string{"p1"}}, false},
		{"journaled late and sent as a replay, to a page that had it", "p1", "", 7, herald.Delivery{Replayed: true, LiveTo: []string{"p1"}}, true},
		{"journaled late and sent as a replay, under an old session", "p9", "p1", 7, herald.Delivery{Replayed: true, LiveTo: []string{"p1"}}, true},
		{"journaled late and sent as a replay, to a page that came since", "p2", "", 7, herald.Delivery{Replayed: true, LiveTo: []string{"p1"}}, false},
		{"a replay naming no page", "p1", "", 7, herald.Delivery{Replayed: true}, false},
		{"an offset the page has", "p1", "", 7, herald.Delivery{Offset: 7}, true},
		{"an offset past the page's", "p1", "", 7, herald.Delivery{Offset: 8}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &page{pid: tc.pid, claimedPID: tc.claimed}
			p.offset.Store(tc.offset)
			if got := p.alreadySent(&outgoing{d: tc.d}); got != tc.want {
				t.Errorf("alreadySent = %v, want %v", got, tc.want)
			}
		})
	}
}
