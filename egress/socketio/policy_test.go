package socketio

import (
	"net/http"
	"strings"
	"testing"
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
