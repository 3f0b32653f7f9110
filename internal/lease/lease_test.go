package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/lease"
	"github.com/heraldhq/herald/internal/redistest"
)

const ttl = 600 * time.Millisecond

// node starts a lease on its own client, as a herald node would; stop
// ends its Run (releasing), kill closes its client (a SIGKILLed node:
// no release, no renewals).
func node(t *testing.T, srv *redistest.Server, owner string) (l *lease.Lease, stop func(), kill func()) {
	t.Helper()
	return nodeWithTTL(t, srv, owner, ttl)
}

func nodeWithTTL(t *testing.T, srv *redistest.Server, owner string, ttl time.Duration) (l *lease.Lease, stop func(), kill func()) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	ctx, cancel := context.WithCancel(t.Context())
	l = lease.New(c, "herald:lease:twitch", lease.Options{Owner: owner, TTL: ttl})
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	stop = func() { cancel(); <-done }
	kill = func() { _ = c.Close(); cancel(); <-done }
	t.Cleanup(func() { cancel(); <-done; _ = c.Close() })
	return l, stop, kill
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func holders(ls ...*lease.Lease) int {
	n := 0
	for _, l := range ls {
		if l.Held() {
			n++
		}
	}
	return n
}

// TestOneHolder: of three nodes exactly one holds the lease, and keeps it
// across many renewals.
func TestOneHolder(t *testing.T) {
	srv := redistest.Start(t)
	a, _, _ := node(t, srv, "a")
	b, _, _ := node(t, srv, "b")
	c, _, _ := node(t, srv, "c")
	waitFor(t, "a holder", func() bool { return holders(a, b, c) == 1 })
	var first *lease.Lease
	for _, l := range []*lease.Lease{a, b, c} {
		if l.Held() {
			first = l
		}
	}
	for range 3 * 4 { // several TTLs
		time.Sleep(ttl / 4)
		if n := holders(a, b, c); n != 1 || !first.Held() {
			t.Fatalf("%d holders (first holder %s holds: %v), want the first one alone", n, first.Owner(), first.Held())
		}
	}
	if owner := srv.Client().Get(t.Context(), "herald:lease:twitch").Val(); owner != first.Owner() {
		t.Errorf("key names %q, want %q", owner, first.Owner())
	}
}

// TestTakeover: a holder that dies (no release) is replaced once its key
// expires; one that stops cleanly is replaced at the next try.
func TestTakeover(t *testing.T) {
	tests := []struct {
		name string
		kill bool
	}{
		{name: "killed", kill: true},
		{name: "stopped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			a, stopA, killA := node(t, srv, "a")
			waitFor(t, "a to hold", a.Held)
			b, _, _ := node(t, srv, "b")
			changed := b.Changed()
			if tc.kill {
				killA()
			} else {
				stopA()
			}
			waitFor(t, "b to take over", b.Held)
			select {
			case <-changed:
			default:
				t.Error("Changed did not fire when b took over")
			}
			if a.Held() {
				t.Error("a still believes it holds the lease")
			}
		})
	}
}

// TestRedisLost: a holder that cannot reach Redis steps down once the
// lease would have expired, and holds again when Redis is back.
func TestRedisLost(t *testing.T) {
	srv := redistest.Start(t)
	a, _, _ := node(t, srv, "a")
	waitFor(t, "a to hold", a.Held)
	srv.Stop()
	waitFor(t, "a to step down", func() bool { return !a.Held() })
	srv.Restart()
	waitFor(t, "a to hold again", a.Held)
}

// TestHolderKeepsItOverARedisThatCameBackEmpty: Redis restarted without
// its data forgets the key; the holder, still within its lease, takes it
// back at its next renewal instead of stepping down (which stopped the
// singleton, Twitch's session with it, until the next try).
func TestHolderKeepsItOverARedisThatCameBackEmpty(t *testing.T) {
	srv := redistest.Start(t)
	const long = 3 * time.Second // renewals every second: the restart fits between two
	a, _, _ := nodeWithTTL(t, srv, "a", long)
	waitFor(t, "a to hold", a.Held)
	changed := a.Changed()

	srv.Restart()
	waitFor(t, "the key back in Redis", func() bool {
		return srv.Client().Get(t.Context(), "herald:lease:twitch").Val() == "a"
	})
	select {
	case <-changed:
		t.Fatal("a stepped down when Redis came back empty")
	default:
	}
	if !a.Held() {
		t.Fatal("a does not hold the lease")
	}
}

// TestRunWhileHeld: the singleton runs only on the holder, and moves to
// the other node when the holder dies.
func TestRunWhileHeld(t *testing.T) {
	srv := redistest.Start(t)
	var running atomic.Int32
	var runs [2]atomic.Int32
	singleton := func(i int) func(context.Context) error {
		return func(ctx context.Context) error {
			if running.Add(1) > 1 {
				t.Error("two nodes run the singleton at once")
			}
			runs[i].Add(1)
			<-ctx.Done()
			running.Add(-1)
			return nil
		}
	}
	a, _, killA := node(t, srv, "a")
	waitFor(t, "a to hold", a.Held)
	b, _, _ := node(t, srv, "b")
	done := make(chan struct{}, 2)
	for i, l := range []*lease.Lease{a, b} {
		go func() { _ = lease.RunWhileHeld(t.Context(), l, nil, singleton(i)); done <- struct{}{} }()
	}
	waitFor(t, "a's singleton to run", func() bool { return runs[0].Load() == 1 })
	killA()
	waitFor(t, "b's singleton to run", func() bool { return runs[1].Load() == 1 })
	if runs[0].Load() != 1 || running.Load() != 1 {
		t.Errorf("runs a=%d b=%d running=%d, want 1, 1, 1", runs[0].Load(), runs[1].Load(), running.Load())
	}
}
