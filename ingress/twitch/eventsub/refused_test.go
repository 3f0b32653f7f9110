package eventsub_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// TestRefusedSubscriptionRetried runs in fake time: a subscription Helix
// refuses with 403 is asked for again after 30 s, then after waits that
// double up to 10 minutes (never in a loop), on the same session, while
// the others stay; once Helix accepts it, it is enabled and not asked for
// again. Status shows each step.
func TestRefusedSubscriptionRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		var dials atomic.Int32
		tw.sessions(func(conn *websocket.Conn) {
			dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
			tw.keepAlive(conn, 9*time.Second)
		})
		h := newCheerRefuser(tw)
		c, cancel, done, end := tw.run(sub("stream.online"), sub("channel.cheer"))
		defer end()
		status := func() map[string]ingress.SubscriptionStatus {
			out := map[string]ingress.SubscriptionStatus{}
			for _, s := range c.Status().Subscriptions {
				out[s.Type] = s
			}
			return out
		}

		synctest.Wait()
		start := time.Now()
		if n := h.cheerAsks.Load(); n != 1 {
			t.Fatalf("after the welcome channel.cheer was asked for %d times, want 1", n)
		}
		st := status()
		if st["channel.cheer"].Status != ingress.SubRefused || !st["channel.cheer"].RetryAt.Equal(start.Add(30*time.Second)) {
			t.Fatalf("cheer = %+v, want refused, retried at +30s", st["channel.cheer"])
		}
		if st["stream.online"].Status != ingress.SubEnabled || c.Status().State != ingress.StateConnected {
			t.Fatalf("status = %+v, want connected with stream.online enabled", c.Status())
		}

		// 0, 30, 90, 210, 450, 930, then every 600 s: 10 asks in the first hour.
		wantBy := []struct {
			at   time.Duration
			asks int32
		}{
			{at: 29 * time.Second, asks: 1}, {at: 31 * time.Second, asks: 2},
			{at: 89 * time.Second, asks: 2}, {at: 91 * time.Second, asks: 3},
			{at: 929 * time.Second, asks: 5}, {at: 931 * time.Second, asks: 6},
			{at: 3599 * time.Second, asks: 10},
		}
		for _, w := range wantBy {
			time.Sleep(start.Add(w.at).Sub(time.Now()))
			synctest.Wait()
			if n := h.cheerAsks.Load(); n != w.asks {
				t.Fatalf("at +%v channel.cheer was asked for %d times, want %d", w.at, n, w.asks)
			}
		}
		if st := status()["channel.cheer"]; st.RetryAt.Sub(time.Now()) > eventsub.MaxRefusedRetry {
			t.Fatalf("next retry %v away, want at most %v", st.RetryAt.Sub(time.Now()), eventsub.MaxRefusedRetry)
		}

		h.refusing.Store(false) // the streamer logged in again with the scope
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if st := status()["channel.cheer"]; st.Status != ingress.SubEnabled || !st.RetryAt.IsZero() {
			t.Fatalf("after Helix accepted it cheer = %+v, want enabled", st)
		}
		asked := h.cheerAsks.Load()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := h.cheerAsks.Load(); n != asked {
			t.Fatalf("an enabled subscription was asked for %d more times", n-asked)
		}
		if n := dials.Load(); n != 1 {
			t.Fatalf("%d connections, want the one session kept throughout", n)
		}
		stopRun(t, cancel, done)
		if st := c.Status(); st.State != ingress.StateStopped {
			t.Fatalf("after Run returned the state is %q, want stopped", st.State)
		}
	})
}

// TestNoSessionWhileNothingIsDue runs in fake time: when the only
// declared subscription is refused, Twitch closes the session after 10 s
// (4003, nothing subscribed). herald then opens no session until the
// refused subscription is due again (30 s, 90 s, 210 s, 450 s after the
// first), instead of a session per backoff step that asks for nothing,
// and says so in its status: waiting, with the time of the next ask.
func TestNoSessionWhileNothingIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		var dials, asks atomic.Int32
		tw.sessions(func(conn *websocket.Conn) {
			dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s", 30))
			select {
			case <-tw.stop:
			case <-time.After(10 * time.Second): // nothing was subscribed: Twitch gives up on the session
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4003, ""), time.Now().Add(time.Second))
			}
		})
		tw.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
			asks.Add(1)
			forbidden(w)
		})
		c, cancel, done, end := tw.run(sub("channel.cheer"))
		defer end()
		synctest.Wait()
		start := time.Now()

		time.Sleep(15 * time.Second) // the session ended at +10 s
		synctest.Wait()
		st := c.Status()
		if st.State != ingress.StateWaiting || !st.Subscriptions[0].RetryAt.Equal(start.Add(30*time.Second)) {
			t.Fatalf("between sessions status = %+v, want waiting until the retry at +30s", st)
		}
		wantBy := []struct {
			at    time.Duration
			dials int32
		}{
			{at: 29 * time.Second, dials: 1}, {at: 30 * time.Second, dials: 2},
			{at: 89 * time.Second, dials: 2}, {at: 90 * time.Second, dials: 3},
			{at: 209 * time.Second, dials: 3}, {at: 210 * time.Second, dials: 4},
			{at: 449 * time.Second, dials: 4}, {at: 450 * time.Second, dials: 5},
			{at: 929 * time.Second, dials: 5},
		}
		for _, w := range wantBy {
			time.Sleep(start.Add(w.at).Sub(time.Now()))
			synctest.Wait()
			if n := dials.Load(); n != w.dials {
				t.Fatalf("at +%v herald had opened %d sessions, want %d (one per due retry)", w.at, n, w.dials)
			}
		}
		if n := asks.Load(); n != 5 {
			t.Errorf("the refused subscription was asked for %d times, want once per session (5)", n)
		}
		stopRun(t, cancel, done)
	})
}

// TestNoSessionWhenEverythingIsRevoked runs in fake time: once Twitch has
// revoked every declared subscription, a lost session is not replaced by
// empty ones (which Twitch would close after 10 s, over and over).
func TestNoSessionWhenEverythingIsRevoked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newFakeTwitch()
		var dials atomic.Int32
		tw.sessions(func(conn *websocket.Conn) {
			dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s", 30))
			time.Sleep(time.Second)
			_ = conn.WriteMessage(websocket.TextMessage, revocationMsg("stream.online"))
			time.Sleep(time.Second)
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, ""), time.Now().Add(time.Second))
		})
		tw.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"stream.online","version":"1"}]}`))
		})
		c, cancel, done, end := tw.run(sub("stream.online"))
		defer end()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := dials.Load(); n != 1 {
			t.Errorf("%d sessions after every subscription was revoked, want the first only", n)
		}
		if st := c.Status(); st.State != ingress.StateWaiting {
			t.Errorf("state = %q, want %q", st.State, ingress.StateWaiting)
		}
		stopRun(t, cancel, done)
	})
}

// cheerRefuser is Helix's subscription endpoint for a login that may lack
// channel.cheer's scope: while refusing is set (from the start) it refuses
// channel.cheer with 403, and it accepts everything else.
type cheerRefuser struct {
	refusing  atomic.Bool
	cheerAsks atomic.Int32 // creations of channel.cheer asked for, refused or not
}

func newCheerRefuser(tw *fakeTwitch) *cheerRefuser {
	h := &cheerRefuser{}
	h.refusing.Store(true)
	tw.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"channel.cheer"`)) {
			h.cheerAsks.Add(1)
			if h.refusing.Load() {
				forbidden(w)
				return
			}
		}
		w.WriteHeader(202)
		_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"t","version":"1"}]}`))
	})
	return h
}

// forbidden is Helix's answer to a creation the login has no scope for.
func forbidden(w http.ResponseWriter) {
	w.WriteHeader(403)
	_, _ = w.Write([]byte(`{"error":"Forbidden","status":403,"message":"subscription missing proper authorization"}`))
}

func revocationMsg(typ string) []byte { return revocationFor(typ, "authorization_revoked") }

// revocationFor is Twitch's revocation of typ, for status.
func revocationFor(typ, status string) []byte {
	return []byte(fmt.Sprintf(`{"metadata":{"message_id":"r%s","message_type":"revocation","subscription_type":%q,"subscription_version":"1"},"payload":{"subscription":{"id":"x","status":%q,"type":%q,"version":"1"}}}`,
		time.Now(), typ, status, typ))
}

// TestAskAgainAfterNewLogin runs in fake time: after a new login,
// AskAgain forgets the refusals and asks for the refused types at once,
// both on a running session (which is kept) and, when every type was
// refused and no session is held, by opening one right away instead of
// at the next retry time.
func TestAskAgainAfterNewLogin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		subs      []eventsub.Request
		wantDials int32
	}{
		{name: "on the running session", subs: []eventsub.Request{sub("stream.online"), sub("channel.cheer")}, wantDials: 1},
		{name: "with no session held", subs: []eventsub.Request{sub("channel.cheer")}, wantDials: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tw := newFakeTwitch()
				var dials atomic.Int32
				h := newCheerRefuser(tw)
				tw.sessions(func(conn *websocket.Conn) {
					dials.Add(1)
					_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg(fmt.Sprint("s", dials.Load()), 10))
					if len(tc.subs) == 1 && h.refusing.Load() {
						// Nothing subscribed: Twitch ends the session after 10 s.
						time.Sleep(10 * time.Second)
						_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4003, ""), time.Now().Add(time.Second))
						return
					}
					tw.keepAlive(conn, 9*time.Second)
				})
				c, cancel, done, end := tw.run(tc.subs...)
				defer end()
				synctest.Wait()
				if len(tc.subs) == 1 {
					time.Sleep(15 * time.Second) // Twitch ended the empty session at +10 s
					synctest.Wait()
					if st := c.Status().State; st != ingress.StateWaiting {
						t.Fatalf("with every type refused the state is %q, want %q", st, ingress.StateWaiting)
					}
				}

				h.refusing.Store(false) // the streamer logged in again with the scope
				c.AskAgain()
				synctest.Wait()
				if n := h.cheerAsks.Load(); n != 2 {
					t.Fatalf("channel.cheer was asked for %d times, want twice (at start, at once after AskAgain)", n)
				}
				for _, s := range c.Status().Subscriptions {
					if s.Status != ingress.SubEnabled {
						t.Errorf("%s is %s after AskAgain, want enabled", s.Type, s.Status)
					}
				}
				if n := dials.Load(); n != tc.wantDials {
					t.Errorf("%d sessions, want %d", n, tc.wantDials)
				}
				stopRun(t, cancel, done)
			})
		})
	}
}
