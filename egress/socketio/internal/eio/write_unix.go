//go:build unix

package eio

import (
	"net"
	"syscall"
)

// rawConnOf returns the socket behind nc when it is plain TCP, for the
// inline non-blocking write of Send; nil otherwise (TLS, test pipes).
func rawConnOf(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
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
