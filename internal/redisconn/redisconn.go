// Package redisconn keeps herald's Redis clients off pooled connections
// that died while they were idle.
//
// go-redis checks an idle connection before it hands it out only where it
// can peek at the socket: on Unix, over plain TCP. On Windows, and over
// TLS anywhere, a connection Redis closed while it sat in the pool looks
// healthy, so after Redis restarts every pooled connection fails the
// first command sent on it. That failure is ambiguous (the command may
// have run), and herald turns go-redis's own retries off because its
// writes are not idempotent, so each one cost something: a page's session
// read that failed treated a reconnecting page as new.
//
// Guard closes the gap. When a read on any connection to a server fails
// because the server went away (the Pub/Sub subscription, always reading,
// sees a restart at once), every connection to that server dialed before
// is retired: its next command fails before a byte is written, and the
// guard sends that command again on another connection. Sending it again
// is safe for any command, since the first try never left.
package redisconn

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// ErrRetired is what a retired connection's write returns: the server
// behind it went away since it was dialed, and nothing was sent.
var ErrRetired = errors.New("redis connection retired: the server went away since it was dialed; nothing was sent")

// maxResends is the least bound on how often one command is sent again:
// each retry drops one retired connection from the pool, so a client is
// allowed one per connection its pools may hold (forClient), which is 10
// per CPU by default, and at least this many.
const maxResends = 256

// Guard adds the guard to c: to c itself, or for a Redis Cluster client
// to each node's client, where the connections are.
func Guard(c goredis.UniversalClient) {
	g := &guard{servers: map[string]*atomic.Uint64{}}
	switch c := c.(type) {
	case *goredis.ClusterClient:
		c.OnNewNode(func(node *goredis.Client) { node.AddHook(g.forClient(node)) })
	case *goredis.Client:
		c.AddHook(g.forClient(c))
	default:
		c.AddHook(&hook{guard: g, resends: maxResends})
	}
}

// forClient is g's hook for c, allowed a resend per connection c's pools
// may hold (each retry drops one retired connection).
func (g *guard) forClient(c *goredis.Client) *hook {
	o := c.Options()
	return &hook{guard: g, resends: max(maxResends, o.PoolSize+o.PipelinePoolSize+1)}
}

// hook is the guard as one client's hook.
type hook struct {
	*guard
	resends int
}

// guard is a go-redis hook: it wraps each connection as it is dialed and
// sends a command again when it met a retired connection.
type guard struct {
	mu sync.Mutex
	// servers holds a generation per address, moved on each time a
	// connection of the current generation finds its server gone.
	servers map[string]*atomic.Uint64
}

var _ goredis.Hook = (*hook)(nil)

func (g *guard) generation(addr string) *atomic.Uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.servers[addr]
	if gen == nil {
		gen = new(atomic.Uint64)
		g.servers[addr] = gen
	}
	return gen
}

func (g *hook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		server := g.generation(addr)
		c := &conn{Conn: nc, server: server}
		c.gen.Store(server.Load())
		// Where go-redis can check the socket itself (plain TCP on Unix)
		// it must still be able to: the wrapper keeps the raw socket
		// reachable then, and only then.
		if sc, ok := nc.(syscall.Conn); ok {
			return &sysConn{conn: c, sc: sc}, nil
		}
		return c, nil
	}
}

func (g *hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		for i := 0; i < g.resends && errors.Is(err, ErrRetired) && ctx.Err() == nil; i++ {
			err = next(ctx, cmd)
		}
		return err
	}
}

func (g *hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for i := 0; i < g.resends && errors.Is(err, ErrRetired) && ctx.Err() == nil; i++ {
			err = next(ctx, cmds)
		}
		return err
	}
}

// conn is one connection to a server, of the generation it was dialed in.
type conn struct {
	net.Conn
	server *atomic.Uint64 // the server's current generation
	gen    atomic.Uint64  // this connection's (a read may move it on)
	// sending is set by a write and cleared by a read: go-redis writes a
	// command (or a pipeline) whole, then reads its replies, so a write
	// with sending clear starts a command, and only such a write may be
	// refused (a refused later part would leave a command half sent).
	sending atomic.Bool
}

func (c *conn) Write(b []byte) (int, error) {
	if !c.sending.Load() && c.server.Load() != c.gen.Load() {
		return 0, ErrRetired
	}
	c.sending.Store(true)
	return c.Conn.Write(b)
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.sending.Store(false)
	if err != nil && serverGone(err) {
		// Only news moves the generation: connections dialed since are
		// to the server as it is now.
		gen := c.gen.Load()
		c.server.CompareAndSwap(gen, gen+1)
	} else if err != nil && timedOut(err) {
		// A read that waited its whole deadline without the server
		// closing the connection (the Pub/Sub subscription, between
		// messages) shows the connection outlived what moved the
		// generation: one connection the server closed (an idle timeout,
		// CLIENT KILL) is no restart.
		c.gen.Store(c.server.Load())
	}
	return n, err
}

// serverGone reports whether a read error means the server closed or
// reset the connection, rather than a deadline passing or herald closing
// it.
func serverGone(err error) bool {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// timedOut reports whether a read error is a deadline that passed.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// sysConn is a conn whose socket go-redis may inspect (syscall.Conn).
type sysConn struct {
	*conn
	sc syscall.Conn
}

func (c *sysConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
