package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// TestRecoveryAfterAcksNotYetSaved: a page that acks (the official client
// keeps no offset for such an alert, so it comes back with its pid and no
// offset) is not sent again what it acknowledged, even when the journal
// does not hold its session's acknowledgements yet: its session's save
// on leaving is still under way, or herald has not seen its old
// connection close at all.
func TestRecoveryAfterAcksNotYetSaved(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave bool // the old connection closes (its save held back); else it stays open
	}{{"left, its save under way", true}, {"old connection still open", false}} {
		t.Run(tc.name, func(t *testing.T) {
			mj := mem.New()
			defer mj.Close()
			j := &heldSaves{Journal: mj, release: make(chan struct{})}
			k := recovery.New(j, recovery.Options{})
			s, srv := startSink(t, Options{Log: discardLog(), Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
			fire := func(n int) {
				d := delivery("abc", "DONATION", map[string]any{"n": n})
				d.Time = time.Now()
				e, err := mj.Append(t.Context(), d)
				if err != nil {
					t.Fatal(err)
				}
				s.Deliver(t.Context(), e.Delivery)
			}

			first := ackingPage(t, srv.URL, `{"code":"abc","acks":true}`, true)
			for n := 1; n <= 3; n++ {
				fire(n)
				first.expect(t, n, true)
			}
			waitFor(t, "the 3 acks journaled", func() bool {
				es, _ := mj.After(t.Context(), "abc", 0, 10)
				return len(es) == 3 && es[2].Acked == 1
			})
			j.hold.Store(true) // the journal gets no session from here on, until released
			defer close(j.release)
			if tc.leave {
				first.conn.Close()
				waitFor(t, "the page gone", func() bool { return len(s.Clients()) == 0 })
			}
			fire(4)
			fire(5)
			back := ackingPage(t, srv.URL, fmt.Sprintf(`{"pid":%q}`, first.pid), false)
			if back.pid != first.pid {
				t.Fatalf("came back with pid %q, want %q (recovered)", back.pid, first.pid)
			}
			back.expect(t, 4, false)
			back.expect(t, 5, false)
		})
	}
}

// heldSaves is a journal whose session saves wait, once hold is set,
// until release is closed.
type heldSaves struct {
	journal.Journal
	hold    atomic.Bool
	release chan struct{}
}

func (j *heldSaves) SaveSession(ctx context.Context, sess journal.Session) error {
	if j.hold.Load() {
		select {
		case <-j.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return j.Journal.SaveSession(ctx, sess)
}

// acking is a raw WebSocket page that acknowledges every alert it is
// asked to.
type acking struct {
	conn *websocket.Conn
	pid  string
}

// ackingPage connects with auth and reads the CONNECT answer, and with
// welcome the WELCOME a new page gets once it is in its room.
func ackingPage(t *testing.T, base, auth string, welcome bool) *acking {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, open, err := conn.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open packet = %q, %v", open, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	var a struct{ PID string }
	if err != nil || !strings.HasPrefix(string(msg), "40{") || json.Unmarshal(msg[2:], &a) != nil {
		t.Fatalf("CONNECT answer = %q, %v", msg, err)
	}
	if welcome {
		if _, msg, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), `42["WELCOME"`) {
			t.Fatalf("after CONNECT got %q, %v; want WELCOME", msg, err)
		}
	}
	return &acking{conn: conn, pid: a.PID}
}

// expect reads frames until an alert, checks it is alert n,
// and acknowledges it when ack is set.
func (p *acking) expect(t *testing.T, n int, ack bool) {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, msg, err := p.conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for alert %d: %v", n, err)
		}
		f := string(msg)
		if f == "2" {
			_ = p.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		id, body, ok := strings.Cut(strings.TrimPrefix(f, "42"), "[")
		var args []json.RawMessage
		if !strings.HasPrefix(f, "42") || !ok || json.Unmarshal([]byte("["+body), &args) != nil || len(args) < 2 {
			t.Fatalf("frame %q is no alert", f)
		}
		var payload struct{ N int }
		_ = json.Unmarshal(args[1], &payload)
		if payload.N != n {
			t.Fatalf("got alert %d, want %d: what the page acknowledged is not sent again", payload.N, n)
		}
		if ack && id != "" {
			if err := p.conn.WriteMessage(websocket.TextMessage, []byte("43"+id+"[]")); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
}
