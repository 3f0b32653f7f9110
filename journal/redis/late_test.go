package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/internal/rediswire"
	rj "github.com/heraldhq/herald/journal/redis"
)

// TestAnAppendRunAfterItsCallerGaveUpDoesNothing: Redis stalls (frozen)
// under an append, past its caller's deadline. The router has sent the
// alert to this node's pages alone by then, and its outbox journals it
// later naming them; the stalled append, run when Redis resumes, would
// journal and publish it without those names, and a page that had it
// live and moved to another node would get it again there. So Redis must
// refuse to run it: nothing is journaled, nothing published.
func TestAnAppendRunAfterItsCallerGaveUpDoesNothing(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := stallNode(t, srv, rj.Options{Publish: true})
	sub := srv.Client().Subscribe(t.Context(), rediswire.Channel(rj.DefaultPrefix))
	if _, err := sub.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	published := sub.Channel()
	// The room exists and Redis knows the script, as under traffic.
	mustAppend(t, s, delivery("room", 1))
	<-published

	appendWhileFrozen(t, srv, s, delivery("room", 2), 2*100*time.Millisecond) // well past the deadline and its margin

	// Redis has run what it held by the time it answers this.
	es, err := s.Last(t.Context(), "room", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Errorf("the room holds %d entries after the late append, want 1 (the late one refused)", len(es))
	}
	select {
	case m := <-published:
		t.Errorf("the late append was published: %.80q", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	// And the next append, in time, goes as ever.
	if e := mustAppend(t, s, delivery("room", 3)); e.Offset != 2 {
		t.Errorf("the next append got offset %d, want 2 (the late one took none)", e.Offset)
	}

	// A node's first append is held to its deadline too: Open reads
	// Redis's clock.
	s2, c2 := stallNode(t, srv, rj.Options{Publish: true})
	// Appends go out in pipelines, on connections of their own: one is
	// open, as on a node that has done anything.
	if _, err := c2.Pipelined(t.Context(), func(p goredis.Pipeliner) error { return p.Ping(t.Context()).Err() }); err != nil {
		t.Fatal(err)
	}
	appendWhileFrozen(t, srv, s2, delivery("room", 4), 2*100*time.Millisecond) // a new node's first append
	if es, err := s.Last(t.Context(), "room", 10); err != nil || len(es) != 2 {
		t.Errorf("the room holds %d entries after a new node's late first append, %v; want 2", len(es), err)
	}
}

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
	appendWhileFrozen(t, srv, s, delivery("room", 99), 500*time.Millisecond) // 400 ms past the deadline's margin
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

// appendWhileFrozen appends d with 300 ms to spare while Redis is frozen
// for frozen, and fails t unless the append gave up.
func appendWhileFrozen(t *testing.T, srv *redistest.Server, s *rj.Store, d herald.Delivery, frozen time.Duration) {
	t.Helper()
	srv.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err := s.Append(ctx, d)
	cancel()
	time.Sleep(frozen)
	srv.Resume()
	if err == nil {
		t.Fatal("Append while Redis was frozen succeeded; want the caller's deadline")
	}
}
