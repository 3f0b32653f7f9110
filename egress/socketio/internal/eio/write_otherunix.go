//go:build unix && !linux

package eio

import "syscall"

// writeNonblocking is write(2) on a non-blocking socket. Outside Linux it
// goes through the runtime's system call wrapper: raw system calls are
// libc calls on macOS and not meant for use there.
func writeNonblocking(fd uintptr, b []byte) (int, error) {
	return syscall.Write(int(fd), b)
}
