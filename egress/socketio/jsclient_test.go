package socketio

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/pagetest"
)

// jsTransports are the official client's three ways to connect, and so
// the three ways a page reaches the one page model: websocket-first (the
// native path, every notificationservice.js page), polling-only and
// polling upgraded to websocket (both the library's). Every TestJSPage…
// test is the same behavioural suite run on each.
var jsTransports = []struct {
	name       string
	transports []string
	// want is the transport the sink must report for the page before the
	// test goes on: for the upgraded mode, proof that the upgrade happened.
	want string
}{
	{name: "websocket-first", transports: []string{"websocket"}, want: "websocket"},
	{name: "polling-only", transports: []string{"polling"}, want: "polling"},
	{name: "polling-upgraded", want: "websocket"},
}

// startJSPage starts a page with the mode's transports, waits until it is
// registered and, where the mode says, until the sink sees it on the
// transport the mode is about.
func startJSPage(t *testing.T, s *Sink, url, mode string, opts pagetest.Options) *pagetest.Page {
	t.Helper()
	for _, tr := range jsTransports {
		if tr.name != mode {
			continue
		}
		opts.Transports = tr.transports
		p := pagetest.Start(t, url, opts)
		p.WaitRegistered(t)
		waitFor(t, "the page on "+tr.want, func() bool {
			for _, c := range s.Clients() {
				if c.Transport == tr.want {
					return true
				}
			}
			return false
		})
		return p
	}
	t.Fatalf("unknown mode %q", mode)
	return nil
}

func TestJSPageRegistersAndReceives(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := startJSPage(t, s, srv.URL, tr.name, pagetest.Options{Code: "alpha"})

			w := p.Welcome(t, timeout)
			if len(w.Args) != 1 || string(w.Args[0]) != `{"message":"Please register your code"}` {
				t.Errorf("WELCOME args = %s, want exactly {\"message\":\"Please register your code\"}", w.Args)
			}

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
			wantMeta := map[string]any{"id": "ev-alpha-FOLLOW", "source": "trigger", "ts": int64(1_700_000_000_123)}
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
			p := startJSPage(t, s, srv.URL, tr.name, pagetest.Options{Code: "old"})
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
	for _, tr := range jsTransports {
		for _, way := range []struct {
			name string
			opts pagetest.Options
		}{
			{name: "auth", opts: pagetest.Options{Code: "hs", Handshake: true}},
			{name: "query", opts: pagetest.Options{Query: map[string]string{"code": "hs"}}},
		} {
			t.Run(tr.name+"/"+way.name, func(t *testing.T) {
				s, srv := startSink(t, Options{})
				opts := way.opts
				opts.Transports = tr.transports
				p := pagetest.Start(t, srv.URL, opts)
				// No REGISTER is sent: the WELCOME arriving proves the server
				// already joined the page to its room.
				p.Welcome(t, timeout)
				deliver(t, s, delivery("hs", "TIP", map[string]any{"amount": 5}), 1)
				p.Expect(t, "TIP", timeout)
			})
		}
	}
}

// TestJSPageLongCodeRefused: a REGISTER with a code over 256 bytes gets
// the ERROR event and joins nothing, on every transport.
func TestJSPageLongCodeRefused(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := startJSPage(t, s, srv.URL, tr.name, pagetest.Options{Code: "short"})
			p.Register(strings.Repeat("l", maxCodeBytes+1))
			m := p.Expect(t, "ERROR", timeout)
			if !jsonEqual(t, m.Args[0], map[string]any{"message": "code too long: at most 256 bytes"}) {
				t.Errorf("ERROR = %s", m.Args[0])
			}
			// The page stays where it was.
			deliver(t, s, delivery("short", "STILL", nil), 1)
			p.Expect(t, "STILL", timeout)
		})
	}
}

func TestJSPageDisconnectLeaves(t *testing.T) {
	for _, tr := range jsTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			stay := startJSPage(t, s, srv.URL, tr.name, pagetest.Options{Code: "room"})
			leave := startJSPage(t, s, srv.URL, tr.name, pagetest.Options{Code: "room"})
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
