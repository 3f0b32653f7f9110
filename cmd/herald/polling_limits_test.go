package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// handshake opens a long-polling session and returns its sid, or "" and
// the answer when it is refused.
func handshake(t *testing.T, base string) (sid string, refused answer) {
	t.Helper()
	a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", nil, nil)
	if a.status != http.StatusOK {
		return "", a
	}
	var open struct{ Sid string }
	if !strings.HasPrefix(a.body, "0{") || json.Unmarshal([]byte(a.body[1:]), &open) != nil {
		t.Fatalf("polling handshake = %d %.200s", a.status, a.body)
	}
	return open.Sid, a
}

// upgradeSession moves polling session sid to a WebSocket, as the
// official client does: probe, then upgrade.
func upgradeSession(t *testing.T, base, sid string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+hostOf(base)+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute)) // a safety net, not an assertion
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

// TestPollingSessionsCountAsOpenConnections: a long-polling session counts
// as one open Socket.IO connection of its client from its handshake until
// it closes, between its polls too, so --conns-per-ip and --conns-total
// hold for polling and WebSocket pages alike; a handshake past the bound is
// refused as a WebSocket is (503, Retry-After). A session upgraded to a
// WebSocket counts once, and every session is given back exactly once.
func TestPollingSessionsCountAsOpenConnections(t *testing.T) {
	const bound = 3
	for name, set := range map[string]func(*config){
		"conns-per-ip": func(c *config) { c.connsPerIP, c.connsTotal = bound, 0 },
		"conns-total":  func(c *config) { c.connsPerIP, c.connsTotal = 0, bound },
	} {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, set)
			wsURL := "ws://" + hostOf(base) + "/socket.io/?EIO=4&transport=websocket"
			var sids []string
			for range bound {
				sid, a := handshake(t, base)
				if sid == "" {
					t.Fatalf("handshake within the bound = %d %s", a.status, a.body)
				}
				sids = append(sids, sid)
			}
			// No request of theirs is in flight now: they are idle sessions.
			if sid, a := handshake(t, base); sid != "" || a.status != http.StatusServiceUnavailable ||
				a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "too many open connections") {
				t.Fatalf("a handshake past %d idle polling sessions = %d %q, want 503 too many open connections with Retry-After", bound, a.status, a.body)
			}
			if c, resp, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
				if c != nil {
					c.Close()
				}
				t.Fatalf("a WebSocket past %d polling sessions: err %v resp %v; want 503", bound, err, resp)
			}

			// One session moves to a WebSocket: still one of the bound.
			ws := upgradeSession(t, base, sids[0])
			defer ws.Close()
			if sid, a := handshake(t, base); sid != "" || a.status != http.StatusServiceUnavailable {
				t.Fatalf("a handshake past %d sessions, one upgraded = %d %q, want 503", bound, a.status, a.body)
			}

			// One polling session leaves: exactly one place frees.
			if a := do(t, "POST", base+"/socket.io/?EIO=4&transport=polling&sid="+sids[1], strings.NewReader("1"),
				map[string]string{"Content-Type": "text/plain;charset=UTF-8"}); a.status != http.StatusOK {
				t.Fatalf("close packet = %d %s", a.status, a.body)
			}
			var fresh string
			waitFor(t, "the closed session's place to free", func() bool { fresh, _ = handshake(t, base); return fresh != "" })
			if sid, a := handshake(t, base); sid != "" {
				t.Fatalf("two places freed by one closed session (the upgraded one counted twice?): %d", a.status)
			}

			// The upgraded session leaves: exactly one place frees again.
			ws.Close()
			waitFor(t, "the upgraded session's place to free", func() bool { fresh, _ = handshake(t, base); return fresh != "" })
			if sid, a := handshake(t, base); sid != "" {
				t.Fatalf("the upgraded session freed two places: %d", a.status)
			}
		})
	}
}
