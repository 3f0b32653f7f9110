package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

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

	srv.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err := s.Append(ctx, delivery("room", 2))
	cancel()
	time.Sleep(2 * 100 * time.Millisecond) // well past the deadline and its margin
	srv.Resume()
	if err == nil {
		t.Fatal("Append while Redis was frozen succeeded; want the caller's deadline")
	}

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
	srv.Pause()
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err = s2.Append(ctx, delivery("room", 4))
	cancel()
	time.Sleep(2 * 100 * time.Millisecond)
	srv.Resume()
	if err == nil {
		t.Fatal("a new node's first Append while Redis was frozen succeeded; want the caller's deadline")
	}
	if es, err := s.Last(t.Context(), "room", 10); err != nil || len(es) != 2 {
		t.Errorf("the room holds %d entries after a new node's late first append, %v; want 2", len(es), err)
	}
}
