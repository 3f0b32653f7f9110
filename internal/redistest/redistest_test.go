package redistest_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestPauseResume: a paused server answers nothing, yet a command sent
// to it meanwhile, whose client gave up, runs once it resumes: what a
// stalled Redis does, and fault tests rely on.
func TestPauseResume(t *testing.T) {
	srv := redistest.Start(t)
	// The client gives up after 300 ms, as herald's does after its own
	// bounded read timeout, and does not try again.
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ReadTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	// A connection of the pool, set up before the pause: a new one would
	// wait for its handshake's answer and never send the SET.
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err == nil {
		t.Fatal("SET answered by a paused server")
	}
	srv.Resume()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := c.Get(t.Context(), "k").Result()
		if err == nil && got == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET k after Resume = %q, %v; want \"v\" (the SET sent while paused runs)", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !srv.Running() {
		t.Error("Running() = false after Resume")
	}
}

// TestStartDurableKeepsData: a durable server's data outlives a SIGKILL
// and a restart.
func TestStartDurableKeepsData(t *testing.T) {
	srv := redistest.StartDurable(t)
	c := srv.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	srv.Restart()
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k after Restart = %q, %v; want \"v\"", got, err)
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

// TestClusterAndSentinel: a cluster's slots are spread over its masters
// and keys of different slots in one command are refused (CROSSSLOT, the
// rule cluster-mode code must keep); a Sentinel hands out its master.
func TestClusterAndSentinel(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	cl := c.Client(t)
	ctx := t.Context()
	if err := cl.Set(ctx, "{a}x", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cl.MSet(ctx, "{a}y", "1", "{a}z", "2").Err(); err != nil {
		t.Errorf("keys of one hash tag in one command: %v", err)
	}
	if err := c.Nodes[0].Client().MSet(ctx, "a", "1", "b", "2").Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") && !strings.Contains(err.Error(), "MOVED") {
		t.Errorf("keys of two slots in one command = %v, want CROSSSLOT (or MOVED)", err)
	}
	var masters atomic.Int32 // ForEachMaster calls fn on every master at once
	_ = cl.ForEachMaster(ctx, func(context.Context, *goredis.Client) error { masters.Add(1); return nil })
	if n := masters.Load(); n != 3 {
		t.Errorf("cluster has %d masters, want 3", n)
	}

	m := redistest.Start(t)
	s := redistest.StartSentinel(t, m)
	fc := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: []string{s.Addr()}})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := m.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("through the Sentinel the write reached %q, %v; want the master to hold v", v, err)
	}
}
