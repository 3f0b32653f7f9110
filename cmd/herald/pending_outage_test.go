package main

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
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
