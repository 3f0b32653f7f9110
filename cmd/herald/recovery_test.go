package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
)

const pageWait = 20 * time.Second

// fire fires one alert at herald and fails t unless it was answered 200.
func fire(t *testing.T, base, code string, n int) {
	t.Helper()
	a := do(t, "GET", fmt.Sprintf("%s/notify?code=%s&event=donation&n=%d", base, code, n), nil, nil)
	if a.status != http.StatusOK {
		t.Fatalf("trigger n=%d = %d %s", n, a.status, a.body)
	}
}

// expectAlerts reads the page's next events and checks they are the
// DONATION alerts from..to, in order, each once; it returns the last
// argument of the last one (the position the client keeps).
func expectAlerts(t *testing.T, p *pagetest.Page, from, to int, wantReplayed bool) {
	t.Helper()
	for n := from; n <= to; n++ {
		m := p.Next(t, pageWait)
		var payload struct {
			N string `json:"n"`
		}
		var meta struct {
			ID       string `json:"id"`
			Replayed bool   `json:"replayed"`
		}
		if m.Event != "DONATION" || m.Decode(0, &payload) != nil || m.Decode(1, &meta) != nil {
			t.Fatalf("event %d: got %s %s, want DONATION with payload and meta", n, m.Event, m.Args)
		}
		if payload.N != fmt.Sprint(n) {
			t.Fatalf("got alert n=%s, want n=%d (every alert once, in order)", payload.N, n)
		}
		if meta.Replayed != wantReplayed {
			t.Errorf("alert n=%d: meta.replayed = %v, want %v", n, meta.Replayed, wantReplayed)
		}
		var pos string
		if len(m.Args) != 3 || m.Decode(2, &pos) != nil || !strings.Contains(pos, "-") {
			t.Errorf("alert n=%d: arguments %s, want payload, meta and the position \"<epoch>-<offset>\" last", n, m.Args)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestRecoveryAfterDrop: a page (official client) leaves, 20 alerts fire,
// it comes back: socket.recovered is true, socket.id is the same, and the
// 20 arrive once, in order, before the next live alert, on every transport. A page that
// received no alert before it left has a pid but no offset to send
// (socket.io-client keeps the offset of the last alert it got); it
// recovers too, with what another page of its code got live meanwhile
// (so none of it is pending).
func TestRecoveryAfterDrop(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	tests := []struct {
		name       string
		transports []string
		handshake  bool
		nothingYet bool // the page got no alert before it left
	}{
		{name: "websocket (native path), code in the handshake", transports: []string{"websocket"}, handshake: true},
		{name: "websocket (native path), REGISTER", transports: []string{"websocket"}},
		{name: "polling (library path)", transports: []string{"polling"}, handshake: true},
		{name: "client default: polling upgraded to websocket", handshake: true},
		{name: "nothing received yet, websocket (native path)", transports: []string{"websocket"}, handshake: true, nothingYet: true},
		{name: "nothing received yet, polling (library path)", transports: []string{"polling"}, handshake: true, nothingYet: true},
		{name: "nothing received yet, client default", handshake: true, nothingYet: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := fmt.Sprintf("recover-drop-%d", i)
			var watcher *pagetest.Page
			if tc.nothingYet {
				watcher = pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true})
				watcher.WaitRegistered(t)
			}
			p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: tc.handshake, Transports: tc.transports})
			if p.Connected(t, pageWait) {
				t.Fatal("first connect reported recovered")
			}
			p.WaitRegistered(t)
			if !tc.nothingYet {
				fire(t, h.base, code, 0)
				expectAlerts(t, p, 0, 0, false)
			}

			id := p.ID()
			p.Leave()
			for n := 1; n <= 20; n++ {
				fire(t, h.base, code, n)
			}
			if watcher != nil {
				expectAlerts(t, watcher, 1, 20, false)
			}
			p.Return()
			if !p.Connected(t, pageWait) {
				t.Fatal("socket.recovered = false after coming back within the window")
			}
			if p.ID() != id || id == "" {
				t.Errorf("socket.id = %q after recovery, %q before; want it kept", p.ID(), id)
			}
			expectAlerts(t, p, 1, 20, false)
			fire(t, h.base, code, 21)
			expectAlerts(t, p, 21, 21, false)
		})
	}
}

// TestRecoveryAfterAChangeOfCode: a page that REGISTERs a new code keeps,
// in its client, the offset of the last alert of its old room until an
// alert of the new room arrives. Coming back, it gets what it missed in
// the new room, and not the new room's older history.
func TestRecoveryAfterAChangeOfCode(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	// History of the new room from before the page came, which another
	// page got (so none of it is pending).
	watcher := livePage(t, h.base, "code-two", 100)
	for n := 101; n <= 110; n++ {
		fire(t, h.base, "code-two", n)
	}
	expectAlerts(t, watcher, 101, 110, false)
	p := livePage(t, h.base, "code-one", 0)
	p.Register("code-two")
	p.WaitRegistered(t)
	p.Leave()
	for n := 1; n <= 3; n++ {
		fire(t, h.base, "code-two", n)
	}
	p.Return()
	if !p.Connected(t, pageWait) {
		t.Fatal("socket.recovered = false")
	}
	expectAlerts(t, p, 1, 3, false)
}

// livePage starts an official-client page on the native WebSocket path,
// its code in the handshake, and checks that alert n reaches it live.
func livePage(t *testing.T, base, code string, n int) *pagetest.Page {
	t.Helper()
	p := pagetest.Start(t, base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
	p.Connected(t, pageWait)
	p.WaitRegistered(t)
	fire(t, base, code, n)
	expectAlerts(t, p, n, n, false)
	return p
}

// TestRecoveryOfAPageConnectedLongerThanTheWindow: a page that stays
// connected is not away, so its session must not expire under it. herald
// is killed while the page has been connected for longer than
// recovery_window (10 s here); the page comes back on its own to the
// restarted herald and recovers, with the alert fired in between.
func TestRecoveryOfAPageConnectedLongerThanTheWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past a 10 s recovery window")
	}
	data, port := t.TempDir(), freePort(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("version: 1\njournal:\n  recovery_window: 10s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "-p", port, "--rules", rulesFile}
	h := startHerald(t, args...)
	const code = "connected-long"
	p := livePage(t, h.base, code, 1)
	time.Sleep(12 * time.Second) // past the window the connect-time save gave the session

	h.kill9(t)
	h2 := startHerald(t, args...)
	fire(t, h2.base, code, 2) // before the page is back: it reaches no page
	if !p.Connected(t, pageWait) {
		t.Fatal("socket.recovered = false for a page that was connected when herald died")
	}
	expectAlerts(t, p, 2, 2, false)
}

// TestRecoveryAcrossKill9: the page is away, 50 triggers are answered 200,
// herald is killed with SIGKILL and restarted on the same data directory
// and port; the page comes back on its own and recovers all 50, in order,
// none twice.
func TestRecoveryAcrossKill9(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	h := startHerald(t, "--data", data, "-p", port)
	const code = "recover-kill"
	p := livePage(t, h.base, code, 0)
	id := p.ID()

	p.Leave()
	for n := 1; n <= 50; n++ {
		fire(t, h.base, code, n)
	}
	h.kill9(t)
	h2 := startHerald(t, "--data", data, "-p", port)
	p.Return()
	if !p.Connected(t, pageWait) {
		t.Fatal("socket.recovered = false after a herald restart")
	}
	if p.ID() != id {
		t.Errorf("socket.id = %q after recovery, %q before; want it kept", p.ID(), id)
	}
	expectAlerts(t, p, 1, 50, false)
	fire(t, h2.base, code, 51)
	expectAlerts(t, p, 51, 51, false)
}

// TestTriggersForAPageAwayAcrossARestartCostNoMiss: the page leaves
// (OBS closed), herald is killed and restarted, and a bot fires twice the
// miss budget for the page's code before OBS is back. They are no guesses
// at a code: herald knows from the journal's sessions that a page held the
// room minutes ago, so every trigger is answered 200 and waits for the
// page, which recovers them all.
func TestTriggersForAPageAwayAcrossARestartCostNoMiss(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	h := startHerald(t, "--data", data, "-p", port)
	const code = "away-across-restart"
	p := livePage(t, h.base, code, 0)
	p.Leave()
	h.kill9(t)
	h2 := startHerald(t, "--data", data, "-p", port)
	many := 2 * defaultRateMisses.Burst
	for n := 1; n <= many; n++ {
		fire(t, h2.base, code, n)
	}
	p.Return()
	if !p.Connected(t, pageWait) {
		t.Fatal("socket.recovered = false after a herald restart")
	}
	expectAlerts(t, p, 1, many, false)
}

// TestPendingAlertsGoToTheFirstPage: a code with no page gets 5 alerts;
// the first page to register (a page of the original kind: WELCOME, then
// REGISTER) gets them, marked replayed, and a second page does not.
func TestPendingAlertsGoToTheFirstPage(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	const code = "pending-code"
	for n := 1; n <= 5; n++ {
		fire(t, h.base, code, n)
	}
	first := pagetest.Start(t, h.base, pagetest.Options{Code: code})
	first.WaitRegistered(t)
	expectAlerts(t, first, 1, 5, true)
	second := pagetest.Start(t, h.base, pagetest.Options{Code: code})
	second.WaitRegistered(t)
	fire(t, h.base, code, 6)
	expectAlerts(t, second, 6, 6, false) // nothing pending came before it
	expectAlerts(t, first, 6, 6, false)
}

// TestAlertsAPageNeverShowedGoToTheNextPage: OBS shuts a browser source
// down (a scene switch with "Shutdown source when not visible", an OBS
// restart) while alerts wait their turn in its queue, and starts a new
// one: a new browser context, with nothing to resume from. A page that
// acks (notificationservice.js acks once it showed an alert) and left
// without acking them did not show them: the next page of its code gets
// them, marked replayed, and no page after it. A page that does not ack
// (the seed's) counts as having shown what it got.
func TestAlertsAPageNeverShowedGoToTheNextPage(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			h := startHerald(t, "--data", t.TempDir())
			const code = "never-shown"
			old := pagetest.Start(t, h.base, pagetest.Options{Code: code, Acks: true, AckFirst: 1, Transports: []string{transport}})
			old.WaitRegistered(t)
			for n := 1; n <= 4; n++ {
				fire(t, h.base, code, n)
			}
			expectAlerts(t, old, 1, 4, false) // it shows the first; 2 to 4 wait
			waitFor(t, "the first alert acked", func() bool {
				es := history(t, h.base, code, 10).Entries
				return len(es) == 4 && es[0].Acked == 1
			})
			old.Close()

			next := pagetest.Start(t, h.base, pagetest.Options{Code: code, Acks: true, Transports: []string{transport}})
			next.WaitRegistered(t)
			expectAlerts(t, next, 2, 4, true)
			fire(t, h.base, code, 5)
			expectAlerts(t, next, 5, 5, false)
			waitFor(t, "every alert acked once", func() bool {
				for _, e := range history(t, h.base, code, 10).Entries {
					if e.Acked != 1 || e.Reached != 1 {
						return false
					}
				}
				return true
			})

			// A page after it gets none of them again.
			third := pagetest.Start(t, h.base, pagetest.Options{Code: code, Acks: true, Transports: []string{transport}})
			third.WaitRegistered(t)
			fire(t, h.base, code, 6)
			expectAlerts(t, third, 6, 6, false)
		})
	}
	t.Run("a page that does not ack", func(t *testing.T) {
		h := startHerald(t, "--data", t.TempDir())
		const code = "shown-by-a-seed-page"
		seed := pagetest.Start(t, h.base, pagetest.Options{Code: code})
		seed.WaitRegistered(t)
		for n := 1; n <= 2; n++ {
			fire(t, h.base, code, n)
		}
		expectAlerts(t, seed, 1, 2, false)
		seed.Close()
		next := pagetest.Start(t, h.base, pagetest.Options{Code: code, Acks: true})
		next.WaitRegistered(t)
		fire(t, h.base, code, 3)
		expectAlerts(t, next, 3, 3, false) // nothing pending came before it
	})
}

// pendingRules routes alerts n=1 and n=3 by rule "odd", the others by rule
// "even", each with the pending_window given ("" for none).
func pendingRules(odd, even string) string {
	window := func(w string) string {
		if w == "" {
			return ""
		}
		return "    pending_window: " + w + "\n"
	}
	return "version: 1\nrules:\n" +
		"  - name: odd\n    when: source == \"trigger\" && data.n in [\"1\", \"3\"]\n    emit: DONATION\n" + window(odd) +
		"  - name: even\n    when: source == \"trigger\"\n    emit: DONATION\n" + window(even)
}

// TestPendingWindowOfARule: a rule with pending_window: 0 keeps its alerts
// from the first page to register while another rule's still go to it;
// a saved rules file changes that for the next page.
func TestPendingWindowOfARule(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, rulesFile, pendingRules("0", ""))
	h := startHerald(t, "--data", t.TempDir(), "--rules", rulesFile)
	// check fires alerts 1 to 4 at a code without a page: the first page
	// gets alerts first and first+2 as pending, then 5 live.
	check := func(code string, first int) {
		t.Helper()
		for n := 1; n <= 4; n++ {
			fire(t, h.base, code, n)
		}
		p := pagetest.Start(t, h.base, pagetest.Options{Code: code})
		p.WaitRegistered(t)
		expectAlerts(t, p, first, first, true)
		expectAlerts(t, p, first+2, first+2, true)
		fire(t, h.base, code, 5)
		expectAlerts(t, p, 5, 5, false) // nothing else was pending before it
	}
	check("pending-rule-1", 2) // odd's window is 0

	writeAtomically(t, rulesFile, pendingRules("", "0"))
	waitFor(t, "the edited rules to load", func() bool { return rulesStatus(t, h.base).Generation == 2 })
	check("pending-rule-2", 1) // even's window is 0
}

// TestHistoryCountsPagesReachedByRecovery: an alert a page got by
// recovery reached it as if it had got it live, and /api/history says so:
// once, whether another page had it live or it was pending until then.
func TestHistoryCountsPagesReachedByRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		watcher bool // another page of the code stays connected
		want    int
	}{
		{name: "another page had them live", watcher: true, want: 2},
		{name: "they reached no page before", want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHerald(t, "--data", t.TempDir())
			code := "reached-by-recovery"
			var watcher *pagetest.Page
			if tc.watcher {
				watcher = pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true})
				watcher.WaitRegistered(t)
			}
			p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
			p.Connected(t, pageWait)
			p.WaitRegistered(t)
			fire(t, h.base, code, 0)
			expectAlerts(t, p, 0, 0, false)
			p.Leave()
			// Until herald sees the page go, a live alert counts it as reached.
			waitFor(t, "herald to see the page leave", func() bool { return clientsCount(t, h.base) == btoi(tc.watcher) })
			for n := 1; n <= 3; n++ {
				fire(t, h.base, code, n)
			}
			if watcher != nil {
				expectAlerts(t, watcher, 0, 3, false)
			}
			p.Return()
			if !p.Connected(t, pageWait) {
				t.Fatal("socket.recovered = false after coming back within the window")
			}
			expectAlerts(t, p, 1, 3, false)
			// One more live alert, counted after the recovery's.
			fire(t, h.base, code, 4)
			expectAlerts(t, p, 4, 4, false)
			waitFor(t, "the history to count the last alert", func() bool {
				es := history(t, h.base, code, 10).Entries
				return len(es) == 5 && es[len(es)-1].Reached == tc.want
			})
			for _, e := range history(t, h.base, code, 10).Entries {
				if e.Reached != tc.want {
					t.Errorf("entry %d reached %d pages, want %d", e.Offset, e.Reached, tc.want)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// clientTransports are the ways the official client connects: the native
// WebSocket path, long-polling, and its default, polling upgraded.
var clientTransports = [][]string{{"websocket"}, {"polling"}, nil}

func transportsName(transports []string) string {
	if transports == nil {
		return "client default"
	}
	return strings.Join(transports, ",")
}

// ackedIn is how many acks /api/history counts for code's newest alerts.
func ackedIn(t *testing.T, base, code string) int {
	t.Helper()
	acked := 0
	for _, e := range history(t, base, code, 10).Entries {
		acked += e.Acked
	}
	return acked
}

// TestRecoveryOfAPageThatAcks: socket.io-client keeps no offset for an
// event that carries an ack callback, so a page that acks with the
// official client alone (no notificationservice.js to track positions)
// comes back with its pid and no offset. What it acknowledged was shown:
// it gets what it missed, and not again what it acked, on every
// transport.
func TestRecoveryOfAPageThatAcks(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	for i, transports := range clientTransports {
		t.Run(transportsName(transports), func(t *testing.T) {
			code := fmt.Sprintf("acks-recover-%d", i)
			p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true, Transports: transports, Acks: true})
			p.Connected(t, pageWait)
			p.WaitRegistered(t)
			for n := 1; n <= 3; n++ {
				fire(t, h.base, code, n)
			}
			expectAlerts(t, p, 1, 3, false)
			waitFor(t, "herald to count the page's 3 acks", func() bool { return ackedIn(t, h.base, code) == 3 })
			p.Leave()
			fire(t, h.base, code, 4)
			fire(t, h.base, code, 5)
			p.Return()
			if !p.Connected(t, pageWait) {
				t.Fatal("socket.recovered = false after coming back within the window")
			}
			expectAlerts(t, p, 4, 5, false)
			fire(t, h.base, code, 6)
			expectAlerts(t, p, 6, 6, false)
		})
	}
}

// TestAcksOnEveryTransport: a page that asks for acks (auth.acks, as
// notificationservice.js does) gets each journaled alert with an ack id on
// the native WebSocket path and on the library path (long-polling, or
// polling upgraded), once, and its acks are counted in /api/history.
func TestAcksOnEveryTransport(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	for i, transports := range clientTransports {
		t.Run(transportsName(transports), func(t *testing.T) {
			code := fmt.Sprintf("acks-%d", i)
			p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true, Transports: transports, Acks: true})
			p.Connected(t, pageWait)
			p.WaitRegistered(t)
			for n := 1; n <= 3; n++ {
				fire(t, h.base, code, n)
				m := p.Next(t, pageWait)
				if m.Event != "DONATION" || !m.AckID {
					t.Fatalf("alert %d: event %s with ack id %v, want DONATION with an ack id", n, m.Event, m.AckID)
				}
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				acked := ackedIn(t, h.base, code)
				if acked == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("history counts %d acks, want 3: one per alert", acked)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestEmitOfANameNoPageTakes: a rule whose emit template yields a name
// Socket.IO keeps for itself ("disconnect") sends the alert under the
// event's own name instead. It used to be refused (503) after it was
// journaled, and the first page to register got it as pending, dropped
// its connection on it, recovered it and dropped again, in a loop.
func TestEmitOfANameNoPageTakes(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, rulesFile, "version: 1\nrules:\n  - name: named\n    when: source == \"trigger\"\n    emit: \"{{ name }}\"\n")
	h := startHerald(t, "--data", t.TempDir(), "--rules", rulesFile)
	const code = "reserved-name"
	a := do(t, "GET", h.base+"/notify?code="+code+"&event=donation&name=disconnect&n=1", nil, nil)
	if a.status != http.StatusOK {
		t.Fatalf("trigger emitting disconnect = %d %s, want 200 (sent under its own name)", a.status, a.body)
	}
	p := pagetest.Start(t, h.base, pagetest.Options{Code: code})
	p.WaitRegistered(t)
	expectAlerts(t, p, 1, 1, true)
	fire(t, h.base, code, 2) // name is empty: the event's own name too
	expectAlerts(t, p, 2, 2, false)
}
