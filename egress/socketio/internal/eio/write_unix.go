//go:build unix

package eio

import (
	"crypto/tls"
	"net"
	"syscall"
)

// rawConnOf returns the socket behind nc when it is plain TCP (or a
// wrapper of it that exposes its socket, as cmd/herald's counting
// listener does), for the inline non-blocking write of Send; nil otherwise
// (TLS, test pipes).
func rawConnOf(nc net.Conn) syscall.RawConn {
	if _, tls := nc.(interface{ ConnectionState() tls.ConnectionState }); tls {
		return nil
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// fdOf is the descriptor of nc's socket, if it has one to write inline
// (rawConnOf).
func fdOf(nc net.Conn) (int, bool) {
	raw := rawConnOf(nc)
	if raw == nil {
		return 0, false
	}
	fd, ok := 0, false
	if err := raw.Control(func(f uintptr) { fd, ok = int(f), true }); err != nil {
		return 0, false
	}
	return fd, ok
}

// tryWrite makes one non-blocking write; a full socket is 0 bytes, not an
// error. The caller holds fd (direct).
func (c *Conn) tryWrite(b []byte) (int, error) { return writeFD(uintptr(c.fd), b) }

// writeFD is one non-blocking write to socket fd; a full socket is 0
// bytes, not an error.
func writeFD(fd uintptr, b []byte) (int, error) {
	for {
		n, err := writeNonblocking(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, nil
		case n < 0:
			return 0, err
		}
		return n, err
	}
}
