package main

import (
	"context"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// dialRawReads dials like d and reads the connection with raw read(2)
// calls: a page's socket is non-blocking, so a read returns at once, and
// the runtime need not treat it as a system call that may block (hand the
// processor over, wake its monitor thread). Against a server that writes
// its pages one at a time (Node), the loader wakes for every delivery, and
// that bookkeeping was 10-15 % of its CPU, taken from the cores it shares
// with the server it measures (BENCHMARKS.md, eighth pass).
func dialRawReads(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		rc, err := tc.SyscallConn()
		if err != nil {
			return c, nil
		}
		return &rawReadConn{TCPConn: tc, rc: rc}, nil
	}
}

type rawReadConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// Read is net.Conn's Read through the poller (deadlines included) with a
// raw read(2) inside.
func (c *rawReadConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until the socket is readable
			case 0:
				n = int(r)
			default:
				errno = e
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
