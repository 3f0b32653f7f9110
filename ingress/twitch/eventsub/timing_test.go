package eventsub_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// pipeListener is an in-memory net.Listener: inside a synctest bubble its
// connections block durably, so fake time advances while they wait.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

type staticTokens struct{}

func (staticTokens) Token(context.Context) (auth.Token, error) {
	return auth.Token{Access: auth.NewSecret("t")}, nil
}
func (staticTokens) Renew(context.Context, auth.Token) (auth.Token, error) {
	return auth.Token{}, auth.ErrInvalidToken
}

// fakeTwitch is Twitch as a fake-time test sees it: an in-memory listener
// serving mux, every WebSocket handler tracked, so a test can end with no
// goroutine left behind, as synctest requires.
type fakeTwitch struct {
	ln       *pipeListener
	mux      *http.ServeMux
	stop     chan struct{} // closed when the test ends: handlers return
	handlers sync.WaitGroup
	handle   func(context.Context, eventsub.Message) // the client's Handle, if set before run
	log      *slog.Logger                            // the client's Log, if set before run
}

func newFakeTwitch() *fakeTwitch {
	return &fakeTwitch{ln: newPipeListener(), mux: http.NewServeMux(), stop: make(chan struct{})}
}

// sessions serves the EventSub WebSocket: handle runs for each connection,
// as serveSession says.
func (f *fakeTwitch) sessions(handle func(conn *websocket.Conn)) {
	f.mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { f.serveSession(w, r, handle) })
}

// serveSession upgrades r to a WebSocket and runs handle on it, tracked for
// end; the connection is closed when handle returns or when the test ends.
func (f *fakeTwitch) serveSession(w http.ResponseWriter, r *http.Request, handle func(conn *websocket.Conn)) {
	var up websocket.Upgrader
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.handlers.Add(1)
	defer f.handlers.Done()
	defer conn.Close()
	go func() { <-f.stop; conn.Close() }()
	handle(conn)
}

// keepAlive sends a keepalive on conn every d until the test ends or a send
// fails.
func (f *fakeTwitch) keepAlive(conn *websocket.Conn, d time.Duration) {
	f.keepAliveWhile(conn, d, func() bool { return true })
}

// keepAliveWhile is keepAlive for a session that falls silent: it returns
// at the first tick that finds alive() false.
func (f *fakeTwitch) keepAliveWhile(conn *websocket.Conn, d time.Duration, alive func() bool) {
	for {
		select {
		case <-f.stop:
			return
		case <-time.After(d):
		}
		if !alive() || conn.WriteMessage(websocket.TextMessage, keepaliveMsg()) != nil {
			return
		}
	}
}

// run starts a client of f that declares subs. end stops the client, the
// server and every handler: defer it, so it runs on success and on Fatal
// alike.
func (f *fakeTwitch) run(subs ...eventsub.Request) (c *eventsub.Client, cancel context.CancelFunc, done <-chan error, end func()) {
	srv := &http.Server{Handler: f.mux}
	go srv.Serve(f.ln)
	ctx, cancel := context.WithCancel(context.Background())
	hc := &http.Client{Transport: &http.Transport{DialContext: f.ln.dial}}
	c = &eventsub.Client{
		URL:    "ws://herald.test/ws",
		Dialer: &websocket.Dialer{NetDialContext: f.ln.dial},
		Helix:  &eventsub.Helix{BaseURL: "http://herald.test/helix", ClientID: "c", Tokens: staticTokens{}, HTTP: hc},
		Subs:   subs,
		Handle: f.handle,
		Log:    f.log,
	}
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	return c, cancel, ran, func() {
		cancel()
		close(f.stop)
		srv.Close()
		f.ln.Close()
		f.handlers.Wait()
	}
}

// stopRun cancels a client started by run and fails t unless its Run then
// returns nil.
func stopRun(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
}

// welcomeMsg and keepaliveMsg are the EventSub messages the fake sends; message
// ids are unique per instant of fake time.
func welcomeMsg(session string, keepaliveSeconds int) []byte {
	return []byte(fmt.Sprintf(`{"metadata":{"message_id":"w%s","message_type":"session_welcome"},"payload":{"session":{"id":%q,"status":"connected","keepalive_timeout_seconds":%d}}}`,
		time.Now(), session, keepaliveSeconds))
}

func keepaliveMsg() []byte {
	return []byte(`{"metadata":{"message_id":"k` + time.Now().String() + `","message_type":"session_keepalive"},"payload":{}}`)
}

// sub declares type t (version 1) for broadcaster 1.
func sub(t string) eventsub.Request {
	return eventsub.Request{Type: t, Version: "1", Condition: map[string]string{"broadcaster_user_id": "1"}}
}

// TestKeepaliveTimeoutAndBackoff runs in fake time: a session that goes
// silent after its welcome (keepalive 10 s) is given up once the
// keepalive window (10 s + 2 s grace) has passed with nothing, then
// redialled after the first backoff step (0.5-1 s); a session that keeps
// sending keepalives is kept however long it lasts.
func TestKeepaliveTimeoutAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		var dials atomic.Int32
		var sendKeepalives atomic.Bool
		tw.sessions(func(conn *websocket.Conn) {
			dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s", 10))
			tw.keepAliveWhile(conn, 9*time.Second, sendKeepalives.Load)
			_, _, _ = conn.ReadMessage() // silent until the client gives up on us
		})
		tw.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"stream.online","version":"1"}]}`))
		})
		_, cancel, done, end := tw.run(sub("stream.online"))
		defer end()

		time.Sleep(11*time.Second + 900*time.Millisecond) // the welcome reset the window to 12 s
		synctest.Wait()
		if n := dials.Load(); n != 1 {
			t.Fatalf("%d connections before the keepalive window ended, want 1", n)
		}
		time.Sleep(200*time.Millisecond + time.Second) // window over, then at most 1 s of backoff
		synctest.Wait()
		if n := dials.Load(); n != 2 {
			t.Fatalf("%d connections after the keepalive window and one backoff step, want 2", n)
		}

		sendKeepalives.Store(true)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := dials.Load(); n > 3 {
			t.Fatalf("%d connections while keepalives kept coming, want the session kept", n)
		}
		stopRun(t, cancel, done)
	})
}

// TestBackoffGrowsWithJitter: each wait lies between half and all of 1 s
// doubled per attempt, capped at 2 minutes.
func TestBackoffGrowsWithJitter(t *testing.T) {
	for n := range 12 {
		full := min(time.Second<<min(n, 7), 2*time.Minute)
		seen := map[time.Duration]bool{}
		for range 50 {
			d := eventsub.DefaultBackoff(n)
			if d < full/2 || d > full {
				t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("DefaultBackoff(%d) has no jitter", n)
		}
	}
}
