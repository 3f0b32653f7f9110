package limit

import (
	"context"
	"testing"
)

// TestHold: a count held for a request goes back when the request ends,
// unless it was kept; a kept count goes back once, on its release; one
// kept too late is gone already.
func TestHold(t *testing.T) {
	c := NewConns(2, 0)
	open := func() int { n, _ := c.Open("a"); return n }

	h, ok := c.Hold("a")
	if !ok || open() != 1 {
		t.Fatalf("Hold = %v, open %d; want a count", ok, open())
	}
	h.End()
	if open() != 0 {
		t.Fatalf("a request that kept nothing still counts %d after End", open())
	}

	h, _ = c.Hold("a")
	if got := HoldOf(WithHold(context.Background(), h)); got != h {
		t.Fatal("HoldOf does not return the Hold the context carries")
	}
	release := h.Keep()
	h.End()
	if open() != 1 {
		t.Fatalf("a kept count was given back by End: open %d", open())
	}
	release()
	release()
	if n, total := c.Open("a"); n != 0 || total != 0 {
		t.Fatalf("after release (twice) open = %d, %d; want 0, 0", n, total)
	}

	h, _ = c.Hold("a")
	h.End()
	h.Keep()()
	if _, total := c.Open("a"); total != 0 {
		t.Fatalf("a count kept after End was released twice: total %d", total)
	}

	c.Hold("a")
	c.Hold("a")
	if _, ok := c.Hold("a"); ok {
		t.Fatal("a third Hold past the bound of 2 was granted")
	}
	if HoldOf(context.Background()) != nil {
		t.Fatal("HoldOf of a bare context is not nil")
	}
}
