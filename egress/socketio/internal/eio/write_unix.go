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

// tryWrite makes one non-blocking write; a full socket is 0 bytes, not an
// error. It goes through Control, not RawConn.Write: the writing flag
// already keeps every other writer off the socket, and it never waits for
// room, so the poller's write lock and deadline bookkeeping would only be
// paid for on every delivery to every page.
func (c *Conn) tryWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Control(func(fd uintptr) { n, werr = writeFD(fd, b) })
	if err == nil {
		err = werr
	}
	return n, err
}

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
