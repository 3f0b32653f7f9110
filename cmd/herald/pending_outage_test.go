package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/internal/rediswire"
)

// expectDonation reads the page's next event and checks it is DONATION n,
// replayed (meta) or not, with a position (the last argument) or not.
func expectDonation(t *testing.T, p *pagetest.Page, n int, replayed, positioned bool) {
	t.Helper()
	m := p.Next(t, pageWait)
	var payload struct {
		N string `json:"n"`
	}
	var meta struct {
		Replayed bool `json:"replayed"`
	}
	if m.Event != "DONATION" || m.Decode(0, &payload) != nil || m.Decode(1, &meta) != nil || payload.N != fmt.Sprint(n) {
		t.Fatalf("page got %s %s, want DONATION n=%d (every alert once, in order)", m.Event, m.Args, n)
	}
	if meta.Replayed != replayed || (len(m.Args) == 3) != positioned {
		t.Fatalf("alert n=%d: replayed %v with %d arguments, want replayed %v, position %v", n, meta.Replayed, len(m.Args), replayed, positioned)
	}
}

// TestClusterPendingForAPageThatRegisteredDuringAnOutage: an alert fires
// for a code with no page (it is pending: OBS was closed). Redis goes
// away, and the page registers meanwhile: its node cannot claim the
// pending alert then. Once Redis is back the page gets it, once, marked
// replayed, without a position (it must not move the page's offset back);
// a page that registers next does not get it too; the live alerts after
// it arrive once, in order, and the page's recovery replays nothing it
// has.
func TestClusterPendingForAPageThatRegisteredDuringAnOutage(t *testing.T) {
	srv := redistest.StartDurable(t) // the pending alert outlives the outage
	nodes := startNodes(t, srv, 2)
	const code = "pending-outage"
	fire(t, nodes[1].base, code, 1)

	srv.Stop()
	waitLink(t, false, nodes...)
	page := pagetest.Start(t, nodes[0].base, pagetest.Options{Code: code, Transports: []string{"websocket"}})
	page.Connected(t, pageWait)
	page.WaitRegistered(t)

	srv.Restart()
	waitLink(t, true, nodes...)
	expectDonation(t, page, 1, true, false)
	fire(t, nodes[1].base, code, 2)
	expectDonation(t, page, 2, false, true)

	next := pagetest.Start(t, nodes[1].base, pagetest.Options{Code: code, Transports: []string{"websocket"}})
	next.WaitRegistered(t)
	waitUntil(t, "node 1 to count both pages", func() bool { return clientsCount(t, nodes[1].base) == 2 })
	fire(t, nodes[1].base, code, 3)
	expectDonation(t, page, 3, false, true)
	expectDonation(t, next, 3, false, true) // and not 1 before it

	page.Leave()
	page.Return()
	if !page.Connected(t, pageWait) {
		t.Error("the page did not recover its session")
	}
	fire(t, nodes[0].base, code, 4)
	expectDonation(t, page, 4, false, true)
	expectDonation(t, next, 4, false, true)
}

// TestClusterPendingGoesToOnePageOfTwoNodes: a pending alert, and two
// pages of its code that register on two nodes while Redis is away. Once
// it is back both nodes claim it for their page within the same second;
// one page gets it, the other does not get it too. (Each node claimed
// the alerts no page had reached, and then marked them, in two steps:
// both pages got it.)
func TestClusterPendingGoesToOnePageOfTwoNodes(t *testing.T) {
	srv := redistest.StartDurable(t)
	nodes := startNodes(t, srv, 2)
	const code = "pending-twice"
	fire(t, nodes[0].base, code, 1)

	srv.Stop()
	waitLink(t, false, nodes...)
	var pages []*pagetest.Page
	for _, n := range nodes { // at the same moment: the nodes then retry their owed page together
		pages = append(pages, pagetest.Start(t, n.base, pagetest.Options{Code: code, Transports: []string{"websocket"}}))
	}
	for _, p := range pages {
		p.Connected(t, pageWait)
		p.WaitRegistered(t)
	}
	srv.Restart()
	waitLink(t, true, nodes...)
	// Both nodes try their owed page every second: give both the time to.
	time.Sleep(3 * time.Second)
	fire(t, nodes[0].base, code, 2)
	got := 0
	for _, p := range pages {
		m := p.Next(t, pageWait)
		var payload struct {
			N string `json:"n"`
		}
		if m.Event != "DONATION" || m.Decode(0, &payload) != nil {
			t.Fatalf("page got %s %s, want a DONATION", m.Event, m.Args)
		}
		if payload.N == "1" {
			got++
			expectDonation(t, p, 2, false, true)
		} else if payload.N != "2" {
			t.Fatalf("page got DONATION n=%s, want 1 (pending) or 2 (live)", payload.N)
		}
	}
	if got != 1 {
		t.Errorf("%d pages got the pending alert, want exactly one", got)
	}
}

// TestClusterSessionsSavedAgainAfterRedisLostThem: Redis restarts empty
// under pages connected to node 0, and so loses their sessions. Node 0
// saves them again as soon as it sees the new history, not a third of the
// recovery window later: when node 0 is then killed, its pages recover
// on node 1 and get what fired while they moved, once, in order. One
// page holds a position of the lost history, the other one of the new.
func TestClusterSessionsSavedAgainAfterRedisLostThem(t *testing.T) {
	srv := redistest.Start(t) // no persistence: a restart comes back empty
	nodes := startNodes(t, srv, 2)
	opts := func(code string) pagetest.Options {
		return pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}}
	}
	old := pagetest.Start(t, nodes[0].base, opts("lost-old"))
	fresh := pagetest.Start(t, nodes[0].base, opts("lost-new"))
	for _, p := range []*pagetest.Page{old, fresh} {
		p.Connected(t, pageWait)
		p.WaitRegistered(t)
	}
	waitUntil(t, "node 1 to count both pages", func() bool { return clientsCount(t, nodes[1].base) == 2 })
	fire(t, nodes[1].base, "lost-old", 1)
	fire(t, nodes[1].base, "lost-new", 1)
	expectDonation(t, old, 1, false, true)
	expectDonation(t, fresh, 1, false, true)

	srv.Stop()
	waitLink(t, false, nodes...)
	srv.Restart()
	waitLink(t, true, nodes...)
	fire(t, nodes[1].base, "lost-new", 2) // a position of the new history
	expectDonation(t, fresh, 2, false, true)
	// The sessions are saved again within seconds (the epoch is checked
	// every second); the periodic refresh would take 3m20s.
	rdb := srv.Client()
	waitUntil(t, "the sessions to be saved again", func() bool {
		keys, err := rdb.Keys(t.Context(), rediswire.DefaultPrefix+"s:*").Result()
		return err == nil && len(keys) >= 2
	})

	nodes[0].kill9(t)
	for n := 2; n <= 4; n++ {
		fire(t, nodes[1].base, "lost-old", n)
	}
	fire(t, nodes[1].base, "lost-new", 3)
	old.ReturnTo(nodes[1].base)
	fresh.ReturnTo(nodes[1].base)
	for _, p := range []*pagetest.Page{old, fresh} {
		if !p.Connected(t, pageWait) {
			t.Fatal("a page of the killed node did not recover its session on node 1")
		}
	}
	fire(t, nodes[1].base, "lost-old", 5)
	fire(t, nodes[1].base, "lost-new", 4)
	for n := 2; n <= 5; n++ {
		expectDonation(t, old, n, false, true)
	}
	for n := 3; n <= 4; n++ {
		expectDonation(t, fresh, n, false, true)
	}
}
