package redistest_test

import (
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/redistest"
)

// TestStopRestart checks what fault tests rely on: a stopped server
// refuses connections, and a restarted one answers on the same address
// with its data gone (no persistence).
func TestStopRestart(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	srv.Stop()
	if srv.Running() {
		t.Fatal("Running() = true after Stop")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered by a stopped server")
	}
	srv.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if _, err := c.Get(ctx, "k").Result(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET k after Restart = %v, want redis.Nil (no persistence)", err)
	}
}

// TestServersAreSeparate checks that two servers in one test do not share
// data or ports.
func TestServersAreSeparate(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on one address %s", a.Addr())
	}
	if err := a.Client().Set(t.Context(), "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().Get(t.Context(), "k").Result(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET k on the other server = %v, want redis.Nil", err)
	}
}
