package eventsub_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// TestReconnectWhileHandling runs in fake time: Twitch asks to move the
// session while herald is still handling a notification, and by the time
// the handler returns the new connection is welcomed and the old one
// closed. The move completes (no new session, no subscriptions created
// again) and the next notification, on the new connection, is handled.
// Each round moves the session once more: the frames and the dial's result
// are ready together, in an order select would pick at random.
func TestReconnectWhileHandling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rounds = 8
		tw := newFakeTwitch()
		var dials, creates atomic.Int32
		hold := make(chan struct{})
		handled := make(chan string, rounds+1)
		tw.handle = func(_ context.Context, m eventsub.Message) {
			handled <- m.ID
			<-hold
		}
		welcomed := make(chan struct{}) // the new connection's welcome went out
		tw.sessions(func(conn *websocket.Conn) {
			n := dials.Add(1)
			_ = conn.WriteMessage(websocket.TextMessage, welcomeMsg("s1", 10))
			if n > 1 {
				welcomed <- struct{}{}
			}
			if n <= rounds {
				_ = conn.WriteMessage(websocket.TextMessage, reconnectMsg("ws://herald.test/ws?reconnect"))
				// Until the new connection is welcomed the old one delivers.
				_ = conn.WriteMessage(websocket.TextMessage, notificationMsg(fmt.Sprint("n", n)))
				<-welcomed
				// Twitch closes the old connection once the new one is up.
				_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "reconnect grace time expired"))
				return
			}
			_ = conn.WriteMessage(websocket.TextMessage, notificationMsg("last"))
			<-tw.stop
		})
		tw.mux.HandleFunc("/helix/eventsub/subscriptions", func(w http.ResponseWriter, r *http.Request) {
			creates.Add(1)
			w.WriteHeader(202)
			_, _ = w.Write([]byte(`{"data":[{"id":"x","status":"enabled","type":"stream.online","version":"1"}]}`))
		})
		_, cancel, done, end := tw.run(sub("stream.online"))
		defer end()

		// The old and the new connection deliver side by side until the
		// move, so the order of notifications across a move is not fixed:
		// each must be handled once.
		got := map[string]int{}
		for range rounds + 1 {
			got[<-handled]++
			synctest.Wait() // the dial, its welcome and the old connection's close are all in
			hold <- struct{}{}
		}
		synctest.Wait()
		want := map[string]int{"last": 1}
		for n := 1; n <= rounds; n++ {
			want[fmt.Sprint("n", n)] = 1
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("handled %v, want each notification once: %v", got, want)
		}
		if n, c := dials.Load(), creates.Load(); n != rounds+1 || c != 1 {
			t.Fatalf("%d connections and %d subscription creates, want %d and 1 (every move followed, one session)", n, c, rounds+1)
		}
		stopRun(t, cancel, done)
	})
}

func notificationMsg(id string) []byte {
	return []byte(fmt.Sprintf(`{"metadata":{"message_id":%q,"message_type":"notification","subscription_type":"stream.online","subscription_version":"1"},"payload":{"subscription":{"id":"x","type":"stream.online","version":"1","status":"enabled","condition":{"broadcaster_user_id":"1"}},"event":{"broadcaster_user_id":"1"}}}`, id))
}

func reconnectMsg(url string) []byte {
	return []byte(fmt.Sprintf(`{"metadata":{"message_id":"r%s","message_type":"session_reconnect"},"payload":{"session":{"id":"s1","status":"reconnecting","keepalive_timeout_seconds":null,"reconnect_url":%q}}}`,
		time.Now(), url))
}
