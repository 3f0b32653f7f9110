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
// error.
func (c *Conn) tryWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				break
			}
		}
		if werr == syscall.EAGAIN {
			n, werr = 0, nil
		}
		return true // never wait for the socket: the writer goroutine does
	})
	if err == nil {
		err = werr
	}
	if n < 0 {
		n = 0
	}
	return n, err
}
