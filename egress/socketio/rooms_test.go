package socketio

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/egress"
)

// TestRoomsRememberWhenTheyEmptied: a room is held while it has a page
// and for egress.HeldFor after its last page left; a page registering code
// after code leaves at most maxEmptied rooms remembered (internal/recent
// tests the bound itself).
func TestRoomsRememberWhenTheyEmptied(t *testing.T) {
	r := newRooms()
	a, b := &page{}, &page{}
	r.join(a, "abc", nil)
	r.join(b, "abc", nil)
	later := time.Now().Add(time.Hour)
	if !r.held("abc", later) {
		t.Fatal("a room with pages is not held")
	}
	r.remove(a)
	if !r.held("abc", later) {
		t.Fatal("a room with one page left is not held")
	}
	r.remove(b)
	if !r.held("abc", time.Now()) {
		t.Fatal("a room emptied just now is not held")
	}
	if r.held("abc", time.Now().Add(egress.HeldFor+time.Second)) {
		t.Fatal("a room emptied longer than HeldFor ago is held")
	}
	if r.held("never", time.Now()) {
		t.Fatal("a room that never had a page is held")
	}
	r.join(&page{}, "abc", nil)
	if r.emptied.Len() != 0 {
		t.Fatal("a room with a page again is still remembered as emptied")
	}

	flood := &page{}
	for i := range maxEmptied + 100 {
		r.join(flood, fmt.Sprintf("code-%d", i), nil)
	}
	if r.emptied.Len() != maxEmptied {
		t.Fatalf("%d rooms remembered, want the bound %d", r.emptied.Len(), maxEmptied)
	}
}

// TestSinkTellsWhenRoomsChange: OnRoomsChanged's func runs when a page
// joins a room (handshake code or REGISTER, not a REGISTER of the room it
// is in) and when it leaves one, so cluster presence is written at once.
func TestSinkTellsWhenRoomsChange(t *testing.T) {
	s, srv := startSink(t, Options{Log: discardLog()})
	var changes atomic.Int64
	s.OnRoomsChanged(func() { changes.Add(1) })
	p := dialRaw(t, srv.URL, "first", nil)
	waitFor(t, "the handshake join", func() bool { return changes.Load() == 1 })
	for _, code := range []string{"second", "second", "third"} {
		if err := p.send(fmt.Sprintf(`42["REGISTER",{"code":%q}]`, code)); err != nil {
			t.Fatal(err)
		}
	}
	// A page's messages are handled in order: both REGISTERs of "second"
	// were handled when it is in "third".
	waitFor(t, "the REGISTERs", func() bool { return s.Pages("third") == 1 && changes.Load() >= 3 })
	if n := changes.Load(); n != 3 {
		t.Fatalf("%d changes told after joining first, second, second, third; want 3", n)
	}
	p.conn.Close()
	waitFor(t, "the leave", func() bool { return changes.Load() == 4 })
}
