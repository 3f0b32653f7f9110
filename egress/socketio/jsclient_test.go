package socketio

import (
	"testing"

	"github.com/heraldhq/herald/internal/pagetest"
)

// transports are the official client's three ways to connect.
var jsTransports = []struct {
	name       string
	transports []string
}{
	{name: "default"},
	{name: "polling", transports: []string{"polling"}},
	{name: "websocket", transports: []string{"websocket"}},
}

func TestJSPageRegistersAndReceives(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := pagetest.Start(t, srv.URL, pagetest.Options{Code: "alpha", Transports: tr.transports})

			w := p.Welcome(t, timeout)
			if len(w.Args) != 1 || string(w.Args[0]) != `{"message":"Please register your code"}` {
				t.Errorf("WELCOME args = %s, want exactly {\"message\":\"Please register your code\"}", w.Args)
			}
			p.WaitRegistered(t)

			payload := map[string]any{"text": "Ada followed", "user": "ada", "n": 3.5}
			d := delivery("alpha", "FOLLOW", payload)
			deliver(t, s, d, 1)

			m := p.Expect(t, "FOLLOW", timeout)
			if len(m.Args) != 2 {
				t.Fatalf("FOLLOW has %d args, want 2 (payload, meta): %s", len(m.Args), m.Args)
			}
			if !jsonEqual(t, m.Args[0], payload) {
				t.Errorf("FOLLOW payload = %s, want %v", m.Args[0], payload)
			}
			wantMeta := map[string]any{"id": "ev-alpha-FOLLOW", "source": "trigger", "ts": 1_700_000_000_123}
			if !jsonEqual(t, m.Args[1], wantMeta) {
				t.Errorf("FOLLOW meta = %s, want %v", m.Args[1], wantMeta)
			}
		})
	}
}

func TestJSPageSecondRegisterMovesRoom(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := pagetest.Start(t, srv.URL, pagetest.Options{Code: "old", Transports: tr.transports})
			p.WaitRegistered(t)
			deliver(t, s, delivery("old", "FIRST", nil), 1)
			p.Expect(t, "FIRST", timeout)

			p.Register("new")
			p.WaitRegistered(t)
			deliver(t, s, delivery("old", "LOST", nil), 0)
			deliver(t, s, delivery("new", "SECOND", map[string]any{"x": "y"}), 1)
			m := p.Expect(t, "SECOND", timeout)
			if !jsonEqual(t, m.Args[0], map[string]any{"x": "y"}) {
				t.Errorf("SECOND payload = %s", m.Args[0])
			}
			if got := codes(s); len(got) != 1 || got[0] != "new" {
				t.Errorf("Clients codes = %q, want [new]", got)
			}
		})
	}
}

func TestJSPageHandshakeCode(t *testing.T) {
	tests := []struct {
		name string
		opts pagetest.Options
	}{
		{name: "auth", opts: pagetest.Options{Code: "hs", Handshake: true}},
		{name: "auth/polling", opts: pagetest.Options{Code: "hs", Handshake: true, Transports: []string{"polling"}}},
		{name: "auth/websocket", opts: pagetest.Options{Code: "hs", Handshake: true, Transports: []string{"websocket"}}},
		{name: "query", opts: pagetest.Options{Query: map[string]string{"code": "hs"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := pagetest.Start(t, srv.URL, tc.opts)
			// No REGISTER is sent: the WELCOME arriving proves the server
			// already joined the page to its room.
			p.Welcome(t, timeout)
			deliver(t, s, delivery("hs", "TIP", map[string]any{"amount": 5}), 1)
			p.Expect(t, "TIP", timeout)
		})
	}
}

func TestJSPageDisconnectLeaves(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			stay := pagetest.Start(t, srv.URL, pagetest.Options{Code: "room", Transports: tr.transports})
			leave := pagetest.Start(t, srv.URL, pagetest.Options{Code: "room", Transports: tr.transports})
			stay.WaitRegistered(t)
			leave.WaitRegistered(t)
			deliver(t, s, delivery("room", "BOTH", nil), 2)
			stay.Expect(t, "BOTH", timeout)
			leave.Expect(t, "BOTH", timeout)

			leave.Close()
			waitFor(t, "the closed page to leave Clients()", func() bool { return len(s.Clients()) == 1 })
			deliver(t, s, delivery("room", "ONE", nil), 1)
			stay.Expect(t, "ONE", timeout)
		})
	}
}

func TestJSPageOtherRoomGetsNothing(t *testing.T) {
	s, srv := startSink(t, Options{})
	a := pagetest.Start(t, srv.URL, pagetest.Options{Code: "a"})
	b := pagetest.Start(t, srv.URL, pagetest.Options{Code: "b"})
	a.WaitRegistered(t)
	b.WaitRegistered(t)

	deliver(t, s, delivery("a", "FOR_A", nil), 1)
	a.Expect(t, "FOR_A", timeout)
	// Events reach a page in order, so if b had been sent FOR_A it would
	// arrive before this marker.
	deliver(t, s, delivery("b", "MARKER", nil), 1)
	b.Expect(t, "MARKER", timeout)
}
