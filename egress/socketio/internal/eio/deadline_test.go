package eio

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleAfterWriterKeepsPage is the regression test for the stale write
// deadline: a page whose last write went through the writer goroutine
// (because its socket was full) stays idle for longer than the write
// timeout, then one alert is sent. The page must get it and stay
// connected; before the fix the deadline set by the writer was never
// cleared, so the next write failed with "i/o timeout" and the page was
// dropped with "transport error".
func TestIdleAfterWriterKeepsPage(t *testing.T) {
	// Generous, so a loaded machine draining the burst never hits it: the
	// test is about the deadline outliving the writer, not about its length.
	const writeTimeout = 2 * time.Second
	_, h, url := startServer(t, Options{WriteTimeout: writeTimeout})
	ws := dialSmallBuffer(t, url)
	read(t, ws) // open
	write(t, ws, `40{"code":"c"}`)
	read(t, ws) // connect ack
	read(t, ws) // WELCOME
	page := h.page("c")
	if page == nil {
		t.Fatal("page did not join its room")
	}
	// Small buffers on both ends: 1 MiB cannot be taken by the kernel in
	// one write while the page is not reading, so the inline write takes
	// part and hands the rest to the writer goroutine, which sets the
	// write deadline.
	if tc, ok := page.nc.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	big, err := EventFrame("BURST", strings.Repeat("x", 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if !page.Send(big) {
		t.Fatal("Send(big) = false")
	}
	if got := read(t, ws); !strings.HasPrefix(got, `42["BURST"`) {
		t.Fatalf("page read %.40q, want the burst", got)
	}

	// The writer set its deadline before the page finished reading: half
	// a timeout more of idling is past it.
	time.Sleep(writeTimeout + writeTimeout/2)

	small, err := EventFrame("FOLLOW", map[string]string{"user": "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if !page.Send(small) {
		t.Fatal("Send after an idle gap = false: the page was dropped")
	}
	if got := read(t, ws); got != `42["FOLLOW",{"user":"ada"}]` {
		t.Fatalf("page read %q after the idle gap, want the FOLLOW alert", got)
	}
	select {
	case reason := <-h.gone:
		t.Fatalf("healthy page disconnected after an idle gap: %s", reason)
	default:
	}
}

// dialSmallBuffer connects like dial, with a small receive buffer so that
// a large frame cannot be taken by the kernel in one write.
func dialSmallBuffer(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(16 << 10)
		}
		return c, err
	}}
	ws, _, err := d.Dial(strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}
