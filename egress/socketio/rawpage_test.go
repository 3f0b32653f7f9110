package socketio

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawPage is a page that speaks the wire protocol by hand over a real
// WebSocket: engine.io "4" + socket.io "2" + JSON, e.g.
// 42["FOLLOW",{...},{...}]. It sees the exact bytes a client receives and,
// unlike the Go client library, has no races of its own.
//
// With got set it only counts deliveries without decoding them (the
// benchmarks measure the server, not a client); otherwise every event and
// ack frame goes to frames.
type rawPage struct {
	conn   *websocket.Conn
	got    *atomic.Int64
	frames chan string
	wmu    sync.Mutex // gorilla allows one writer at a time
}

// dialRaw connects with code in the handshake ("" for none) and returns
// once the page has its WELCOME.
func dialRaw(tb testing.TB, srvURL, code string, got *atomic.Int64) *rawPage {
	tb.Helper()
	u := "ws" + strings.TrimPrefix(srvURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	if _, open, err := conn.ReadMessage(); err != nil || open[0] != '0' {
		tb.Fatalf("open packet = %q, %v", open, err)
	}
	connect := "40"
	if code != "" {
		connect = fmt.Sprintf(`40{"code":%q}`, code)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
		tb.Fatal(err)
	}
	for _, want := range []string{"40", `42["WELCOME",{"message":"Please register your code"}]`} {
		_, msg, err := conn.ReadMessage()
		if err != nil || !bytes.HasPrefix(msg, []byte(want)) {
			tb.Fatalf("got %q, %v; want %s…", msg, err, want)
		}
	}
	p := &rawPage{conn: conn, got: got}
	if got == nil {
		p.frames = make(chan string, 1024)
	}
	go p.read()
	tb.Cleanup(func() { conn.Close() })
	return p
}

func (p *rawPage) send(msg string) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.conn.WriteMessage(websocket.TextMessage, []byte(msg))
}

func (p *rawPage) read() {
	if p.frames != nil {
		defer close(p.frames)
	}
	for {
		_, r, err := p.conn.NextReader()
		if err != nil {
			return
		}
		if p.got == nil {
			b, err := io.ReadAll(r)
			if err != nil {
				return
			}
			if string(b) == "2" {
				_ = p.send("3")
				continue
			}
			p.frames <- string(b)
			continue
		}
		var head [2]byte
		// ReadFull: a plain Read may stop at a buffer boundary after one
		// byte. A ping ("2") is a one-byte message.
		if n, _ := io.ReadFull(r, head[:]); n >= 1 && head[0] == '2' {
			_ = p.send("3")
			continue
		}
		if head == [2]byte{'4', '2'} {
			p.got.Add(1)
		}
	}
}

// next returns the next frame, e.g. `42["FOLLOW",…]` or `431[…]`.
func (p *rawPage) next(t testing.TB) string {
	t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			t.Fatal("raw page: connection closed")
		}
		return f
	case <-time.After(timeout):
		t.Fatal("raw page: no frame")
		return ""
	}
}
