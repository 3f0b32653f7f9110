package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// TestRecoveredSessionKeepsItsSocketID: a page that recovers its session
// gets its socket id back (socket.id, as from Node's server), on both
// paths; but not while its old connection is still open here (the page
// came back before herald saw it leave): two pages never share an id, and
// the page recovers with a new one, which its session keeps from then on,
// even when the old connection closes later.
func TestRecoveredSessionKeepsItsSocketID(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			j := mem.New()
			defer j.Close()
			k := recovery.New(j, recovery.Options{})
			s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
			saved := func(pid, sid string) {
				t.Helper()
				waitFor(t, "session saved with socket id "+sid, func() bool {
					sess, ok, _ := j.Session(t.Context(), pid)
					return ok && sess.SID == sid
				})
			}

			first := connectRaw(t, srv.URL, transport, map[string]any{"code": "abc"})
			saved(first.pid, first.sid)

			again := connectRaw(t, srv.URL, transport, map[string]any{"pid": first.pid})
			if again.pid != first.pid {
				t.Fatalf("pid = %q, want %q (recovered)", again.pid, first.pid)
			}
			if again.sid == first.sid {
				t.Fatalf("socket id %q given to a second page while the first is connected", again.sid)
			}
			saved(first.pid, again.sid)
			if ids := clientIDs(s); len(ids) != 2 || ids[0] == ids[1] {
				t.Fatalf("Clients = %q, want two pages with their own ids", ids)
			}

			// The old connection closing now does not take the session
			// back to its socket id.
			first.close()
			waitFor(t, "the first page gone", func() bool { return len(s.Clients()) == 1 })
			s.writes.Wait()
			if sess, _, _ := j.Session(t.Context(), first.pid); sess.SID != again.sid {
				t.Fatalf("session's socket id = %q after its old connection closed, want %q (the newer one's)", sess.SID, again.sid)
			}
			again.close()
			waitFor(t, "both pages gone", func() bool { return len(s.Clients()) == 0 })
			back := connectRaw(t, srv.URL, transport, map[string]any{"pid": first.pid})
			if back.pid != first.pid || back.sid != again.sid {
				t.Fatalf("answer {sid %q, pid %q}, want {%q, %q}: the session's socket id, recovered", back.sid, back.pid, again.sid, first.pid)
			}
			// The CONNECT answer goes out before the page joins the listing.
			waitFor(t, "the page listed", func() bool { return len(s.Clients()) == 1 })
			if ids := clientIDs(s); len(ids) != 1 || ids[0] != again.sid {
				t.Fatalf("Clients = %q, want [%q]", ids, again.sid)
			}
		})
	}
}

func clientIDs(s *Sink) []string {
	var out []string
	for _, c := range s.Clients() {
		out = append(out, c.ID)
	}
	return out
}

// rawConnect is a connection that sent CONNECT with some auth, and the
// server's answer to it.
type rawConnect struct {
	sid, pid string
	close    func()
}

// connectRaw opens a page over transport ("websocket": the native path;
// "polling": the library's) and sends CONNECT with auth.
func connectRaw(t *testing.T, base, transport string, auth map[string]any) rawConnect {
	t.Helper()
	packet, err := json.Marshal(auth)
	if err != nil {
		t.Fatal(err)
	}
	connect := "40" + string(packet)
	var answer string
	var closeFn func()
	if transport == "websocket" {
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, open, err := conn.ReadMessage(); err != nil || open[0] != '0' {
			t.Fatalf("open packet = %q, %v", open, err)
		}
		if err := conn.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		answer, closeFn = string(msg), func() { conn.Close() }
	} else {
		answer, closeFn = pollingConnect(t, base, connect)
	}
	var a struct{ SID, PID string }
	if !strings.HasPrefix(answer, "40{") || json.Unmarshal([]byte(answer[2:]), &a) != nil || a.SID == "" {
		t.Fatalf("CONNECT answer = %q, want 40{sid, pid}", answer)
	}
	return rawConnect{sid: a.SID, pid: a.PID, close: closeFn}
}

// pollingConnect sends connect over a new long-polling session and
// returns the server's first Socket.IO packet, and a function that ends
// the session.
func pollingConnect(t *testing.T, base, connect string) (answer string, closeFn func()) {
	t.Helper()
	next, closeFn := pollingPage(t, base, connect)
	for {
		if p := next(); strings.HasPrefix(p, "40") {
			return p, closeFn
		}
	}
}

func pollingDo(t *testing.T, method, u, body string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatal(fmt.Errorf("%s: %s %s", method, resp.Status, b))
	}
	return string(b)
}

// TestOverlappingRecoveriesOfOneSession: a page comes back (B1), its
// journal lookup is slow, its transport dies and the client comes back
// again (B2), which recovers first. The two never share a socket id; the
// session stays B2's when B1's lookup ends and when B1 is seen to close,
// so B2's session is still saved (refreshed, and on leave) with its own
// id.
func TestOverlappingRecoveriesOfOneSession(t *testing.T) {
	for _, tc := range []struct {
		transport string
		b2First   bool
	}{{"websocket", true}, {"websocket", false}, {"polling", true}, {"polling", false}} {
		transport, b2First := tc.transport, tc.b2First
		t.Run(fmt.Sprintf("%s, B2 in its room first: %v", transport, b2First), func(t *testing.T) {
			mj := mem.New()
			defer mj.Close()
			g := &gatedJournal{Journal: mj, hit: make(chan struct{}), release: make(chan struct{})}
			k := recovery.New(g, recovery.Options{})
			s, srv := startSink(t, Options{Log: discardLog(), Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})

			first := connectRaw(t, srv.URL, transport, map[string]any{"code": "abc"})
			waitFor(t, "session saved", func() bool { _, ok, _ := mj.Session(t.Context(), first.pid); return ok })
			first.close()
			waitFor(t, "first page gone", func() bool { return len(s.Clients()) == 0 })
			s.writes.Wait()

			g.gate(first.pid)
			b1 := make(chan rawConnect, 1)
			go func() { b1 <- connectRaw(t, srv.URL, transport, map[string]any{"pid": first.pid}) }()
			<-g.hit // B1 is in its journal lookup
			b2 := connectRaw(t, srv.URL, transport, map[string]any{"pid": first.pid})
			if b2.pid != first.pid || b2.sid != first.sid {
				t.Fatalf("B2 answered {sid %q, pid %q}, want {%q, %q}", b2.sid, b2.pid, first.sid, first.pid)
			}
			if b2First {
				waitFor(t, "B2 in its room", func() bool { return len(s.Clients()) == 1 })
			}
			close(g.release)
			stale := <-b1
			if stale.sid == b2.sid {
				t.Errorf("B1 and B2 share socket id %s", b2.sid)
			}
			waitFor(t, "both pages in", func() bool { return len(s.Clients()) == 2 })
			stale.close()
			waitFor(t, "B1 gone", func() bool { return len(s.Clients()) == 1 })
			s.writes.Wait()
			if sess, _, _ := mj.Session(t.Context(), first.pid); sess.SID != b2.sid {
				t.Errorf("session's socket id = %q with B1 gone, want B2's %q", sess.SID, b2.sid)
			}
			if live := s.rooms.all()[0]; live.id != b2.sid {
				t.Fatalf("page left is %q, want B2 %q", live.id, b2.sid)
			} else if _, ok := s.sessionOf(live); !ok {
				t.Error("B2's session is no longer saved: it would expire while B2 is connected")
			}
		})
	}
}

// gatedJournal holds the first Session lookup of one pid until release.
type gatedJournal struct {
	journal.Journal
	mu      sync.Mutex
	block   string
	hit     chan struct{}
	release chan struct{}
}

func (g *gatedJournal) gate(pid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.block = pid
}

func (g *gatedJournal) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	g.mu.Lock()
	held := pid != "" && pid == g.block
	if held {
		g.block = ""
	}
	g.mu.Unlock()
	if held {
		close(g.hit)
		<-g.release
	}
	return g.Journal.Session(ctx, pid)
}
