package eventsub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// helixFake is Helix's subscription endpoints as Twitch keeps them: a
// create is refused with 409 when the session holds that type and
// condition already, a delete of an unknown id is a 404, and the list
// shows what is held. ops records every create and delete, in order.
type helixFake struct {
	mu    sync.Mutex
	subs  map[string]eventsub.Request // id → request
	where map[string]string           // id → session
	seq   int
	ops   []string
	fail  map[string]string // type → the 400 answered to its creation
	slow  map[string]time.Duration
}

func newHelixFake(tw *fakeTwitch) *helixFake {
	h := &helixFake{subs: map[string]eventsub.Request{}, where: map[string]string{}, fail: map[string]string{}, slow: map[string]time.Duration{}}
	tw.mux.HandleFunc("/helix/eventsub/subscriptions", h.serve)
	return h
}

// plant holds a subscription made earlier on session.
func (h *helixFake) plant(session string, r eventsub.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	id := fmt.Sprint("planted-", h.seq)
	h.subs[id], h.where[id] = r, session
}

func (h *helixFake) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var req struct {
			eventsub.Request
			Transport struct {
				SessionID string `json:"session_id"`
			} `json:"transport"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		h.mu.Lock()
		slow := h.slow[req.Type]
		h.mu.Unlock()
		time.Sleep(slow)
		h.mu.Lock()
		defer h.mu.Unlock()
		if msg := h.fail[req.Type]; msg != "" {
			h.ops = append(h.ops, "refused "+req.Type)
			w.WriteHeader(400)
			_, _ = fmt.Fprintf(w, `{"error":"Bad Request","status":400,"message":%q}`, msg)
			return
		}
		for id, s := range h.subs {
			if h.where[id] == req.Transport.SessionID && fmt.Sprint(s) == fmt.Sprint(req.Request) {
				h.ops = append(h.ops, "exists "+req.Type)
				w.WriteHeader(409)
				_, _ = w.Write([]byte(`{"error":"Conflict","status":409,"message":"subscription already exists"}`))
				return
			}
		}
		h.seq++
		id := fmt.Sprint("sub-", h.seq)
		h.subs[id], h.where[id] = req.Request, req.Transport.SessionID
		h.ops = append(h.ops, "create "+req.Type)
		w.WriteHeader(202)
		_, _ = fmt.Fprintf(w, `{"data":[{"id":%q,"status":"enabled","type":%q,"version":%q}]}`, id, req.Type, req.Version)
	case http.MethodGet:
		h.mu.Lock()
		defer h.mu.Unlock()
		h.ops = append(h.ops, "list")
		var data []map[string]any
		for id, s := range h.subs {
			data = append(data, map[string]any{"id": id, "status": "enabled", "type": s.Type, "version": s.Version, "condition": s.Condition,
				"transport": map[string]any{"method": "websocket", "session_id": h.where[id]}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "pagination": map[string]any{}})
	case http.MethodDelete:
		id := r.URL.Query().Get("id")
		h.mu.Lock()
		defer h.mu.Unlock()
		s, ok := h.subs[id]
		if !ok {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":"Not Found","status":404,"message":"subscription not found"}`))
			return
		}
		delete(h.subs, id)
		delete(h.where, id)
		h.ops = append(h.ops, "delete "+id+" "+s.Type)
		w.WriteHeader(204)
	}
}

// drop forgets the subscriptions of typ, as a revocation does.
func (h *helixFake) drop(typ string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, s := range h.subs {
		if s.Type == typ {
			delete(h.subs, id)
		}
	}
}

// took returns the operations since the last call.
func (h *helixFake) took() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ops := h.ops
	h.ops = nil
	return ops
}

// held lists "type condition" of session's subscriptions, sorted.
func (h *helixFake) held(session string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, s := range h.subs {
		if h.where[id] == session {
			out = append(out, s.Type+" "+s.Condition["broadcaster_user_id"])
		}
	}
	slices.Sort(out)
	return out
}

// oneSession serves one welcome ("s1"), then keepalives, counting dials.
func oneSession(tw *fakeTwitch, dials *atomic.Int32) {
	tw.sessions(func(conn *websocket.Conn) {
		dials.Add(1)
		_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
		tw.keepAlive(conn, 5*time.Second)
	})
}

func wantOps(t *testing.T, h *helixFake, want ...string) {
	t.Helper()
	if got := h.took(); !slices.Equal(got, want) {
		t.Fatalf("Helix calls = %q, want %q", got, want)
	}
}

func statuses(c *eventsub.Client) string {
	var out []string
	for _, s := range c.Status().Subscriptions {
		out = append(out, s.Type+"="+s.Status)
	}
	return strings.Join(out, " ")
}

// TestDeclareOnTheRunningSession runs in fake time: Declare changes the
// subscriptions of the running session without closing it. An added type
// is created on it, a removed one deleted from it (found in Helix's list
// when Helix only said it existed, 409), a changed condition deletes the
// old subscription before creating the new one, and a creation Helix
// refuses is logged at ERROR with its reason and shown in Status, the
// session kept. Throughout, one connection and one session.
func TestDeclareOnTheRunningSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		var logs bytes.Buffer
		var logMu sync.Mutex
		tw.log = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
		h := newHelixFake(tw)
		var dials atomic.Int32
		oneSession(tw, &dials)
		h.plant("s1", sub("channel.raid")) // made by an earlier herald on this session
		c, cancel, done, end := tw.run(sub("stream.online"), sub("channel.raid"))
		defer end()
		synctest.Wait()
		ops := h.took()
		slices.Sort(ops)
		if want := []string{"create stream.online", "exists channel.raid"}; !slices.Equal(ops, want) {
			t.Fatalf("Helix calls at start = %q, want %q", ops, want)
		}

		c.Declare([]eventsub.Request{sub("stream.online"), sub("channel.raid"), sub("channel.cheer")})
		synctest.Wait()
		wantOps(t, h, "create channel.cheer")
		if got := statuses(c); got != "stream.online=enabled channel.raid=enabled channel.cheer=enabled" {
			t.Errorf("status after adding channel.cheer: %s", got)
		}

		c.Declare([]eventsub.Request{sub("channel.cheer")})
		synctest.Wait()
		ops = h.took()
		slices.Sort(ops)
		if want := []string{"delete planted-1 channel.raid", "delete sub-2 stream.online", "list"}; !slices.Equal(ops, want) {
			t.Fatalf("Helix calls after removing two types = %q, want %q", ops, want)
		}

		other := sub("channel.cheer")
		other.Condition = map[string]string{"broadcaster_user_id": "2"}
		c.Declare([]eventsub.Request{other})
		synctest.Wait()
		wantOps(t, h, "delete sub-3 channel.cheer", "create channel.cheer")
		if got := h.held("s1"); !slices.Equal(got, []string{"channel.cheer 2"}) {
			t.Errorf("the session holds %q, want the cheer of broadcaster 2 only", got)
		}

		h.mu.Lock()
		h.fail["channel.follow"] = "invalid condition: moderator_user_id"
		h.mu.Unlock()
		c.Declare([]eventsub.Request{other, sub("channel.follow")})
		synctest.Wait()
		wantOps(t, h, "refused channel.follow")
		st := c.Status()
		if got := statuses(c); got != "channel.cheer=enabled channel.follow=failed" {
			t.Errorf("status after a refused creation: %s", got)
		}
		if !strings.Contains(st.Subscriptions[1].Detail, "invalid condition: moderator_user_id") || !strings.Contains(st.LastError, "invalid condition") {
			t.Errorf("status = %+v, want Twitch's reason in the detail and the last error", st)
		}
		logMu.Lock()
		logged := logs.String()
		logMu.Unlock()
		if !strings.Contains(logged, `level=ERROR msg="subscription not created" subscription_type=channel.follow`) ||
			!strings.Contains(logged, "invalid condition: moderator_user_id") {
			t.Errorf("the refusal was not logged at ERROR with Twitch's reason:\n%s", logged)
		}

		time.Sleep(time.Minute)
		synctest.Wait()
		if n := dials.Load(); n != 1 || st.State != ingress.StateConnected || st.Session != "s1" {
			t.Errorf("%d connections, state %s, session %q; want the one session kept throughout", n, st.State, st.Session)
		}
		stopRun(t, cancel, done)
	})
}

// TestDeclareWhileSubscribing runs in fake time: a type removed while its
// creation is under way is deleted once it has been created, and a type
// added meanwhile is created after.
func TestDeclareWhileSubscribing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		h := newHelixFake(tw)
		h.slow["stream.online"] = 3 * time.Second
		var dials atomic.Int32
		oneSession(tw, &dials)
		c, cancel, done, end := tw.run(sub("stream.online"))
		defer end()
		time.Sleep(time.Second) // the creation of stream.online is under way
		c.Declare([]eventsub.Request{sub("channel.cheer")})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		wantOps(t, h, "create stream.online", "delete sub-1 stream.online", "create channel.cheer")
		if got := h.held("s1"); !slices.Equal(got, []string{"channel.cheer 1"}) {
			t.Errorf("the session holds %q, want channel.cheer only", got)
		}
		if got := statuses(c); got != "channel.cheer=enabled" {
			t.Errorf("status: %s", got)
		}
		stopRun(t, cancel, done)
	})
}

// TestDeclareAsksAgainForRevoked runs in fake time: a type Twitch revoked
// for a reason no login cures (version_removed) is not asked for again
// (not by the refused retries, not by AskAgain after a new login) until
// the declaration changes; then it is, on the running session. One
// revoked because the streamer took the authorization back is asked for
// again after a new login (AskAgain), on the running session.
func TestDeclareAsksAgainForRevoked(t *testing.T) {
	t.Run("authorization_revoked, then a new login", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newRevokingFake("authorization_revoked")
			c, cancel, done, end := f.run(sub("stream.online"), sub("channel.cheer"))
			defer end()
			f.revoke()
			c.AskAgain()
			synctest.Wait()
			wantOps(t, f.h, "create stream.online")
			if got := statuses(c); got != "stream.online=enabled channel.cheer=enabled" {
				t.Errorf("status after a new login: %s", got)
			}
			stopRun(t, cancel, done)
		})
	})
	t.Run("version_removed", testRevokedUntilDeclared)
}

// revokingFake is Twitch, with Helix faked, whose sessions welcome as s1
// and keep alive, and which revokes stream.online for status on demand.
type revokingFake struct {
	*fakeTwitch
	h       *helixFake
	dials   atomic.Int32 // sessions opened
	revokes chan struct{}
}

func newRevokingFake(status string) *revokingFake {
	f := &revokingFake{fakeTwitch: newFakeTwitch(), revokes: make(chan struct{})}
	f.h = newHelixFake(f.fakeTwitch)
	f.sessions(func(conn *websocket.Conn) {
		f.dials.Add(1)
		_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
		for {
			select {
			case <-f.stop:
				return
			case <-f.revokes:
				f.h.drop("stream.online") // Twitch no longer holds it as enabled
				_ = conn.WriteMessage(websocket.TextMessage, revocationFor("stream.online", status))
			case <-time.After(5 * time.Second):
				if conn.WriteMessage(websocket.TextMessage, keepaliveMsg()) != nil {
					return
				}
			}
		}
	})
	return f
}

// revoke lets the client's start settle and forgets the Helix calls it
// made, then has Twitch revoke stream.online and waits until the client
// has taken that in.
func (f *revokingFake) revoke() {
	synctest.Wait()
	f.h.took()
	f.revokes <- struct{}{}
	synctest.Wait()
}

func testRevokedUntilDeclared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRevokingFake("version_removed")
		c, cancel, done, end := f.run(sub("stream.online"), sub("channel.cheer"))
		defer end()
		f.revoke()
		c.AskAgain()
		time.Sleep(time.Hour)
		synctest.Wait()
		wantOps(t, f.h) // nothing asked for
		if got := statuses(c); got != "stream.online=revoked channel.cheer=enabled" {
			t.Fatalf("status after the revocation: %s", got)
		}
		c.Declare([]eventsub.Request{sub("stream.online"), sub("channel.cheer"), sub("channel.follow")})
		synctest.Wait()
		ops := f.h.took()
		slices.Sort(ops)
		if want := []string{"create channel.follow", "create stream.online"}; !slices.Equal(ops, want) {
			t.Errorf("Helix calls after the declaration changed = %q, want %q", ops, want)
		}
		if n := f.dials.Load(); n != 1 {
			t.Errorf("%d connections, want one", n)
		}
		stopRun(t, cancel, done)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
