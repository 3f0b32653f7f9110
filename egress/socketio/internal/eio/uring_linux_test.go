package eio

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// testRing is a ring for a test, skipped (saying why) where the kernel
// refuses io_uring.
func testRing(t *testing.T) *ring {
	t.Helper()
	r, err := newRing(ringEntries)
	if err != nil {
		t.Skipf("this kernel refuses io_uring: %v", err)
	}
	t.Cleanup(r.close)
	return r
}

// tcpPair is a connected loopback pair and the accepted side's socket.
func tcpPair(t *testing.T) (client net.Conn, server *net.TCPConn, fd int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server = sc.(*net.TCPConn)
	t.Cleanup(func() { server.Close() })
	raw, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(f uintptr) { fd = int32(f) })
	return client, server, fd
}

// TestRingFullSocket: a write to a socket with no room completes at once
// with EAGAIN (for the page's writer to finish), rather than waiting in
// the kernel for the page to read.
func TestRingFullSocket(t *testing.T) {
	r := testRing(t)
	_, server, fd := tcpPair(t)
	_ = server.SetWriteBuffer(4 << 10)
	chunk := make([]byte, 64<<10)
	for {
		n, err := writeFD(uintptr(fd), chunk)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break // full
		}
	}
	done := make(chan []int32, 1)
	go func() {
		res := make([]int32, 1)
		if err := r.send([]int32{fd}, [][]byte{[]byte("more")}, res); err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		if res[0] != -int32(syscall.EAGAIN) {
			t.Fatalf("send to a full socket completed with %d, want -EAGAIN", res[0])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send to a full socket waited for room")
	}
}

// TestRingRefusedSubmissionFallsBack: when the kernel refuses a
// submission, every write of the batch is still made exactly once (one
// system call each), the broken ring is closed, and the batches after it
// write each page themselves.
func TestRingRefusedSubmissionFallsBack(t *testing.T) {
	s, h, url := startServer(t, Options{})
	broken := testRing(t)
	realFD := broken.FD
	t.Cleanup(func() { syscall.Close(realFD) })
	broken.FD = -1 // io_uring_enter: EBADF
	s.rings.mu.Lock()
	s.rings.free, s.rings.made = []*ring{broken}, 1
	s.rings.mu.Unlock()

	ws := dial(t, url)
	c := connectPage(t, h, ws, "p")
	var b Batch
	for _, text := range []string{"first", "second"} {
		if !b.Send(c, NewFrame(eioMessage, []byte(text))) {
			t.Fatal("Batch.Send to a live page = false")
		}
		if cut := b.Flush(nil); len(cut) != 0 {
			t.Fatal("Flush cut off a live page")
		}
	}
	for _, want := range []string{"4first", "4second"} {
		if got := read(t, ws); got != want {
			t.Fatalf("page read %q, want %q", got, want)
		}
	}
	s.rings.mu.Lock()
	defer s.rings.mu.Unlock()
	if !s.rings.off || len(s.rings.free) != 0 || s.rings.made != 0 {
		t.Fatalf("rings after a refused submission: off %v, %d free, %d made; want none, and no more lent", s.rings.off, len(s.rings.free), s.rings.made)
	}
}
