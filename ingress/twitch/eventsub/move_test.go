package eventsub_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// moveFake is a Twitch whose first connection asks to move the session
// at once and then delivers a notification every 5 s until it is closed,
// as Twitch's old connection does until the client's new one is welcomed
// or the 30 s grace ends (close 4004). Dials of reconnect_url are refused
// (503) while refuse says so.
type moveFake struct {
	*fakeTwitch
	refuse            func(n int32) bool // n counts reconnect_url dials from 1
	moves, creates    atomic.Int32
	sessionsStarted   atomic.Int32
	handled           chan string
	welcomedElsewhere chan struct{}
	// grace is how long the old connection is kept for the move (Twitch:
	// 30 s) before it is closed with 4004.
	grace time.Duration
}

func newMoveFake(refuse func(int32) bool) *moveFake {
	f := &moveFake{fakeTwitch: newFakeTwitch(), refuse: refuse, handled: make(chan string, 64),
		welcomedElsewhere: make(chan struct{}), grace: 30 * time.Second}
	f.handle = func(_ context.Context, m eventsub.Message) { f.handled <- m.ID }
	f.mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		moved := r.URL.Query().Has("moved")
		if moved && f.refuse(f.moves.Add(1)) {
			http.Error(w, "edge restarting", http.StatusServiceUnavailable)
			return
		}
		f.serveSession(w, r, func(conn *websocket.Conn) {
			if moved {
				_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
				close(f.welcomedElsewhere)
				_ = conn.WriteMessage(websocket.TextMessage, notificationMsg("on-the-new-connection"))
				f.keepAlive(conn, 5*time.Second)
				return
			}
			n := f.sessionsStarted.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
			if n > 1 {
				f.keepAlive(conn, 5*time.Second) // a session started over: nothing more to say
				return
			}
			_ = conn.WriteMessage(websocket.TextMessage, reconnectMsg("ws://herald.test/ws?moved"))
			grace := time.After(f.grace)
			for i := 0; ; i++ {
				select {
				case <-f.welcomedElsewhere:
					_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "reconnect grace time expired"))
					return
				case <-grace:
					_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "reconnect grace time expired"))
					return
				case <-time.After(5 * time.Second):
					_ = conn.WriteMessage(websocket.TextMessage, notificationMsg("on-the-old-connection-"+string(rune('a'+i))))
				case <-f.stop:
					return
				}
			}
		})
	})
	f.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		f.creates.Add(1)
		w.WriteHeader(202)
		_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"stream.online","version":"1"}]}`))
	})
	return f
}

// drain returns what was handled so far.
func (f *moveFake) drain() (ids []string) {
	for {
		select {
		case id := <-f.handled:
			ids = append(ids, id)
		default:
			return ids
		}
	}
}

// TestMoveRetriedWhileTheOldConnectionDelivers runs in fake time: Twitch
// asks to move the session, and its reconnect_url refuses the first three
// dials. The old connection keeps delivering meanwhile, and the fourth
// dial completes the move: the session and its subscription are kept (no
// new session, nothing created again), and nothing is lost.
func TestMoveRetriedWhileTheOldConnectionDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMoveFake(func(n int32) bool { return n <= 3 })
		_, cancel, done, end := f.run(sub("stream.online"))
		defer end()

		time.Sleep(20 * time.Second) // retries after 1, 2 and 4 s; the old connection delivers at 5 s
		synctest.Wait()
		got := f.drain()
		if len(got) != 2 || got[len(got)-1] != "on-the-new-connection" {
			t.Errorf("handled %q, want one notification from the old connection, then the new one's", got)
		}
		if m, s, c := f.moves.Load(), f.sessionsStarted.Load(), f.creates.Load(); m != 4 || s != 1 || c != 1 {
			t.Errorf("%d dials of reconnect_url, %d sessions, %d subscription creates; want 4, 1 and 1 (the move retried, the session kept)", m, s, c)
		}
		stopRun(t, cancel, done)
	})
}

// TestMoveGivenUpWhenTheGraceEnds: reconnect_url refuses every dial. The
// client keeps reading the old connection for as long as Twitch keeps it
// (its notifications are handled), and starts a new session, subscribed
// again, only once the move can no longer succeed.
func TestMoveGivenUpWhenTheGraceEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMoveFake(func(int32) bool { return true })
		_, cancel, done, end := f.run(sub("stream.online"))
		defer end()

		time.Sleep(26 * time.Second)
		synctest.Wait()
		if got := f.drain(); len(got) != 5 {
			t.Errorf("handled %q in the 26 s after the request to move, want the old connection's 5", got)
		}
		if s, c := f.sessionsStarted.Load(), f.creates.Load(); s != 1 || c != 1 {
			t.Errorf("%d sessions and %d creates while the old connection delivered, want 1 and 1", s, c)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if s, c := f.sessionsStarted.Load(), f.creates.Load(); s != 2 || c != 2 {
			t.Errorf("%d sessions and %d creates after the move failed, want 2 and 2 (a new session, subscribed again)", s, c)
		}
		stopRun(t, cancel, done)
	})
}

// TestMoveGivenUpAtOnceOn4004: reconnect_url refuses every dial, and
// Twitch ends the old connection with 4004 (reconnect grace time
// expired) while the next dial is still waiting its turn. The session is
// gone: a new one starts at once (after the first backoff step, 0.5 to
// 1 s), not when that dial would have failed too, and the close is
// logged with its code and meaning.
func TestMoveGivenUpAtOnceOn4004(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMoveFake(func(int32) bool { return true })
		// Dials fail at 0, 1, 3, 7, … 23 and 27 s; the next would be at 31 s.
		f.grace = 28 * time.Second
		var logs bytes.Buffer
		var mu sync.Mutex
		f.log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
		_, cancel, done, end := f.run(sub("stream.online"))
		defer end()

		time.Sleep(27*time.Second + 900*time.Millisecond)
		synctest.Wait()
		if s := f.sessionsStarted.Load(); s != 1 {
			t.Fatalf("%d sessions before the 4004, want 1", s)
		}
		time.Sleep(1100 * time.Millisecond) // 4004 at 28 s, then at most 1 s of backoff
		synctest.Wait()
		if s, c := f.sessionsStarted.Load(), f.creates.Load(); s != 2 || c != 2 {
			t.Errorf("%d sessions and %d creates 1 s after the 4004, want 2 and 2 (a new session at once, subscribed again)", s, c)
		}
		mu.Lock()
		logged := logs.String()
		mu.Unlock()
		if !strings.Contains(logged, `msg="EventSub connection lost; reconnecting"`) ||
			!strings.Contains(logged, `close_code=4004 meaning="reconnect grace time expired"`) {
			t.Errorf("the 4004 was not logged with its meaning:\n%s", logged)
		}
		stopRun(t, cancel, done)
	})
}
