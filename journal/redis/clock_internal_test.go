package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
)

// TestAWrongClockEstimateHeals: when this node's idea of Redis's clock
// is off by more than an append's time (a clock stepped, a failover to a
// machine with another clock), Redis answers "late" to an append in
// time. The answer carries Redis's clock: the append goes again, once.
func TestAWrongClockEstimateHeals(t *testing.T) {
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	s, err := Open(t.Context(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	d := herald.Delivery{EventID: "e1", Source: "trigger", Room: "room", Name: "FOLLOW", Rule: "r"}
	if _, err := s.Append(t.Context(), d); err != nil {
		t.Fatal(err)
	}

	s.clock.mu.Lock()
	s.clock.offset -= time.Hour // Redis believed an hour behind: every deadline long past
	s.clock.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	d.EventID = "e2"
	e, err := s.Append(ctx, d)
	if err != nil || e.Offset != 2 {
		t.Fatalf("Append with a wrong clock estimate = offset %d, %v; want 2, nil", e.Offset, err)
	}
	if es, err := s.Last(t.Context(), "room", 10); err != nil || len(es) != 2 {
		t.Fatalf("the room holds %d entries, %v; want 2", len(es), err)
	}
	if got := s.clock.deadline(ctx); got < time.Now().UnixMilli() {
		t.Errorf("the estimate was not corrected: deadline %d is in the past", got)
	}
}

// TestASampleAcrossAStallKeepsOutOfTheEstimate: after a quiet minute the
// best sample is old, but one whose round trip spans a stall must not
// replace it: it puts Redis ahead by half the stall, so the next append
// to meet a stall would run that far past its caller's deadline. A sample
// as good as the margin does replace it (clocks drift).
func TestASampleAcrossAStallKeepsOutOfTheEstimate(t *testing.T) {
	var c lateClock
	t0 := time.Unix(1_700_000_000, 0)
	c.sample(t0, t0.Add(2*time.Millisecond), t0.Add(time.Millisecond).UnixMilli(), false)
	want := c.offset

	later := t0.Add(2 * clockWindow)
	stall := 1800 * time.Millisecond
	// Redis read its clock just before the stall ended.
	c.sample(later, later.Add(stall), later.Add(stall-time.Millisecond).UnixMilli(), false)
	if c.offset != want {
		t.Fatalf("a sample across a %v stall moved the estimate by %v", stall, c.offset-want)
	}
	drifted := 20 * time.Millisecond
	c.sample(later, later.Add(4*time.Millisecond), later.Add(2*time.Millisecond+drifted).UnixMilli(), false)
	if got := c.offset - want; got < drifted-time.Millisecond || got > drifted+time.Millisecond {
		t.Fatalf("a fast sample after a quiet minute moved the estimate by %v, want about %v", got, drifted)
	}
}
