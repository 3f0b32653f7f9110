package limit

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
)

// Listener wraps a net.Listener so that every connection it accepts can
// later be counted against a Conns (see Claim) until it is closed,
// including after an HTTP handler hijacked it for a WebSocket: the
// hijacked net.Conn is the one this listener returned, so its Close is
// seen here.
type Listener struct{ net.Listener }

// Accept implements net.Listener.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c}, nil
}

// Conn is a connection accepted by Listener.
type Conn struct {
	net.Conn

	mu       sync.Mutex
	closed   bool
	releases []func()
	claimed  map[*Conns]bool
}

// Claim counts the connection against c under key until it is closed.
// Claiming the same connection twice against the same Conns counts it
// once. It reports false when c is at a bound.
func (n *Conn) Claim(c *Conns, key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.claimed[c] {
		return true
	}
	if n.closed {
		return true // nothing left to count
	}
	release, ok := c.Acquire(key)
	if !ok {
		return false
	}
	if n.claimed == nil {
		n.claimed = map[*Conns]bool{}
	}
	n.claimed[c] = true
	n.releases = append(n.releases, release)
	return true
}

// Close implements net.Conn and releases every claim.
func (n *Conn) Close() error {
	n.mu.Lock()
	rel := n.releases
	n.releases, n.closed = nil, true
	n.mu.Unlock()
	for _, r := range rel {
		r()
	}
	return n.Conn.Close()
}

// SyscallConn exposes the socket underneath, for writers that make raw
// non-blocking writes (egress/socketio's inline path); closing still goes
// through Close.
func (n *Conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := n.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("limit: connection has no file descriptor")
	}
	return sc.SyscallConn()
}

type connKey struct{}

// WithConn returns ctx carrying c when it is (or wraps, as a *tls.Conn
// does) a *Conn; use it as http.Server.ConnContext.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	if w, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = w.NetConn()
	}
	if lc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// ConnOf returns the *Conn a request arrived on, or nil (a server not
// built with Listener and WithConn).
func ConnOf(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}
