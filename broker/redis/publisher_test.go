package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/redistest"
)

// TestRequestQueuedAfterThePublisherStopped: a Publish that passed the
// closed check as Close ran can queue its request after the publisher
// drained the queue and stopped. It is refused; it used to wait for ever
// (the router's context has no deadline), holding its room's turn.
func TestRequestQueuedAfterThePublisherStopped(t *testing.T) {
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	b := New(c, Options{NodeID: "a"})
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.wait(context.Background(), &request{room: "r", done: make(chan struct{})}) }()
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("wait = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request queued after the publisher stopped is never answered")
	}
}
