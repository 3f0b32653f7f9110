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

// dialGo connects a Go client page and returns once it has its WELCOME.
//
// The Go client (v3.0.6) sometimes misses its engine's "open" event when
// the handshake is quick, and then never sends CONNECT (its debug log shows
// the engine open before the manager listens). That is the client's race,
// not the server's, so a page without WELCOME after a few seconds is
// replaced, up to three times.
func dialGo(t testing.TB, url string, auth map[string]any, ts ...transports.TransportCtor) *goPage {
	t.Helper()
	for range 3 {
		p := dialGoOnce(t, url, auth, ts...)
		select {
		case ev := <-p.events:
			if name, _ := ev[0].(string); name != "WELCOME" {
				t.Fatalf("first event = %v, want WELCOME", ev)
			}
			return p
		case <-time.After(3 * time.Second):
			p.sock.Disconnect()
		}
	}
	t.Fatal("Go client page never got WELCOME")
	return nil
}

func dialGoOnce(t testing.TB, url string, auth map[string]any, ts ...transports.TransportCtor) *goPage {
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
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-p.events:
			name, _ := ev[0].(string)
			if name == "WELCOME" {
				continue // dialGo saw the first; a retried connect may bring more
			}
			return name, ev[1:]
		case <-deadline:
			t.Fatal("no event from the Go page")
			return "", nil
		}
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
	type result struct {
		args []any
		err  error
	}
	reply := make(chan result, 1)
	if err := p.sock.Emit("REGISTER", arg, func(args []any, err error) { reply <- result{args, err} }); err != nil {
		t.Fatalf("emit REGISTER: %v", err)
	}
	select {
	case r := <-reply:
		if r.err != nil {
			t.Fatalf("REGISTER ack error: %v", r.err)
		}
		m, ok := first(r.args).(map[string]any)
		if !ok {
			t.Fatalf("REGISTER ack = %v, want one object", r.args)
		}
		return m
	case <-time.After(timeout):
		t.Fatal("REGISTER was not acked")
		return nil
	}
}

// TestGoClientRegisterAndDeliver is the page protocol through the Go client
// library. Not polling-only: that client (v3.0.6) queues the REGISTER POST
// and never sends it (its debug log shows "flushing 1 packets" and no
// request); the official JS client covers polling in jsclient_test.go.
func TestGoClientRegisterAndDeliver(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []transports.TransportCtor
	}{
		{name: "default"},
		{name: "websocket", ts: []transports.TransportCtor{client.WebSocket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := dialGo(t, srv.URL, nil, tc.ts...)
			if reply := p.register(t, map[string]any{"code": "go"}); reply["ok"] != true || reply["code"] != "go" {
				t.Fatalf("REGISTER ack = %v, want ok:true code:go", reply)
			}
			deliver(t, s, delivery("go", "FOLLOW", map[string]any{"user": "ada"}), 1)
			args := p.expect(t, "FOLLOW")
			if len(args) != 2 || fmt.Sprint(args[0]) != "map[user:ada]" {
				t.Errorf("FOLLOW args = %v, want the payload then meta", args)
			}
			meta, _ := args[1].(map[string]any)
			if meta["id"] != "ev-go-FOLLOW" || meta["source"] != "trigger" {
				t.Errorf("FOLLOW meta = %v", meta)
			}
		})
	}
}

func TestClientsListing(t *testing.T) {
	s, srv := startSink(t, Options{})
	if got := s.Clients(); len(got) != 0 {
		t.Fatalf("Clients() before any page = %v, want none", got)
	}
	before := time.Now()
	dialGo(t, srv.URL, map[string]any{"code": "listed"}, client.WebSocket)
	// A raw long-polling page: the Go client's polling sometimes never
	// gets WELCOME, and the session it then leaves behind stays listed
	// until its ping timeout. The sink's Close ends this one. The library
	// answers its CONNECT a moment before the page is listed.
	pollingConnect(t, srv.URL, "40")
	after := time.Now()

	waitFor(t, "both pages to be listed", func() bool { return len(s.Clients()) >= 2 })
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
	p := dialRaw(t, srv.URL, "r", nil)
	for _, name := range []string{"connect", "disconnect", "connect_error", ""} {
		if n, err := s.Deliver(t.Context(), delivery("r", name, nil)); err == nil {
			t.Errorf("Deliver(%q) = %d, nil; want an error", name, n)
		}
	}
	// A payload-less delivery still gives pages of the original service an object to read.
	deliver(t, s, delivery("r", "EMPTY", nil), 1)
	if f := p.next(t); !strings.HasPrefix(f, `42["EMPTY",{},{"id":`) {
		t.Errorf("EMPTY frame = %s, want an empty object then meta", f)
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
	p := dialRaw(t, srv.URL, secret, nil)
	if err := p.send(`421["REGISTER",{"code":"` + secret + `-moved"}]`); err != nil {
		t.Fatal(err)
	}
	p.next(t) // the ack
	deliver(t, s, delivery(secret+"-moved", "X", nil), 1)
	p.conn.Close()
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
