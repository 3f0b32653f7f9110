package socketio

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/internal/limit"
)

// countedSink serves s behind what cmd/herald puts in front of it: every
// handshake that is no WebSocket upgrade carries a limit.Hold of conns,
// which the request gives back unless the session keeps it.
func countedSink(t *testing.T, s *Sink, conns *limit.Conns) string {
	t.Helper()
	h := s.Handler()
	return newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sid") == "" && !websocket.IsWebSocketUpgrade(r) {
			hold, ok := conns.Hold("page")
			if !ok {
				http.Error(w, "too many", http.StatusServiceUnavailable)
				return
			}
			defer hold.End()
			r = r.WithContext(limit.WithHold(r.Context(), hold))
		}
		h.ServeHTTP(w, r)
	})).URL
}

func openCount(c *limit.Conns) int { _, n := c.Open("page"); return n }

// TestLibrarySessionsKeepTheirCount: a long-polling session counts as one
// open connection from its handshake until the library closes it, not
// only while a request of it is in flight; it counts once after it
// upgrades to a WebSocket; and it is given back exactly once whichever
// way it ends.
func TestLibrarySessionsKeepTheirCount(t *testing.T) {
	t.Run("page closes", func(t *testing.T) {
		conns := limit.NewConns(0, 0)
		base := countedSink(t, New(Options{Log: discardLog()}), conns)
		open := pollHandshake(t, base)
		if n := openCount(conns); n != 1 {
			t.Fatalf("a polling session between polls counts %d, want 1", n)
		}
		post(t, base, open.SID, "1") // Engine.IO close
		waitFor(t, "the closed session's count to go", func() bool { return openCount(conns) == 0 })
	})
	t.Run("ping timeout", func(t *testing.T) {
		conns := limit.NewConns(0, 0)
		base := countedSink(t, New(Options{Log: discardLog(), PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond}), conns)
		pollHandshake(t, base) // and never poll: the heartbeat closes it
		waitFor(t, "the timed-out session's count to go", func() bool { return openCount(conns) == 0 })
	})
	t.Run("upgrade then close", func(t *testing.T) {
		conns := limit.NewConns(0, 0)
		s := New(Options{Log: discardLog()})
		base := countedSink(t, s, conns)
		open := pollHandshake(t, base)
		post(t, base, open.SID, "40")
		ws := upgrade(t, base, open.SID)
		waitFor(t, "the page to move to the WebSocket", func() bool {
			c := s.Clients()
			return len(c) == 1 && c[0].Transport == "websocket"
		})
		if n := openCount(conns); n != 1 {
			t.Fatalf("an upgraded session counts %d, want 1", n)
		}
		ws.Close()
		waitFor(t, "the upgraded session's count to go", func() bool { return len(s.Clients()) == 0 })
		if n := openCount(conns); n != 0 {
			t.Fatalf("after the upgraded session closed it counts %d, want 0", n)
		}
	})
	t.Run("sink closes", func(t *testing.T) {
		conns := limit.NewConns(0, 0)
		s := New(Options{Log: discardLog()})
		base := countedSink(t, s, conns)
		pollHandshake(t, base)
		pollHandshake(t, base)
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := openCount(conns); n != 0 {
			t.Fatalf("after Close %d sessions still count, want 0", n)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		conns := limit.NewConns(0, 0)
		s := New(Options{Log: discardLog()})
		base := countedSink(t, s, conns)
		open := pollHandshake(t, base)
		if !s.CloseSession(open.SID) {
			t.Fatal("CloseSession of a live session reported none")
		}
		if n := openCount(conns); n != 0 {
			t.Fatalf("a dropped session counts %d, want 0", n)
		}
		if s.CloseSession(open.SID) {
			t.Fatal("CloseSession of a closed session reported one")
		}
	})
}

func post(t *testing.T, base, sid, payload string) {
	t.Helper()
	resp, err := http.Post(base+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post %q = %d", payload, resp.StatusCode)
	}
}

// upgrade moves session sid to a WebSocket, as the official client does:
// probe, then upgrade.
func upgrade(t *testing.T, base, sid string) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + sid
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(timeout)) // a safety net
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		t.Fatalf("probe answered %q, %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	return ws
}
