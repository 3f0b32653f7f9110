// Package redistest runs a real redis-server for tests: one per call to
// Start, on a free loopback port, without persistence, in the test's temp
// dir, stopped when the test ends. Fault tests stop and restart it (same
// port, empty data, as a crashed Redis without persistence comes back).
//
// Without redis-server on PATH (Debian: apt-get install redis-server) the
// test is skipped, except under CI=true, where it fails: a missing part
// must never pass silently.
package redistest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/needs"
	"github.com/heraldhq/herald/internal/testcert"
)

// startTimeout bounds the wait for redis-server to answer PING. It only
// expires when something is broken.
const startTimeout = 15 * time.Second

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	conf string      // a config file to start from ("" for none)
	args []string    // more redis-server options (cluster, Sentinel mode)
	tls  *tls.Config // the client side when the server speaks TLS only (StartTLS)

	mu     sync.Mutex
	proc   *os.Process // nil when stopped
	exited chan error  // receives the process's exit once
}

// Binary returns the path of redis-server, skipping t when it is missing
// (failing it under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	return needs.Program(t, "apt-get install redis-server", "redis-server")
}

// Start runs a fresh redis-server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return startWith(t)
}

// StartDurable runs a redis-server for t that keeps its data across Stop
// and Restart (an append-only file, fsync'd on every write), as a Redis
// with persistence does when it is restarted.
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return startWith(t, "--appendonly", "yes", "--appendfsync", "always")
}

// StartTLS runs a fresh redis-server for t that speaks TLS only, with a
// certificate made for the test: URL is a rediss:// URL that skips
// verifying it, Client trusts it.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	cert, key, pool := testcert.Write(t, s.dir)
	s.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	s.args = []string{"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"}
	return launch(t, s)
}

func startWith(t testing.TB, args ...string) *Server {
	t.Helper()
	return launch(t, &Server{t: t, bin: Binary(t), dir: t.TempDir(), args: args})
}

// launch starts s on a free port and stops it when t ends.
func launch(t testing.TB, s *Server) *Server {
	t.Helper()
	var err error
	// A free port can be taken between our probe and redis binding it;
	// try a few ports before giving up.
	for range 5 {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL, database 0 (rediss:// for StartTLS,
// not verifying the test's certificate).
func (s *Server) URL() string {
	if s.tls != nil {
		return "rediss://" + s.Addr() + "/0?skip_verify=true"
	}
	return "redis://" + s.Addr() + "/0"
}

// Client returns a new client of the server, closed when the test ends.
func (s *Server) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), TLSConfig: s.tls})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Stop kills the server (SIGKILL: nothing is saved, as in a crash) and
// waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc = nil
}

// Pause freezes the server (SIGSTOP), as a Redis that is busy or stalled
// rather than gone: its connections stay open, connecting still works
// (the kernel completes the handshake), and what clients send waits in
// the kernel's buffers, unanswered, until Resume. Commands whose clients
// gave up meanwhile still run then. Unix only; a stopped or killed
// server is killed all the same by Stop.
func (s *Server) Pause() {
	s.t.Helper()
	s.signalFreeze(true)
}

// Resume thaws a server frozen by Pause (SIGCONT): it runs what was sent
// to it meanwhile, in the order it reads it, and answers again.
func (s *Server) Resume() {
	s.t.Helper()
	s.signalFreeze(false)
}

func (s *Server) signalFreeze(stop bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatal("redistest: pause or resume of a stopped server")
	}
	if err := freeze(s.proc, stop); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// Restart starts the server again on the same port, with no data (unless
// it was started with StartDurable). It
// fails the test when the server does not come up.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	// The port was ours a moment ago; a few tries cover a slow release.
	var err error
	for range 5 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// start launches redis-server on s.port and waits until it answers PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	log := &bytes.Buffer{}
	var first []string
	if s.conf != "" {
		first = []string{s.conf}
	}
	ports := []string{"--port", strconv.Itoa(s.port)}
	if s.tls != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}
	}
	cmd := exec.Command(s.bin, append(append(append(first, ports...),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--dbfilename", "unused.rdb",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--loglevel", "warning",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	), s.args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second, TLSConfig: s.tls})
	defer c.Close()
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %v\n%s%s", s.port, err, log.Bytes(), out)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d did not answer PING within %v", s.port, startTimeout)
		case <-time.After(20 * time.Millisecond):
		}
		if c.Ping(ctx).Err() == nil {
			break
		}
	}
	s.proc, s.exited = cmd.Process, exited
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Main runs a package's tests with go-redis's own log lines dropped (every
// failed dial while a test keeps Redis down would print one); call it from
// TestMain. The code under test logs its state changes to the test log.
func Main(m *testing.M) {
	goredis.SetLogger(quietLog{})
	os.Exit(m.Run())
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

// FillPool has c open n connections at once in each of its pools (go-redis
// keeps pipelines apart from single commands) and leaves them idle, as a
// busy node's client holds them: each holds a blocking read, waiting a
// moment on a key of its own.
func FillPool(t testing.TB, c goredis.UniversalClient, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range n {
		wait := func(p goredis.Cmdable) error {
			return p.BLPop(ctx, 100*time.Millisecond, fmt.Sprintf("redistest:nothing-%d", i)).Err()
		}
		wg.Go(func() {
			if err := wait(c); !errors.Is(err, goredis.Nil) {
				t.Errorf("redistest: BLPOP: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error { return wait(p) }); !errors.Is(err, goredis.Nil) {
				t.Errorf("redistest: BLPOP in a pipeline: %v", err)
			}
		})
	}
	wg.Wait()
	st := c.PoolStats()
	if st.IdleConns < uint32(n) {
		t.Fatalf("redistest: the pool holds %d idle connections, want %d", st.IdleConns, n)
	}
	if st.PipelineStats != nil && st.PipelineStats.IdleConns < uint32(n) {
		t.Fatalf("redistest: the pipelines' pool holds %d idle connections, want %d", st.PipelineStats.IdleConns, n)
	}
}
