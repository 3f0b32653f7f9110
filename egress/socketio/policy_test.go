package socketio

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestSlowPollingPageIsCutOff: a long-polling page that never polls gets
// the same queue bound as a WebSocket page: once more than QueueBytes
// waits for it, it is closed and no longer counted, instead of the library
// buffering every alert for it without end.
func TestSlowPollingPageIsCutOff(t *testing.T) {
	const bound = 64 << 10
	s, srv := startSink(t, Options{QueueBytes: bound})
	open := pollHandshake(t, srv.URL)
	url := srv.URL + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	resp, err := http.Post(url, "text/plain;charset=UTF-8", strings.NewReader(`40{"code":"slow"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the polling page to join its room", func() bool { return s.rooms.count("slow") == 1 })

	big := map[string]any{"text": strings.Repeat("x", 10<<10)}
	reached := 0
	for i := range 3 * bound / (10 << 10) {
		n, err := s.Deliver(t.Context(), delivery("slow", "BIG", big))
		if err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
		reached += n
		if n == 0 {
			break
		}
	}
	// The page took deliveries until more than the bound waited, then
	// one more at most: 64 KiB / ~10 KiB is 7 or 8.
	if reached < bound/(11<<10) || reached > bound/(10<<10)+2 {
		t.Errorf("a page that never polls was handed %d deliveries of 10 KiB under a %d-byte bound", reached, bound)
	}
	waitFor(t, "the slow page to be closed", func() bool { return s.rooms.count("slow") == 0 && len(s.Clients()) == 0 })
}

// TestSlowWebSocketPageIsCutOff: the same bound holds for a page on the
// native WebSocket path that stops reading. Once the kernel's socket
// buffers are full, what waits for it grows to the bound; the next
// delivery cuts it off instead of queueing without end, and the page is
// no longer counted.
func TestSlowWebSocketPageIsCutOff(t *testing.T) {
	const bound = 64 << 10
	s, srv := startSink(t, Options{QueueBytes: bound})
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open packet = %q, %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"code":"slow"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the page to join its room", func() bool { return s.rooms.count("slow") == 1 })

	// From here the page reads nothing. Loopback socket buffers hold a few
	// MiB at most, so 64 MiB of deliveries is far more than they and the
	// bound can take.
	big := map[string]any{"text": strings.Repeat("x", 10<<10)}
	cutOff := false
	for i := range (64 << 20) / (10 << 10) {
		n, err := s.Deliver(t.Context(), delivery("slow", "BIG", big))
		if err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
		if n == 0 {
			cutOff = true
			break
		}
	}
	if !cutOff {
		t.Fatal("a WebSocket page that reads nothing was handed 64 MiB of deliveries under a 64 KiB bound")
	}
	waitFor(t, "the slow page to be closed", func() bool { return s.rooms.count("slow") == 0 && len(s.Clients()) == 0 })
}

// TestLongCodeIsRefused: a code over 256 bytes is not taken, whether it
// comes with REGISTER or in the handshake; the page is told with ERROR.
func TestLongCodeIsRefused(t *testing.T) {
	long := strings.Repeat("c", maxCodeBytes+1)
	t.Run("REGISTER", func(t *testing.T) {
		s, srv := startSink(t, Options{})
		p := dialRaw(t, srv.URL, "", nil)
		if err := p.send(`421["REGISTER",{"code":"` + long + `"}]`); err != nil {
			t.Fatal(err)
		}
		if f, want := p.next(t), `42["ERROR",{"message":"code too long: at most 256 bytes"}]`; f != want {
			t.Errorf("after a long REGISTER got %s, want %s", f, want)
		}
		if f, want := p.next(t), `431[{"error":"code too long: at most 256 bytes","ok":false}]`; f != want {
			t.Errorf("long REGISTER ack = %s, want %s", f, want)
		}
		if got := codes(s); len(got) != 1 || got[0] != "" {
			t.Errorf("Clients codes = %q, want one unregistered page", got)
		}
	})
	t.Run("handshake", func(t *testing.T) {
		s, srv := startSink(t, Options{})
		p := dialRaw(t, srv.URL, long, nil) // checks WELCOME first
		if f, want := p.next(t), `42["ERROR",{"message":"code too long: at most 256 bytes"}]`; f != want {
			t.Errorf("after a long handshake code got %s, want %s", f, want)
		}
		if got := codes(s); len(got) != 1 || got[0] != "" {
			t.Errorf("Clients codes = %q, want one unregistered page", got)
		}
	})
}
