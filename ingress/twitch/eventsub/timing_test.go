package eventsub_test

import (
	"context"
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

// TestKeepaliveTimeoutAndBackoff runs in fake time: a session that goes
// silent after its welcome (keepalive 10 s) is given up once the
// keepalive window (10 s + 2 s grace) has passed with nothing, then
// redialled after the first backoff step (0.5-1 s); a session that keeps
// sending keepalives is kept however long it lasts.
func TestKeepaliveTimeoutAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		var dials atomic.Int32
		var sendKeepalives atomic.Bool
		stop := make(chan struct{})
		var handlers sync.WaitGroup
		up := websocket.Upgrader{}
		mux := http.NewServeMux()
		mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			conn, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			handlers.Add(1)
			defer handlers.Done()
			defer conn.Close()
			go func() { <-stop; conn.Close() }()
			dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"metadata":{"message_id":"w`+time.Now().String()+`","message_type":"session_welcome"},"payload":{"session":{"id":"s","status":"connected","keepalive_timeout_seconds":10}}}`))
			for {
				select {
				case <-stop:
					return
				case <-time.After(9 * time.Second):
				}
				if sendKeepalives.Load() {
					if conn.WriteMessage(websocket.TextMessage, []byte(`{"metadata":{"message_id":"k`+time.Now().String()+`","message_type":"session_keepalive"},"payload":{}}`)) != nil {
						return
					}
				} else if _, _, err := conn.ReadMessage(); err != nil {
					return // the client gave up on us
				}
			}
		})
		mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"stream.online","version":"1"}]}`))
		})
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		defer func() { // on success and on Fatal alike, leave no goroutine behind
			cancel()
			close(stop)
			srv.Close()
			ln.Close()
			handlers.Wait()
		}()

		hc := &http.Client{Transport: &http.Transport{DialContext: ln.dial}}
		c := &eventsub.Client{
			URL:    "ws://herald.test/ws",
			Dialer: &websocket.Dialer{NetDialContext: ln.dial},
			Helix:  &eventsub.Helix{BaseURL: "http://herald.test/helix", ClientID: "c", Tokens: staticTokens{}, HTTP: hc},
			Subs:   []eventsub.Request{{Type: "stream.online", Version: "1", Condition: map[string]string{"broadcaster_user_id": "1"}}},
		}
		go func() { done <- c.Run(ctx) }()

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
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
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
