package eio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/internal/pagetest"
)

// rooms is a test Handler with herald's page protocol: WELCOME on connect,
// REGISTER {code} (acked), a code in the handshake's auth.
type rooms struct {
	mu     sync.Mutex
	byCode map[string]*Conn
	gone   chan string
	acks   chan string // "id args" of every ack a page sent
}

// newRooms' gone holds a reason for every page a test opens (TestBatch
// opens 150), so closing the server never waits on a test that reads
// none of them.
func newRooms() *rooms {
	return &rooms{byCode: map[string]*Conn{}, gone: make(chan string, 256), acks: make(chan string, 16)}
}

func (r *rooms) Ack(c *Conn, id uint64, args []json.RawMessage) {
	b, _ := json.Marshal(args)
	r.acks <- fmt.Sprintf("%d %s", id, b)
}

func (r *rooms) Connect(c *Conn, auth map[string]any) {
	// Join first: a test that has read WELCOME may look the page up.
	if code, ok := auth["code"].(string); ok {
		r.join(c, code)
	}
	welcome, _ := EventFrame("WELCOME", map[string]string{"message": "Please register your code"})
	c.Send(welcome)
}

func (r *rooms) Event(c *Conn, name string, args []json.RawMessage) ([]any, bool) {
	if name != "REGISTER" || len(args) == 0 {
		return nil, false
	}
	var reg struct{ Code string }
	if json.Unmarshal(args[0], &reg) == nil && reg.Code != "" {
		r.join(c, reg.Code)
	}
	return []any{map[string]any{"code": reg.Code}}, true
}

func (r *rooms) Disconnect(c *Conn, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for code, m := range r.byCode {
		if m == c {
			delete(r.byCode, code)
		}
	}
	r.gone <- reason
}

func (r *rooms) join(c *Conn, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byCode[code] = c
}

func (r *rooms) page(code string) *Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byCode[code]
}

func startServer(t *testing.T, opts Options) (*Server, *rooms, string) {
	t.Helper()
	h := newRooms()
	s := NewServer(opts, h)
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", func(w http.ResponseWriter, r *http.Request) {
		if !Accepts(r) {
			http.Error(w, "polling is not served here", http.StatusBadRequest)
			return
		}
		s.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return s, h, hs.URL
}

// TestOfficialClient drives the server with the official JavaScript client
// over WebSocket only: connect, WELCOME, REGISTER with its ack, then a
// pre-encoded frame reaches the page with both arguments.
func TestOfficialClient(t *testing.T) {
	for _, handshake := range []bool{false, true} {
		_, h, url := startServer(t, Options{})
		page := pagetest.Start(t, url, pagetest.Options{Code: "abc", Handshake: handshake, Transports: []string{"websocket"}})
		page.WaitRegistered(t)
		if msg := page.Welcome(t, 10*time.Second); msg.Event != "WELCOME" {
			t.Fatalf("first event = %s, want WELCOME", msg.Event)
		}
		f, err := EventFrame("FOLLOW", map[string]any{"user": "ada"}, map[string]any{"id": "e1"})
		if err != nil {
			t.Fatal(err)
		}
		// A handshake page is registered before WELCOME is read.
		for deadline := time.Now().Add(10 * time.Second); h.page("abc") == nil; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the page never joined its room")
			}
		}
		if !h.page("abc").Send(f) {
			t.Fatal("Send to a live page = false")
		}
		msg := page.Next(t, 10*time.Second)
		if msg.Event != "FOLLOW" || len(msg.Args) != 2 || string(msg.Args[0]) != `{"user":"ada"}` || string(msg.Args[1]) != `{"id":"e1"}` {
			t.Fatalf("page got %s %s, want FOLLOW {user: ada} {id: e1}", msg.Event, msg.Args)
		}
		page.Close()
		if reason := <-h.gone; reason != "client namespace disconnect" && reason != "transport close" {
			t.Errorf("disconnect reason = %q", reason)
		}
	}
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func write(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// TestRawProtocol speaks Engine.IO by hand, as load generators do.
func TestRawProtocol(t *testing.T) {
	_, _, url := startServer(t, Options{PingInterval: 300 * time.Millisecond, PingTimeout: 5 * time.Second})
	ws := dial(t, url)
	var open struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	msg := read(t, ws)
	if msg[0] != '0' || json.Unmarshal([]byte(msg[1:]), &open) != nil || open.SID == "" ||
		open.PingInterval != 300 || open.PingTimeout != 5000 || open.MaxPayload != 1e6 || open.Upgrades == nil {
		t.Fatalf("open packet = %s", msg)
	}
	write(t, ws, "40/admin,")
	if got := read(t, ws); got != `44/admin,{"message":"Invalid namespace"}` {
		t.Errorf("connect to another namespace = %s", got)
	}
	write(t, ws, `40{"code":"x"}`)
	if got := read(t, ws); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("connect ack = %s", got)
	}
	if got := read(t, ws); got != `42["WELCOME",{"message":"Please register your code"}]` {
		t.Fatalf("welcome = %s", got)
	}
	write(t, ws, `4216["UNKNOWN",1]`) // nobody handles it: no ack
	// An ack id past JavaScript's safe integers is no page's: the event
	// is dropped, and the id never echoed back at any length.
	write(t, ws, `42`+strings.Repeat("9", 5000)+`["REGISTER",{"code":"long-id"}]`)
	write(t, ws, `4217["REGISTER",{"code":"y"}]`)
	if got := read(t, ws); got != `4317[{"code":"y"}]` {
		t.Fatalf("ack = %s, want only REGISTER's", got)
	}
	if got := read(t, ws); got != "2" {
		t.Fatalf("after the interval the server sent %q, want a ping", got)
	}
	write(t, ws, "3")
	if got := read(t, ws); got != "2" {
		t.Fatalf("a page that answered is pinged again, got %q", got)
	}
}

// TestSilentPageIsDropped: a page that stops answering pings is
// disconnected after the timeout, and the handler hears why.
func TestSilentPageIsDropped(t *testing.T) {
	_, h, url := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	ws := dial(t, url)
	read(t, ws)
	write(t, ws, "40")
	select {
	case reason := <-h.gone:
		if reason != "ping timeout" {
			t.Fatalf("reason = %q, want ping timeout", reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a page that never answered a ping is still connected")
	}
}

// TestCloseDisconnectsPages: pages see the transport close (so their
// clients reconnect) and Close waits for every handler.
func TestCloseDisconnectsPages(t *testing.T) {
	s, h, url := startServer(t, Options{})
	ws := dial(t, url)
	read(t, ws)
	write(t, ws, "40")
	read(t, ws)
	read(t, ws)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if reason := <-h.gone; reason != "server shutting down" {
		t.Errorf("reason = %q", reason)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("page read after Close: %v, want a normal close", err)
	}
	if s.open() != 0 {
		t.Errorf("open connections after Close = %d", s.open())
	}
}

func TestEventFrameSizes(t *testing.T) {
	for _, n := range []int{0, 100, 124, 125, 126, 65534, 65535, 65536, 70000} {
		f := NewFrame('4', []byte(strings.Repeat("x", n)))
		b := f.Bytes()
		if b[0] != 0x81 {
			t.Errorf("payload %d: first byte %#x, want FIN+text", n+1, b[0])
		}
		payload, hdr := frameLength(t, b)
		want := 2
		if n+1 > 125 {
			want = 4
		}
		if n+1 > 0xFFFF {
			want = 10
		}
		if payload != n+1 || hdr != want || len(b) != hdr+payload || b[hdr] != '4' {
			t.Errorf("payload %d: header says %d bytes in a %d-byte header (frame %d bytes), want %d in %d", n+1, payload, hdr, len(b), n+1, want)
		}
	}
}

// TestClientCloseIsAnswered: a page that closes its WebSocket gets the
// close frame back (a clean 1000 close, not an abrupt 1006).
func TestClientCloseIsAnswered(t *testing.T) {
	_, _, url := startServer(t, Options{})
	ws := dial(t, url)
	read(t, ws)
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after closing, the page read %v, want the server's normal close", err)
	}
}
