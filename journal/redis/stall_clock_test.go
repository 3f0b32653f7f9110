package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/redistest"
	rj "github.com/heraldhq/herald/journal/redis"
)

// TestAStallDoesNotSkewTheClock: appends queued during a stall share the
// next pipeline; when Redis resumes, the one whose caller gave up
// meanwhile is answered "late" after its deadline. Taken as a clock
// sample, whose round trip is the whole stall, that answer put Redis
// about half the stall ahead, and the next append to meet a stall ran
// that far past its caller's deadline (the router had sent that alert to
// this node's pages alone): what the late check is there to refuse.
func TestAStallDoesNotSkewTheClock(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := stallNode(t, srv, rj.Options{})
	for i := range 3 {
		mustAppend(t, s, delivery("room", i))
	}

	srv.Pause()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	appendWithin := func(i int, d time.Duration) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			_, errs[i] = s.Append(ctx, delivery("room", 10+i))
		})
	}
	appendWithin(0, 300*time.Millisecond) // out first, alone
	time.Sleep(50 * time.Millisecond)
	appendWithin(1, 600*time.Millisecond) // these two share the next pipeline
	appendWithin(2, 4*time.Second)
	time.Sleep(1800 * time.Millisecond)
	srv.Resume()
	wg.Wait()
	t.Logf("appends during the stall: %v", errs)
	if errs[2] != nil {
		t.Fatalf("the append with time to spare failed: %v", errs[2])
	}

	// Redis stalls again under the next append.
	srv.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := s.Append(ctx, delivery("room", 99))
	cancel()
	time.Sleep(500 * time.Millisecond) // 400 ms past the deadline's margin
	srv.Resume()
	if err == nil {
		t.Fatal("an Append on a frozen Redis succeeded")
	}
	es, err := s.Last(t.Context(), "room", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Delivery.EventID == delivery("room", 99).EventID {
			t.Fatalf("Redis ran an append 400 ms past its caller's deadline (and margin): offset %d", e.Offset)
		}
	}
}
