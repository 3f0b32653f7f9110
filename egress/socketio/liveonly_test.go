package socketio

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// TestLiveOnly: what the sink remembers of the pages it sent a delivery
// without an offset, and for how long.
func TestLiveOnly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	live := herald.Delivery{EventID: "e1", Room: "r", Name: "TIP"}
	entry := live
	entry.Offset = 7 // its journal entry, which names no page
	var l liveOnly
	for _, tc := range []struct {
		name string
		d    herald.Delivery
		want bool
	}{
		{"live without an offset", live, true},
		{"journaled", herald.Delivery{EventID: "e2", Room: "r", Name: "TIP", Offset: 3}, false},
		{"a replay", herald.Delivery{EventID: "e3", Room: "r", Name: "TIP", Replayed: true}, false},
		{"no event id", herald.Delivery{Room: "r", Name: "TIP"}, false},
	} {
		if got := l.records(tc.d); got != tc.want {
			t.Errorf("%s: records = %v, want %v", tc.name, got, tc.want)
		}
	}
	l.note(live, []string{"p1"}, now, time.Minute)
	l.note(live, []string{"p3", "p1"}, now, time.Minute) // a second hand-over (DeliverAll, a retry): merged
	if got := l.sent(live); !slices.Equal(got, []string{"p1", "p3"}) {
		t.Errorf("sent = %q, want [p1 p3]", got)
	}
	if got := l.pidsOf(live); got != nil {
		t.Errorf("pidsOf(the live delivery) = %q, want none: only a journaled copy asks", got)
	}
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
	} {
		if got := tc.p.hadLive(l.pidsOf(tc.d)); got != tc.want {
			t.Errorf("%s: the page had it = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Past the window, the next note forgets it.
	l.note(herald.Delivery{EventID: "later", Room: "r", Name: "TIP"}, []string{"p1"}, now.Add(2*time.Minute), time.Minute)
	if (&page{pid: "p1"}).hadLive(l.pidsOf(entry)) {
		t.Error("a delivery older than the window is still remembered")
	}
	// Bounded.
	for i := range maxLiveOnly + 10 {
		l.note(herald.Delivery{EventID: fmt.Sprint("x", i), Room: "r", Name: "TIP"}, []string{"p1"}, now.Add(2*time.Minute), time.Minute)
	}
	if n := len(l.m); n > maxLiveOnly || len(l.order) != n || l.size.Load() != int64(n) {
		t.Errorf("%d remembered (%d in order, size %d), want at most %d", n, len(l.order), l.size.Load(), maxLiveOnly)
	}
}

// TestSentLiveNamesThePagesReached: the sink reports the pages a delivery
// without an offset reached (the router's outbox journals it late naming
// them), whether handed over alone or in a batch: not a page of another
// room, nor one that joined the room after.
func TestSentLiveNamesThePagesReached(t *testing.T) {
	j := mem.New()
	defer j.Close()
	k := recovery.New(j, recovery.Options{})
	s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
	pidsIn := func(code string) []string {
		var out []string
		for _, p := range s.rooms.all() {
			s.rooms.mu.RLock()
			if p.code == code {
				out = append(out, p.pid)
			}
			s.rooms.mu.RUnlock()
		}
		slices.Sort(out)
		return out
	}
	dialRaw(t, srv.URL, "abc", nil)
	dialRaw(t, srv.URL, "abc", nil)
	dialRaw(t, srv.URL, "xyz", nil)
	before := pidsIn("abc")
	alone := herald.Delivery{EventID: "alone", Room: "abc", Name: "TIP", Time: time.Now()}
	deliver(t, s, alone, 2)
	dialRaw(t, srv.URL, "abc", nil) // joins after
	batched := []herald.Delivery{
		{EventID: "b1", Room: "abc", Name: "TIP", Time: time.Now()},
		{EventID: "b2", Room: "abc", Name: "TIP", Time: time.Now()},
	}
	if _, err := s.DeliverAll(t.Context(), batched); err != nil {
		t.Fatal(err)
	}
	sorted := func(s []string) []string { slices.Sort(s); return s }
	if got := sorted(s.SentLive(alone)); !slices.Equal(got, before) || len(got) != 2 {
		t.Errorf("SentLive(delivered alone) = %q, want the room's two pages then %q", got, before)
	}
	for _, d := range batched {
		if got, want := sorted(s.SentLive(d)), pidsIn("abc"); !slices.Equal(got, want) || len(got) != 3 {
			t.Errorf("SentLive(%s, in a batch) = %q, want the room's three pages %q", d.EventID, got, want)
		}
	}
	if got := s.SentLive(herald.Delivery{EventID: "never", Room: "abc", Name: "TIP"}); got != nil {
		t.Errorf("SentLive(never delivered) = %q, want none", got)
	}
}
