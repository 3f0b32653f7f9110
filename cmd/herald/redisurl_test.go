package main

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	rb "github.com/heraldhq/herald/broker/redis"
	"github.com/heraldhq/herald/internal/redistest"
	rj "github.com/heraldhq/herald/journal/redis"
)

// TestRedisClientTimeouts: herald bounds the Redis client's timeouts
// (redisTimeout) unless the URL sets them, on every topology: with
// go-redis's own defaults and retries, an alert waited about 45 s for its
// answer while the network to Redis dropped packets.
func TestRedisClientTimeouts(t *testing.T) {
	tests := []struct {
		url               string
		dial, read, write time.Duration
	}{
		{"redis://127.0.0.1:6379/0", redisTimeout, redisTimeout, redisTimeout},
		{"redis://127.0.0.1:6379/0?read_timeout=5s&dial_timeout=1s", time.Second, 5 * time.Second, redisTimeout},
		{"redis://127.0.0.1:6379?addr=127.0.0.1:6380", redisTimeout, redisTimeout, redisTimeout},
		{"redis://127.0.0.1:6379?cluster=true&write_timeout=4s", redisTimeout, redisTimeout, 4 * time.Second},
		{"redis://127.0.0.1:26379/0?master_name=m", redisTimeout, redisTimeout, redisTimeout},
	}
	for _, tc := range tests {
		c, err := newRedisClient(tc.url)
		if err != nil {
			t.Fatalf("newRedisClient(%s): %v", tc.url, err)
		}
		var dial, read, write time.Duration
		var deadlines bool
		var retries int
		switch c := c.(type) {
		case *goredis.Client:
			o := c.Options()
			dial, read, write, deadlines, retries = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries
		case *goredis.ClusterClient:
			o := c.Options()
			dial, read, write, deadlines, retries = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries
		default:
			t.Fatalf("newRedisClient(%s) = %T", tc.url, c)
		}
		_ = c.Close()
		if dial != tc.dial || read != tc.read || write != tc.write {
			t.Errorf("%s: timeouts dial %v read %v write %v, want %v %v %v", tc.url, dial, read, write, tc.dial, tc.read, tc.write)
		}
		if !deadlines {
			t.Errorf("%s: commands ignore their caller's deadline (ContextTimeoutEnabled is off)", tc.url)
		}
		if retries > 0 { // go-redis keeps -1 as 0 in some clients' options
			t.Errorf("%s: go-redis retries commands (MaxRetries %d)", tc.url, retries)
		}
	}
}

// TestAnAppendIsNotRetriedIntoTwoEntries: with a read timeout shorter
// than the journal's 2 s (a URL may set one), a Redis that stalls during
// an append runs the append once when it resumes, however often the
// client gave up waiting for it meanwhile: one alert, one entry, sent to
// the pages once.
func TestAnAppendIsNotRetriedIntoTwoEntries(t *testing.T) {
	srv := redistest.Start(t)
	c, err := newRedisClient("redis://" + srv.Addr() + "/0?read_timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	j, err := rj.Open(t.Context(), c, rj.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(t.Context(), herald.Delivery{Room: "r", Name: "A", EventID: "before"}); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := make(chan struct{})
	go func() { defer close(resumed); time.Sleep(1200 * time.Millisecond); srv.Resume() }()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	_, _ = j.Append(ctx, herald.Delivery{Room: "r", Name: "A", EventID: "stalled"}) // may fail: the stall outlasts a read
	cancel()
	<-resumed
	entries := func() (n int) {
		es, err := j.Last(t.Context(), "r", 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Delivery.EventID == "stalled" {
				n++
			}
		}
		return n
	}
	waitUntil(t, "the held append to run", func() bool { return entries() > 0 })
	time.Sleep(300 * time.Millisecond) // retries, queued on other connections, would have run by now
	if n := entries(); n != 1 {
		t.Errorf("one Append during a stall made %d journal entries, want 1", n)
	}
}

// TestRedisCommandsKeepToTheCallersDeadline: on a Redis that stalls
// (frozen; its port still accepts), a command gives up at its caller's
// deadline, not at the client's read timeout and after its retries: an
// alert waits for the journal at most the journal's timeout, holding its
// room's place in line meanwhile.
func TestRedisCommandsKeepToTheCallersDeadline(t *testing.T) {
	srv := redistest.Start(t)
	c, err := newRedisClient("redis://" + srv.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(t.Context()).Err(); err != nil { // a connection, set up
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err = c.Ping(ctx).Err()
	took := time.Since(start)
	if err == nil {
		t.Fatal("PING answered by a frozen Redis")
	}
	// Well under the read timeout, which alone is 10 times the deadline.
	if took >= redisTimeout {
		t.Errorf("PING gave up after %v, want about its deadline (%v), not the read timeout (%v)", took.Round(time.Millisecond), deadline, redisTimeout)
	}
}

// TestRedisClientKeepsOffConnectionsRedisClosedOverTLS: go-redis cannot
// check an idle TLS connection before it reuses it (nor any on Windows),
// so without the guard (redisconn) each connection pooled before Redis
// restarted failed the first command sent on it.
func TestRedisClientKeepsOffConnectionsRedisClosedOverTLS(t *testing.T) {
	s := redistest.StartTLS(t)
	c, err := newRedisClient(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	redistest.FillPool(t, c, 8)

	s.Restart()

	// Nothing saw the restart before the first command: that one may
	// fail (it may have run), and no other.
	failed := 0
	for i := range 16 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.Set(ctx, "k", i, 0).Err(); err != nil {
			failed++
			t.Logf("command %d: %v", i, err)
		}
		cancel()
	}
	if failed > 1 {
		t.Fatalf("%d of 16 commands failed after Redis restarted, want at most 1", failed)
	}
}

// TestAnIdleTimeoutIsNoRestart: Redis closing idle connections (its
// timeout setting, which hosted services turn on; CLIENT KILL; a load
// balancer's idle reset) while it stays up is no restart. Over TLS the
// first command on such a connection still fails, as without the guard,
// but the guard must not retire the live subscription with the pooled
// connections: its broker would declare Redis lost, and this node's
// alerts would stop reaching other nodes' pages until it subscribed
// again.
func TestAnIdleTimeoutIsNoRestart(t *testing.T) {
	s := redistest.StartTLS(t)
	c, err := newRedisClient(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b := rb.New(c, rb.Options{NodeID: "a"})
	b.Subscribe(noPage{})
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	redistest.FillPool(t, c, 4)

	// Redis reaps clients idle for a second; Pub/Sub clients are exempt.
	if err := s.Client().ConfigSet(t.Context(), "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	for i := range 4 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		if err := c.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Logf("command %d: %v", i, err) // the first may meet a reaped connection
		}
		cancel()
	}
	time.Sleep(5 * time.Second) // two of the broker's health pings on its subscription
	if st := b.State(); st.Disconnects != 0 || !st.Connected {
		t.Fatalf("Redis never went away, but the broker lost its subscription: %+v", st)
	}
}

// noPage is a sink with no page.
type noPage struct{}

func (noPage) Deliver(context.Context, herald.Delivery) (int, error) { return 0, nil }
