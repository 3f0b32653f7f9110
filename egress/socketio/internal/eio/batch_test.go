package eio

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBatch: a batch behaves the same whichever way it writes, through
// io_uring or with one write per page.
func TestBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
	}{{"io_uring", false}, {"one write per page", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("every page gets its frames in order", func(t *testing.T) { testBatchOrder(t, tc.plain) })
			t.Run("a large frame arrives whole", func(t *testing.T) { testBatchLargeFrame(t, tc.plain) })
			t.Run("a page closed before the flush is cut off alone", func(t *testing.T) { testBatchClosedPage(t, tc.plain) })
		})
	}
}

// batchServer starts a server whose batches write as asked; the io_uring
// run is skipped, saying why, where the kernel has none to give.
func batchServer(t *testing.T, plain bool) (*Server, *rooms, string) {
	t.Helper()
	if !plain {
		if !ringsSupported {
			t.Skipf("no io_uring on %s: the one-write-per-page run covers batches here", runtime.GOOS)
		}
		r, err := newRing(ringEntries)
		if err != nil {
			t.Skipf("this kernel refuses io_uring (%v): the one-write-per-page run covers batches here", err)
		}
		r.close()
	}
	return startServer(t, Options{PlainWrites: plain})
}

// ringsUsed fails the test if a batch that should have gone through
// io_uring did not.
func ringsUsed(t *testing.T, s *Server, plain bool) {
	t.Helper()
	s.rings.mu.Lock()
	defer s.rings.mu.Unlock()
	if used := s.rings.made > 0; used == plain {
		t.Fatalf("rings made = %d with PlainWrites %v", s.rings.made, plain)
	}
}

// testBatchOrder: 150 pages (three ring-fulls) get ten batches, and while
// each batch holds their sockets a frame sent the ordinary way queues
// behind it: every page reads both frames of every round, in order.
func testBatchOrder(t *testing.T, plain bool) {
	s, h, url := batchServer(t, plain)
	const pages, rounds = 150, 10
	wss := make([]*websocket.Conn, pages)
	conns := make([]*Conn, pages)
	for i := range pages {
		wss[i] = dial(t, url)
		conns[i] = connectPage(t, h, wss[i], fmt.Sprint("p", i))
	}
	var b Batch
	for r := range rounds {
		batched := NewFrame(eioMessage, fmt.Appendf(nil, "batched %d", r))
		after := NewFrame(eioMessage, fmt.Appendf(nil, "after %d", r))
		for _, c := range conns {
			if !b.Send(c, batched) {
				t.Fatal("Batch.Send to a live page = false")
			}
		}
		for _, c := range conns {
			if !c.Send(after) {
				t.Fatal("Send to a live page = false")
			}
		}
		if cut := b.Flush(nil); len(cut) != 0 {
			t.Fatalf("Flush cut off %d live pages", len(cut))
		}
	}
	ringsUsed(t, s, plain)
	for i, ws := range wss {
		for r := range rounds {
			for _, want := range []string{fmt.Sprint("4batched ", r), fmt.Sprint("4after ", r)} {
				if got := read(t, ws); got != want {
					t.Fatalf("page %d read %q, want %q", i, got, want)
				}
			}
		}
	}
}

// testBatchLargeFrame: a frame far larger than the socket buffers goes out
// partly in the batch's write and the rest from the page's writer, before
// the next frame.
func testBatchLargeFrame(t *testing.T, plain bool) {
	s, h, url := batchServer(t, plain)
	ws := dialSmallBuffer(t, url)
	c := connectPage(t, h, ws, "big")
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10) // so the kernel cannot take 1 MiB at once
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var b Batch
	if !b.Send(c, NewFrame(eioMessage, big)) || !b.Send(c, NewFrame(eioMessage, []byte("after"))) {
		t.Fatal("Batch.Send to a live page = false")
	}
	if cut := b.Flush(nil); len(cut) != 0 {
		t.Fatal("Flush cut off a live page")
	}
	ringsUsed(t, s, plain)
	if got := read(t, ws); got != "4"+string(big) {
		t.Fatalf("big frame arrived as %d bytes, want %d intact", len(got), 1+len(big))
	}
	if got := read(t, ws); got != "4after" {
		t.Fatalf("next frame = %q, want 4after", got)
	}
}

// testBatchClosedPage: a page whose socket closes while a batch holds it
// is reported cut off by Flush; the other pages of the batch still get
// the frame, and a page that connects meanwhile does not: the closed
// page's descriptor, which the new socket could have been given, stays
// the closed page's until the batch is done with it.
func testBatchClosedPage(t *testing.T, plain bool) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows every frame goes through the page's writer goroutine: a batch holds no page to cut off")
	}
	s, h, url := batchServer(t, plain)
	gone := connectPage(t, h, dial(t, url), "gone")
	ws := dial(t, url)
	live := connectPage(t, h, ws, "live")
	var b Batch
	f := NewFrame(eioMessage, []byte("alert"))
	if !b.Send(gone, f) || !b.Send(live, f) {
		t.Fatal("Batch.Send to a live page = false")
	}
	gone.abort("closed under the batch")
	newWS := dial(t, url)
	newcomer := connectPage(t, h, newWS, "newcomer")
	cut := b.Flush(nil)
	if len(cut) != 1 || cut[0] != gone {
		t.Fatalf("Flush cut off %v, want only the closed page", cut)
	}
	ringsUsed(t, s, plain)
	if got := read(t, ws); got != "4alert" {
		t.Fatalf("live page read %q, want 4alert", got)
	}
	waitGone(t, h, "closed under the batch")
	if !newcomer.Send(NewFrame(eioMessage, []byte("own"))) {
		t.Fatal("Send to the new page = false")
	}
	if got := read(t, newWS); got != "4own" {
		t.Fatalf("a page that connected while the batch held a closed page's socket read %q first, want 4own", got)
	}
}

// waitWritable waits until no write holds c's socket. A page reads the
// handshake's last frame as soon as the kernel has it, a moment before
// the server hands the socket back; a Send in that moment queues behind.
func waitWritable(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		busy := c.writing
		c.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the page's socket stayed busy")
		}
		time.Sleep(time.Millisecond)
	}
}
