package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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

// TestStuckLongPollIsCutAtTheWriteTimeout: a long-poll whose client never
// reads its answer (megabytes of alerts) is cut once writing it took the
// write timeout, and its session closed then, not when the heartbeat gives
// up on it; a healthy page's poll, held open by the library for longer than
// the write timeout until it has something to send (an alert, the next
// ping), is answered on the same connection every time.
func TestStuckLongPollIsCutAtTheWriteTimeout(t *testing.T) {
	cfg, err := parseFlags([]string{"-p", "0", "-l", "DEBUG", "--admin-token", testToken, "--data", memoryData,
		"--rate-requests", "off", "--rate-misses", "off"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, _ := serveInTest(t, cfg, noEnv)

	healthy := openPolling(t, base)
	healthy.post(`42["REGISTER",{"code":"healthy"}]`)
	stuck := openPolling(t, base)
	stuck.post(`42["REGISTER",{"code":"stuck"}]`)
	waitFor(t, "both pages to register", func() bool {
		list := clients(t, base)
		return strings.Contains(list, `"healthy"`) && strings.Contains(list, `"stuck"`)
	})
	// The healthy page's polls all go on one connection of their own.
	pollClient := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer pollClient.CloseIdleConnections()
	poll := func() (answer, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", healthy.url, nil)
		resp, err := pollClient.Do(req)
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, body: string(b)}, err
	}
	// The healthy page polls and answers every ping, as a page does, for
	// as long as the test runs: whatever the machine's pace, its session
	// never times out, and each answer is reported in order.
	type polled struct {
		a   answer
		err error
	}
	answers := make(chan polled, 64)
	go func() {
		for t.Context().Err() == nil {
			a, err := poll()
			answers <- polled{a, err}
			if err != nil {
				return
			}
			if slices.Contains(strings.Split(a.body, "\x1e"), "2") {
				req, _ := http.NewRequestWithContext(t.Context(), "POST", healthy.url, strings.NewReader("3"))
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	next := func(what string) answer {
		t.Helper()
		select {
		case p := <-answers:
			if p.err != nil || p.a.status != http.StatusOK {
				t.Fatalf("the healthy page's poll (%s) = %d %.200q, %v", what, p.a.status, p.a.body, p.err)
			}
			return p.a
		case <-time.After(time.Minute):
			t.Fatalf("the healthy page's poll (%s) never answered", what)
			return answer{}
		}
	}

	blob := strings.Repeat("x", 900_000)
	for i := range 5 {
		body := fmt.Sprintf(`{"code":"stuck","event":"big","n":%d,"blob":%q}`, i, blob)
		if a := do(t, "POST", base+"/notify", strings.NewReader(body), map[string]string{"Content-Type": "application/json"}); a.status != 200 || !strings.Contains(a.body, `"count":1`) {
			t.Fatalf("alert %d for the stuck page = %d %s", i, a.status, a.body)
		}
	}
	conn, err := net.Dial("tcp", hostOf(base))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(stuck.url, base), hostOf(base))
	// Never read. The heartbeat would end the session 45 s after its last
	// poll; the safety net waits longer, so a late end is seen as such.
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Contains(clients(t, base), `"stuck"`) {
		if time.Now().After(deadline) {
			t.Fatal("the page whose poll is never read is still registered after 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := logs.String(); strings.Contains(l, `reason="ping timeout"`) || !strings.Contains(l, "socket.io long-poll cut") {
		t.Fatalf("the stuck page left by the heartbeat, not at the write timeout:\n%s", grepLines(l, "disconnected", "long-poll"))
	}

	// The healthy page's polls, held more than the write timeout while
	// nothing is sent, are never cut: it gets the alert sent now, and
	// after it the library's next ping, on the same connection.
	if a := do(t, "GET", base+"/notify?code=healthy&event=after", nil, nil); !strings.Contains(a.body, `"count":1`) {
		t.Fatalf("alert for the healthy page = %d %s", a.status, a.body)
	}
	for a := next("the alert"); !strings.Contains(a.body, "after"); a = next("the alert") {
	}
	for a := next("the ping after it"); !strings.HasPrefix(a.body, "2"); a = next("the ping after it") {
	}
	if !strings.Contains(clients(t, base), `"healthy"`) {
		t.Fatal("the healthy page is gone")
	}
}

// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
