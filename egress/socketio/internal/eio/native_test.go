package eio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// connectPage dials, reads the open packet, joins the namespace with code
// and reads the connect ack and WELCOME; it returns the server's Conn.
func connectPage(t *testing.T, h *rooms, ws *websocket.Conn, code string) *Conn {
	t.Helper()
	read(t, ws)
	write(t, ws, `40{"code":"`+code+`"}`)
	read(t, ws)
	read(t, ws)
	deadline := time.Now().Add(10 * time.Second)
	for h.page(code) == nil {
		if time.Now().After(deadline) {
			t.Fatal("page never joined its room")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := h.page(code)
	waitWritable(t, c) // a batch sent next must find the socket free
	return c
}

func waitGone(t *testing.T, h *rooms, want string) {
	t.Helper()
	select {
	case reason := <-h.gone:
		if reason != want {
			t.Fatalf("disconnect reason = %q, want %q", reason, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("page still connected, want it closed (%s)", want)
	}
}

// TestSendQueueOverflow: a page that stops reading is cut off once more
// than QueueBytes waits for it; Send says so, and the handler hears why.
func TestSendQueueOverflow(t *testing.T) {
	const bound = 256 << 10
	_, h, url := startServer(t, Options{QueueBytes: bound})
	c := connectPage(t, h, dialSmallBuffer(t, url), "stuck")
	f := NewFrame(eioMessage, bytes.Repeat([]byte("x"), 32<<10))
	sent := 0
	for ; sent < 10_000; sent++ {
		if !c.Send(f) {
			break
		}
	}
	if sent == 10_000 {
		t.Fatal("a page that never reads took 320 MB without being cut off")
	}
	waitGone(t, h, "send queue full")
}

// TestPartialWriteArrivesWhole: a frame far larger than the socket buffers
// is written partly inline and the rest by the writer goroutine; the page
// reads it whole, in order with the next one.
func TestPartialWriteArrivesWhole(t *testing.T) {
	_, h, url := startServer(t, Options{})
	ws := dialSmallBuffer(t, url)
	c := connectPage(t, h, ws, "big")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if !c.Send(NewFrame(eioMessage, big)) || !c.Send(NewFrame(eioMessage, []byte("after"))) {
		t.Fatal("Send to a live page = false")
	}
	time.Sleep(100 * time.Millisecond) // let the socket fill before the page reads
	if got := read(t, ws); got != "4"+string(big) {
		t.Fatalf("big frame arrived as %d bytes, want %d intact", len(got), 1+len(big))
	}
	if got := read(t, ws); got != "4after" {
		t.Fatalf("next frame = %q, want 4after", got)
	}
}

// TestOriginCheck: CheckOrigin refuses a page from another origin before
// the upgrade; a page with the allowed origin, or none, gets in.
func TestOriginCheck(t *testing.T) {
	_, _, url := startServer(t, Options{CheckOrigin: func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		return o == "" || o == "http://overlay.local"
	}})
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{name: "no origin (OBS, local file)", ok: true},
		{name: "allowed", origin: "http://overlay.local", ok: true},
		{name: "other site", origin: "https://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			ws, resp, err := websocket.DefaultDialer.Dial(strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", hdr)
			if tc.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				ws.Close()
				return
			}
			if err == nil {
				ws.Close()
				t.Fatal("a page from another origin was accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("refusal = %v, %v; want 403", resp, err)
			}
		})
	}
}

// TestConnectTimeout: a WebSocket that never joins the namespace is
// closed after ConnectTimeout.
func TestConnectTimeout(t *testing.T) {
	s, _, url := startServer(t, Options{ConnectTimeout: 100 * time.Millisecond})
	ws := dial(t, url)
	read(t, ws) // the open packet; no CONNECT follows
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("a page that never connected got a message, want the connection closed")
	} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatal("a page that never connected is still open after 10 s")
	}
	for deadline := time.Now().Add(10 * time.Second); s.open() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server still tracks the page")
		}
	}
}

// TestWebSocketPingIsAnswered: a WebSocket ping (not an Engine.IO one) gets
// a pong with the same data, through the Conn's writer.
func TestWebSocketPingIsAnswered(t *testing.T) {
	_, h, url := startServer(t, Options{})
	ws := dial(t, url)
	connectPage(t, h, ws, "ping")
	pong := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = ws.ReadMessage() }() // control frames are handled while reading
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Fatalf("pong data = %q, want the ping's", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
}

// TestLargeFrameReadBack: frames past the 16-bit length (> 64 KiB) use the
// 64-bit length form, and a real WebSocket reader gets them intact.
func TestLargeFrameReadBack(t *testing.T) {
	_, h, url := startServer(t, Options{})
	ws := dial(t, url)
	c := connectPage(t, h, ws, "large")
	text := strings.Repeat("é", 50_000) // 100,000 bytes of UTF-8
	f, err := EventFrame("BIG", map[string]any{"text": text})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Send(f) {
		t.Fatal("Send = false")
	}
	got := read(t, ws)
	var list []json.RawMessage
	var payload struct{ Text string }
	if !strings.HasPrefix(got, "42") || json.Unmarshal([]byte(got[2:]), &list) != nil || len(list) != 2 ||
		json.Unmarshal(list[1], &payload) != nil || payload.Text != text {
		t.Fatalf("page read %d bytes, not 42[\"BIG\",{text}] intact", len(got))
	}
}

// TestOversizedMessageIsClosedByTheOneWriter: a page that sends more than
// MaxPayload gets gorilla's 1009 close frame, written through the Conn's
// queue (never straight to the socket beside the Conn's writer).
func TestOversizedMessageIsClosedByTheOneWriter(t *testing.T) {
	_, h, url := startServer(t, Options{MaxPayload: 1000})
	ws := dial(t, url)
	connectPage(t, h, ws, "big-sender")
	write(t, ws, `42["X","`+strings.Repeat("y", 2000)+`"]`)
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after an oversized message the page read %v, want a 1009 close", err)
	}
	waitGone(t, h, "protocol error")
}

// TestInvalidUTF8IsClosed: a text message that is not UTF-8 fails the
// connection with a 1007 close (RFC 6455 §8.1), written through the Conn's
// queue; what it carried is not handled.
func TestInvalidUTF8IsClosed(t *testing.T) {
	_, h, url := startServer(t, Options{})
	ws := dial(t, url)
	connectPage(t, h, ws, "mangled")
	write(t, ws, "42[\"REGISTER\",\"\xff\xfe\"]")
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue // a ping may come first
		}
		if !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
			t.Fatalf("after a text message that is not UTF-8 the page read %v, want a 1007 close", err)
		}
		break
	}
	waitGone(t, h, "protocol error")
}

// TestClientAckReachesHandler: an acknowledgement a page sends (43<id>[…])
// reaches Handler.Ack with its id and arguments.
func TestClientAckReachesHandler(t *testing.T) {
	_, h, url := startServer(t, Options{})
	ws := dial(t, url)
	connectPage(t, h, ws, "acks")
	write(t, ws, `437["shown",{"ms":12}]`)
	select {
	case got := <-h.acks:
		if got != `7 ["shown",{"ms":12}]` {
			t.Fatalf("Ack = %s, want id 7 with its arguments", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Handler.Ack never ran")
	}
}

// frameLength decodes a frame header's payload length (RFC 6455 §5.2).
func frameLength(t *testing.T, b []byte) (payload, header int) {
	t.Helper()
	switch n := int(b[1] & 0x7f); n {
	case 126:
		return int(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		return int(binary.BigEndian.Uint64(b[2:10])), 10
	default:
		return n, 2
	}
}
