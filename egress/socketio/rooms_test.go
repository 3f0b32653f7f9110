package socketio

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/egress"
)

// TestRoomsRememberWhenTheyEmptied: a room is held while it has a page
// and, after its last page left, from then on; the memory of emptied
// rooms is bounded, and expired rooms make room for new ones.
func TestRoomsRememberWhenTheyEmptied(t *testing.T) {
	r := newRooms()
	start := time.Now()
	a, b := &page{}, &page{}
	r.join(a, "abc", nil)
	r.join(b, "abc", nil)
	if !r.held("abc", start.Add(time.Hour)) {
		t.Fatal("a room with pages is not held")
	}
	r.remove(a)
	if !r.held("abc", start.Add(time.Hour)) {
		t.Fatal("a room with one page left is not held")
	}
	r.remove(b)
	if !r.held("abc", start) {
		t.Fatal("a room emptied just now is not held since before")
	}
	if r.held("abc", time.Now().Add(time.Second)) {
		t.Fatal("a room emptied before since is held")
	}
	if r.held("never", start) {
		t.Fatal("a room that never had a page is held")
	}
	c := &page{}
	r.join(c, "abc", nil)
	if len(r.emptied) != 0 {
		t.Fatalf("a room with a page again is still remembered as emptied: %v", r.emptied)
	}

	// A page registering code after code fills the memory, not more.
	flood := &page{}
	for i := range maxEmptied + 100 {
		r.join(flood, fmt.Sprintf("code-%d", i), nil)
	}
	if len(r.emptied) != maxEmptied {
		t.Fatalf("%d rooms remembered, want the bound %d", len(r.emptied), maxEmptied)
	}
	// Once they expire, the next emptied room is remembered again.
	r.mu.Lock()
	for code := range r.emptied {
		r.emptied[code] = start.Add(-egress.HeldFor - time.Minute)
	}
	r.swept = time.Time{}
	r.mu.Unlock()
	r.remove(flood)
	if !r.held(fmt.Sprintf("code-%d", maxEmptied+99), start) || len(r.emptied) != 1 {
		t.Fatalf("after expiry: %d rooms remembered, want only the one just emptied", len(r.emptied))
	}
}
