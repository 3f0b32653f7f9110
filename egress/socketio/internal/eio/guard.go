package eio

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Only one writer ever writes a page's socket: the Conn (its inline write
// or its writer goroutine). gorilla/websocket writes to the connection it
// hijacked only for the handshake answer and, on a protocol error or an
// oversized message, a close frame of its own. guardedConn is what gorilla
// is given instead of the socket: once the Conn owns the socket, gorilla's
// writes become the Conn's last frame, queued like any other, and its
// write deadlines are ignored (the Conn's writer sets its own).
type guardedConn struct {
	net.Conn
	owner atomic.Pointer[Conn]
}

func (g *guardedConn) Write(p []byte) (int, error) {
	if c := g.owner.Load(); c != nil {
		c.closeAfter(&Frame{b: bytes.Clone(p)}, "protocol error")
		return len(p), nil
	}
	return g.Conn.Write(p)
}

func (g *guardedConn) SetWriteDeadline(t time.Time) error {
	if g.owner.Load() != nil {
		return nil
	}
	return g.Conn.SetWriteDeadline(t)
}

func (g *guardedConn) SetDeadline(t time.Time) error {
	if g.owner.Load() != nil {
		return g.Conn.SetReadDeadline(t)
	}
	return g.Conn.SetDeadline(t)
}

// guardedWriter hands gorilla's Upgrade a guardedConn when it hijacks.
type guardedWriter struct {
	http.ResponseWriter
	conn *guardedConn
}

func (w *guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &guardedConn{Conn: nc}
	return w.conn, brw, nil
}
