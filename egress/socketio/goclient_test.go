package socketio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zishang520/socket.io/clients/engine/v3/transports"
	client "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// goPage is a page made with the Go client, for what the JS page cannot
// easily show (acks of odd REGISTER payloads, close reasons).
type goPage struct {
	sock   *client.Socket
	events chan []any // event name then args
	closed chan string
}

func dialGo(t testing.TB, url string, auth map[string]any, ts ...transports.TransportCtor) *goPage {
	t.Helper()
	opts := client.DefaultOptions()
	opts.SetForceNew(true)
	opts.SetReconnection(false)
	if len(ts) == 0 {
		// The Go client's default set includes WebTransport, and it tries
		// the set in random order: without HTTP/3 that attempt times out.
		ts = []transports.TransportCtor{client.Polling, client.WebSocket}
	}
	opts.SetTransports(types.NewSet(ts...))
	if auth != nil {
		opts.SetAuth(auth)
	}
	sock, err := client.Connect(url, opts)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	p := &goPage{sock: sock, events: make(chan []any, 1024), closed: make(chan string, 1)}
	sock.OnAny(func(args ...any) {
		// Never block the client's reader (acks arrive on it too); a test
		// that leaves 1024 events unread does not look at them.
		select {
		case p.events <- args:
		default:
		}
	})
	_ = sock.On("disconnect", func(args ...any) {
		select {
		case p.closed <- fmt.Sprint(first(args)):
		default:
		}
	})
	t.Cleanup(func() { sock.Disconnect() })
	return p
}

// next returns the next event as name and args.
func (p *goPage) next(t testing.TB) (string, []any) {
	t.Helper()
	select {
	case ev := <-p.events:
		name, _ := ev[0].(string)
		return name, ev[1:]
	case <-time.After(timeout):
		t.Fatal("no event from the Go page")
		return "", nil
	}
}

func (p *goPage) expect(t testing.TB, want string) []any {
	t.Helper()
	name, args := p.next(t)
	if name != want {
		t.Fatalf("Go page received %s %v, want %s", name, args, want)
	}
	return args
}

// register emits REGISTER arg with an ack and returns the ack's argument.
func (p *goPage) register(t testing.TB, arg any) map[string]any {
	t.Helper()
	reply := make(chan []any, 1)
	if err := p.sock.Emit("REGISTER", arg, func(args []any, err error) { reply <- args }); err != nil {
		t.Fatalf("emit REGISTER: %v", err)
	}
	select {
	case args := <-reply:
		m, _ := first(args).(map[string]any)
		return m
	case <-time.After(timeout):
		t.Fatal("REGISTER was not acked")
		return nil
	}
}

func TestRegisterForms(t *testing.T) {
	tests := []struct {
		name     string
		arg      any
		wantCode string // "" means refused
	}{
		{name: "object", arg: map[string]any{"code": "c-obj"}, wantCode: "c-obj"},
		{name: "bare string", arg: "c-str", wantCode: "c-str"},
		{name: "integral number", arg: map[string]any{"code": 1234}, wantCode: "1234"},
		{name: "object without code", arg: map[string]any{"room": "x"}},
		{name: "empty code", arg: map[string]any{"code": ""}},
		{name: "fractional number", arg: map[string]any{"code": 1.5}},
		{name: "boolean", arg: true},
		{name: "list", arg: []any{"c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := dialGo(t, srv.URL, nil)
			p.expect(t, "WELCOME")
			reply := p.register(t, tc.arg)
			if tc.wantCode == "" {
				if reply["ok"] != false {
					t.Errorf("REGISTER %v ack = %v, want ok:false", tc.arg, reply)
				}
				args := p.expect(t, "ERROR")
				if msg, _ := first(args).(map[string]any)["message"].(string); !strings.Contains(msg, "REGISTER needs a code") {
					t.Errorf("ERROR payload = %v, want a message explaining REGISTER", args)
				}
				if got := codes(s); len(got) != 1 || got[0] != "" {
					t.Errorf("Clients codes = %q, want one unregistered page", got)
				}
				return
			}
			if reply["ok"] != true || reply["code"] != tc.wantCode {
				t.Errorf("REGISTER %v ack = %v, want ok:true code:%s", tc.arg, reply, tc.wantCode)
			}
			deliver(t, s, delivery(tc.wantCode, "HELLO", nil), 1)
			p.expect(t, "HELLO")
		})
	}
}

func TestClientsListing(t *testing.T) {
	s, srv := startSink(t, Options{})
	if got := s.Clients(); len(got) != 0 {
		t.Fatalf("Clients() before any page = %v, want none", got)
	}
	before := time.Now()
	ws := dialGo(t, srv.URL, map[string]any{"code": "listed"}, client.WebSocket)
	ws.expect(t, "WELCOME")
	poll := dialGo(t, srv.URL, nil, client.Polling)
	poll.expect(t, "WELCOME")
	after := time.Now()

	got := s.Clients()
	if len(got) != 2 {
		t.Fatalf("Clients() = %v, want 2 pages", got)
	}
	byCode := map[string]Client{}
	for _, c := range got {
		byCode[c.Code] = c
		if c.ID == "" || !strings.HasPrefix(c.Address, "127.0.0.1:") {
			t.Errorf("client %+v: want an id and a 127.0.0.1 address", c)
		}
		if c.Connected.Before(before) || c.Connected.After(after) {
			t.Errorf("client %+v connected_at outside [%v, %v]", c, before, after)
		}
	}
	if c := byCode["listed"]; c.Transport != "websocket" {
		t.Errorf("handshake page = %+v, want code listed over websocket", c)
	}
	if c := byCode[""]; c.Transport != "polling" {
		t.Errorf("unregistered page = %+v, want code \"\" over polling", c)
	}
}

func TestDeliverRefusesReservedNames(t *testing.T) {
	s, srv := startSink(t, Options{})
	p := dialGo(t, srv.URL, map[string]any{"code": "r"})
	p.expect(t, "WELCOME")
	for _, name := range []string{"connect", "disconnect", "connect_error", ""} {
		if n, err := s.Deliver(t.Context(), delivery("r", name, nil)); err == nil {
			t.Errorf("Deliver(%q) = %d, nil; want an error", name, n)
		}
	}
	// A payload-less delivery still gives seed pages an object to read.
	deliver(t, s, delivery("r", "EMPTY", nil), 1)
	if args := p.expect(t, "EMPTY"); len(args) != 2 || fmt.Sprint(args[0]) != "map[]" {
		t.Errorf("EMPTY args = %v, want an empty object then meta", args)
	}
}

func TestCloseDisconnectsPagesSoTheyReconnect(t *testing.T) {
	s := New(Options{})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.Handler())
	srv := newServer(t, mux)
	pages := []*goPage{
		dialGo(t, srv.URL, map[string]any{"code": "c"}, client.WebSocket),
		dialGo(t, srv.URL, map[string]any{"code": "c"}, client.Polling),
	}
	for _, p := range pages {
		p.expect(t, "WELCOME")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, p := range pages {
		select {
		case reason := <-p.closed:
			// "io server disconnect" would stop the official client from
			// reconnecting; a transport-level close lets it retry.
			if reason == "io server disconnect" {
				t.Errorf("page %d closed with %q, want a transport close", i, reason)
			}
		case <-time.After(timeout):
			t.Errorf("page %d not disconnected by Close", i)
		}
	}
	if got := s.Clients(); len(got) != 0 {
		t.Errorf("Clients() after Close = %v, want none", got)
	}
	if _, err := s.Deliver(t.Context(), delivery("c", "LATE", nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Deliver after Close error = %v, want ErrClosed", err)
	}
	resp, err := http.Get(srv.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("handshake after Close = %d, want 503", resp.StatusCode)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name       string
		corsOrigin string
		origin     string
		want       string
	}{
		{name: "default reflects any origin", origin: "https://overlay.example", want: "https://overlay.example"},
		{name: "star reflects any origin", corsOrigin: "*", origin: "null", want: "null"},
		{name: "fixed origin matches", corsOrigin: "https://obs.example", origin: "https://obs.example", want: "https://obs.example"},
		{name: "fixed origin refuses others", corsOrigin: "https://obs.example", origin: "https://evil.example", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSink(t, Options{CORSOrigin: tc.corsOrigin})
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/socket.io/?EIO=4&transport=polling", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", tc.origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte(`0{`)) || !bytes.Contains(body, []byte(`"sid":`)) {
				t.Fatalf("handshake = %d %q, want 200 and an open packet", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogsNeverShowCode(t *testing.T) {
	const secret = "s3cret-code-4242"
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedBuffer{mu: &mu, buf: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, srv := startSink(t, Options{Log: log})
	p := dialGo(t, srv.URL, map[string]any{"code": secret})
	p.expect(t, "WELCOME")
	p.register(t, map[string]any{"code": secret + "-moved"})
	deliver(t, s, delivery(secret+"-moved", "X", nil), 1)
	p.sock.Disconnect()
	waitFor(t, "the page to leave", func() bool { return len(s.Clients()) == 0 })

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, secret) {
		t.Errorf("log shows the code:\n%s", out)
	}
	if !strings.Contains(out, "code=sha256:") {
		t.Errorf("log has no hashed code, want page registered lines:\n%s", out)
	}
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedBuffer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

// newServer is httptest.NewServer closed at cleanup, for tests that manage
// the Sink's lifecycle themselves.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
