package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/internal/limit"
)

// pollingSession is a raw Engine.IO v4 long-polling client: it opens a
// session, joins the default namespace and then does only what a test
// tells it to (a slow poller never polls).
type pollingSession struct {
	t   *testing.T
	url string // with EIO, transport and sid
}

func openPolling(t *testing.T, base string) *pollingSession {
	t.Helper()
	a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", nil, nil)
	if a.status != 200 || !strings.HasPrefix(a.body, "0{") {
		t.Fatalf("polling handshake = %d %.200s", a.status, a.body)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(a.body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	s := &pollingSession{t: t, url: base + "/socket.io/?EIO=4&transport=polling&sid=" + open.Sid}
	s.post("40")
	// The CONNECT answer and WELCOME may come in one poll or in two.
	for got := ""; !strings.Contains(got, "WELCOME"); {
		got += s.poll()
	}
	return s
}

func (s *pollingSession) post(packet string) int {
	s.t.Helper()
	return do(s.t, "POST", s.url, strings.NewReader(packet), map[string]string{"Content-Type": "text/plain;charset=UTF-8"}).status
}

func (s *pollingSession) poll() string {
	s.t.Helper()
	return do(s.t, "GET", s.url, nil, nil).body
}

// TestAbuseSlowPoller: a long-polling page that registers and then never
// polls (posting a pong now and then to look alive) cannot make herald
// buffer alerts for it without bound: past the page queue bound it is
// disconnected, and the heap stays near where it was.
func TestAbuseSlowPoller(t *testing.T) {
	// The journal on disk, herald's default: the memory journal would keep
	// the room's history (200 alerts of 100 KB) on the heap by design.
	base := startServer(t, func(c *config) {
		c.rateRequests, c.rateMisses, c.dataDir = limit.Rate{}, limit.Rate{}, t.TempDir()
	})
	s := openPolling(t, base)
	s.post(`42["REGISTER",{"code":"slow-poller"}]`)
	waitFor(t, "the slow poller to register", func() bool { return strings.Contains(clients(t, base), "slow-poller") })
	before := heapInUse()
	blob := strings.Repeat("x", 100_000)
	for i := range 300 { // 30 MB of alerts for a page that never reads
		body := fmt.Sprintf(`{"code":"slow-poller","event":"big","n":%d,"blob":%q}`, i, blob)
		if a := do(t, "POST", base+"/notify", strings.NewReader(body), map[string]string{"Content-Type": "application/json"}); a.status != 200 {
			t.Fatalf("trigger = %d %s", a.status, a.body)
		}
		if i%50 == 0 {
			s.post("3") // a pong nobody asked for: it must not keep the page alive
		}
	}
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew %.1f MB after 30 MB of alerts to a page that never polls", float64(grown)/1e6)
	if grown > 15<<20 {
		t.Errorf("heap grew %d MB, want < 15 (the page's queue is bounded)", grown>>20)
	}
	if strings.Contains(clients(t, base), "slow-poller") {
		t.Errorf("the page that never polls is still registered after 30 MB of alerts")
	}
}

func clients(t *testing.T, base string) string {
	t.Helper()
	return do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer " + testToken}).body
}

// TestAbuseBigCodes: a code as long as the body limit is refused (the
// page gets ERROR and joins nothing) on both transports, so 100 such pages
// cost next to nothing.
func TestAbuseBigCodes(t *testing.T) {
	base := startServer(t, func(c *config) {
		c.connsPerIP = 0
		c.rateHandshakes = limit.Rate{}
		c.rateHandshakesTotal = limit.Rate{}
	})
	code := strings.Repeat("c", 900_000)
	register := `42["REGISTER",{"code":"` + code + `"}]`
	before := heapInUse()
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 100 {
		if i%2 == 0 {
			s := openPolling(t, base)
			s.post(register)
			if got := s.poll(); !strings.Contains(got, `"ERROR"`) {
				t.Fatalf("a polling page registering a 900 KB code got %.100q, want ERROR", got)
			}
			continue
		}
		ws := "ws://" + hostOf(base) + "/socket.io/?EIO=4&transport=websocket"
		c, _, err := websocket.DefaultDialer.DialContext(t.Context(), ws, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.WriteMessage(websocket.TextMessage, []byte("40"))
		_ = c.WriteMessage(websocket.TextMessage, []byte(register))
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("websocket page registering a 900 KB code: %v before an ERROR", err)
			}
			if strings.Contains(string(m), `"ERROR"`) {
				break
			}
		}
	}
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew %.1f MB with 100 pages that sent 900 KB codes", float64(grown)/1e6)
	if grown > 20<<20 {
		t.Errorf("heap grew %d MB, want < 20", grown>>20)
	}
	if list := clients(t, base); strings.Contains(list, "ccccc") {
		t.Errorf("a page holds a 900 KB code: %.200s", list)
	}
}
