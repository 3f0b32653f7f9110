package socketio

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestLiveOnly: what the sink remembers of deliveries pages got live
// without an offset, and for how long.
func TestLiveOnly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	live := herald.Delivery{EventID: "e1", Room: "r", Name: "TIP", LiveTo: []string{"p1"}}
	entry := live
	entry.Offset, entry.LiveTo = 7, nil // its journal entry, written before it went live
	var l liveOnly
	l.note(live, now, time.Minute)
	l.note(herald.Delivery{EventID: "e2", Room: "r", Name: "TIP", Offset: 3, LiveTo: []string{"p1"}}, now, time.Minute) // journaled: not live only
	l.note(herald.Delivery{EventID: "e3", Room: "r", Name: "TIP", Replayed: true, LiveTo: []string{"p1"}}, now, time.Minute)
	for _, tc := range []struct {
		name string
		p    *page
		d    herald.Delivery
		want bool
	}{
		{"the page that had it", &page{pid: "p1"}, entry, true},
		{"the page that had it, back under a new session", &page{pid: "p9", claimedPID: "p1"}, entry, true},
		{"another page", &page{pid: "p2"}, entry, false},
		{"another emit name of the event", &page{pid: "p1"}, herald.Delivery{EventID: "e1", Room: "r", Name: "FOLLOW", Offset: 8}, false},
		{"another room", &page{pid: "p1"}, herald.Delivery{EventID: "e1", Room: "s", Name: "TIP", Offset: 8}, false},
		{"a journaled delivery is not remembered", &page{pid: "p1"}, herald.Delivery{EventID: "e2", Room: "r", Name: "TIP", Offset: 3}, false},
		{"nor is a replay", &page{pid: "p1"}, herald.Delivery{EventID: "e3", Room: "r", Name: "TIP", Offset: 4}, false},
	} {
		if got := l.had(tc.p, tc.d); got != tc.want {
			t.Errorf("%s: had = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Past the window, the next note forgets it.
	l.note(herald.Delivery{EventID: "later", Room: "r", Name: "TIP", LiveTo: []string{"p1"}}, now.Add(2*time.Minute), time.Minute)
	if l.had(&page{pid: "p1"}, entry) {
		t.Error("a delivery older than the window is still remembered")
	}
	// Bounded.
	for i := range maxLiveOnly + 10 {
		l.note(herald.Delivery{EventID: fmt.Sprint("x", i), Room: "r", Name: "TIP", LiveTo: []string{"p1"}}, now.Add(2*time.Minute), time.Minute)
	}
	if n := len(l.m); n > maxLiveOnly || len(l.order) != n {
		t.Errorf("%d remembered (%d in order), want at most %d", n, len(l.order), maxLiveOnly)
	}
}
