package eio

import (
	"syscall"
	"unsafe"
)

// writeNonblocking is write(2) on a non-blocking socket, which returns at
// once. It is a raw system call: the runtime need not hand this thread's
// processor to another while it runs, and with one write per page per
// delivery, that hand-off (and the monitor thread waking to make it) cost
// more than the write itself under load.
func writeNonblocking(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
