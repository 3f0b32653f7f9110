package redisconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// opaque hides the socket from go-redis, as a Windows build or TLS does:
// its pool then cannot tell a connection the server closed from a live one.
type opaque struct{ net.Conn }

// dialOpaque dials a connection go-redis's pool cannot check (opaque).
func dialOpaque(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return opaque{c}, nil
}

// newClient is a client of s as herald builds one (no retries of its own,
// the caller's deadlines), its connections opaque when windowsLike.
func newClient(t *testing.T, s *redistest.Server, windowsLike, guarded bool) *goredis.Client {
	t.Helper()
	opts := &goredis.Options{Addr: s.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	if windowsLike {
		opts.Dialer = dialOpaque
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	if guarded {
		Guard(c)
	}
	return c
}

// subscribe starts a subscription that reads all the time, as herald's
// broker does, and returns a function that waits until it receives again
// after a restart.
func subscribe(t *testing.T, c *goredis.Client, s *redistest.Server) (waitBack func()) {
	t.Helper()
	ps := c.Subscribe(context.Background(), "herald-test")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	ch := ps.Channel()
	return func() {
		t.Helper()
		pub := s.Client()
		deadline := time.After(10 * time.Second)
		for {
			_ = pub.Publish(context.Background(), "herald-test", "ping").Err()
			select {
			case <-ch:
				return
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				t.Fatal("the subscription did not come back after the restart")
			}
		}
	}
}

// commands runs n commands one after the other, writes and reads, and
// returns the errors they met.
func commands(c goredis.UniversalClient, n int) []error {
	var errs []error
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var err error
		if i%2 == 0 {
			err = c.Set(ctx, "k", i, 0).Err()
		} else {
			err = c.Get(ctx, "k").Err()
		}
		cancel()
		if err != nil && !errors.Is(err, goredis.Nil) {
			errs = append(errs, fmt.Errorf("command %d: %w", i, err))
		}
	}
	return errs
}

// The case herald met under Wine: Redis restarts, and the subscription
// sees it. Every command after, write or read, must work the first time.
func TestCommandsAfterARestartOnConnectionsThatLookHealthy(t *testing.T) {
	s := redistest.Start(t)
	c := newClient(t, s, true, true)
	redistest.FillPool(t, c, 8)
	waitBack := subscribe(t, c, s)

	s.Restart()
	waitBack()

	// A pipeline first, then single commands, each meeting retired
	// connections (every one the pool held is).
	pipe := c.Pipeline()
	set := pipe.Set(context.Background(), "p", "v", 0)
	get := pipe.Get(context.Background(), "p")
	if _, err := pipe.Exec(context.Background()); err != nil || set.Err() != nil || get.Val() != "v" {
		t.Fatalf("pipeline after the restart: %v, set %v, get %q %v", err, set.Err(), get.Val(), get.Err())
	}
	if errs := commands(c, 16); len(errs) > 0 {
		t.Fatalf("%d of 16 commands failed after the restart: %v", len(errs), errs)
	}
}

// Without a subscription nothing sees the restart before a command does:
// that command's failure is ambiguous and stays the caller's, but it
// retires the other connections, so it is the only one.
func TestWithoutASubscriptionOneCommandFails(t *testing.T) {
	s := redistest.Start(t)
	c := newClient(t, s, true, true)
	redistest.FillPool(t, c, 8)

	s.Restart()

	errs := commands(c, 16)
	if len(errs) > 1 {
		t.Fatalf("%d of 16 commands failed after the restart, want at most 1: %v", len(errs), errs)
	}
}

// Where go-redis checks idle connections itself (plain TCP on Unix), the
// guard must leave it able to: no command fails, subscription or not.
func TestTheClientStillChecksTheSocket(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("go-redis checks idle connections on Unix only")
	}
	s := redistest.Start(t)
	c := newClient(t, s, false, true)
	redistest.FillPool(t, c, 8)

	s.Restart()
	time.Sleep(50 * time.Millisecond) // the kernel has the resets in by then

	if errs := commands(c, 16); len(errs) > 0 {
		t.Fatalf("%d of 16 commands failed after the restart: %v", len(errs), errs)
	}
}

// A connection is retired between commands only: a command whose first
// part was written goes out whole, or the server would run half of it.
func TestARetiredConnectionFinishesTheCommandItStarted(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() { _, _ = io.Copy(io.Discard, server) }()
	gen := new(atomic.Uint64)
	c := &conn{Conn: client, server: gen}
	c.gen.Store(gen.Load())

	if _, err := c.Write([]byte("*1\r\n")); err != nil {
		t.Fatal(err)
	}
	gen.Add(1) // the server went away, seen on another connection
	if _, err := c.Write([]byte("$4\r\nPING\r\n")); err != nil {
		t.Fatalf("the rest of a started command: %v, want it written", err)
	}
	go func() { _, _ = server.Write([]byte("+PONG\r\n")) }()
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("*1\r\n")); !errors.Is(err, ErrRetired) {
		t.Fatalf("the next command's write: %v, want ErrRetired", err)
	}
}

// A timeout or herald's own close says nothing about the server.
func TestOnlyAServerThatWentAwayRetires(t *testing.T) {
	tests := []struct {
		name string
		err  error
		gone bool
	}{
		{"closed by the server", io.EOF, true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"deadline", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false},
		{"closed by herald", fmt.Errorf("read: %w", net.ErrClosed), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverGone(tt.err); got != tt.gone {
				t.Fatalf("serverGone(%v) = %v, want %v", tt.err, got, tt.gone)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// On a Redis Cluster the connections belong to each node's client: the
// guard goes there (Guard on a ClusterClient).
func TestARedisClusterNodeRestarted(t *testing.T) {
	cluster := redistest.StartCluster(t, 1)
	node := cluster.Nodes[0]
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{node.Addr()},
		MaxRetries: -1, ContextTimeoutEnabled: true, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		Dialer: dialOpaque})
	t.Cleanup(func() { _ = c.Close() })
	Guard(c)
	redistest.FillPool(t, c, 8)
	ps := c.Subscribe(context.Background(), "herald-test")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	got := ps.Channel()

	node.Restart()
	plain := node.Client()
	deadline := time.After(15 * time.Second)
	for back := false; !back; {
		_ = plain.Publish(context.Background(), "herald-test", "ping").Err()
		select {
		case <-got:
			back = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("the subscription did not come back after the node restarted")
		}
	}
	for info := ""; !strings.Contains(info, "cluster_state:ok"); info, _ = plain.ClusterInfo(context.Background()).Result() {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the node's cluster is not ok after its restart: %s", info)
		}
	}

	if errs := commands(c, 16); len(errs) > 0 {
		t.Fatalf("%d of 16 commands failed after the node restarted: %v", len(errs), errs)
	}
}

// TestAPoolOfDefaultSizeOnABigMachine: go-redis pools 10 connections per
// CPU by default, 300 on a 30-CPU machine. After a restart the
// subscription saw, every one of them is retired, and a command meets
// one after another: it must be allowed a resend per pooled connection,
// or it gives up with ErrRetired with a fresh connection one dial away.
func TestAPoolOfDefaultSizeOnABigMachine(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(30))
	s := redistest.Start(t)
	c := newClient(t, s, true, true)
	if got := c.Options().PoolSize; got != 300 {
		t.Fatalf("pool size %d, want go-redis's default for 30 CPUs, 300", got)
	}
	// 300 connections busy at once, then idle in the pool.
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() { _ = c.BLPop(context.Background(), time.Second, fmt.Sprintf("nothing-%d", i)).Err() })
	}
	wg.Wait()
	if st := c.PoolStats(); st.IdleConns < 300 {
		t.Fatalf("%d idle connections, want 300", st.IdleConns)
	}
	waitBack := subscribe(t, c, s)
	s.Restart()
	waitBack()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("the first command after the restart: %v (ErrRetired: %v)", err, errors.Is(err, ErrRetired))
	}
}
