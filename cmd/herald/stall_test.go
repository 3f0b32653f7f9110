package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/redistest"
)

// TestClusterRedisStallJournalsOnce: Redis stalls (frozen, as a busy or
// stopped process is) rather than goes away. Node 0's append of an alert
// times out and its subscription's health check fails, so it delivers to
// its own page only and keeps the alert in its outbox. Redis then resumes
// and refuses to run the append it had been sent, past its caller's
// deadline (journal/redis proves the refusal itself); the outbox journals
// the alert, naming node 0's page as one that had it live, and publishes
// it to every node: each page gets it once, also node 0's page when it
// recovers from a position before that entry, on node 0 or on the other
// node, and the history lists it once. (Before Redis refused, it ran the
// held append, which published the alert without that name, and the
// outbox found it journaled: see router's outbox tests.)
func TestClusterRedisStallJournalsOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		recoOn int // the node node 0's page recovers on
	}{
		{"the page recovers on its node", 0},
		{"the page recovers on the other node", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testRedisStall(t, tc.recoOn)
		})
	}
}

func testRedisStall(t *testing.T, recoOn int) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	const code = "stall"
	here, there := pageOnEach(t, nodes, code)

	// A node under load holds several connections to Redis, and a stall
	// catches commands on them: the append below must find one (a new
	// connection waits for its handshake's answer, and never sends it).
	warmRedisConns(t, nodes[0].base)
	srv.Pause()
	thawed := false
	defer func() {
		if !thawed {
			srv.Resume()
		}
	}()
	waitLink(t, false, nodes...) // a ping without a pong: about 4 s
	// The append waits for its answer until the journal's timeout (2 s),
	// then the alert goes to node 0's page, and the sender is answered 200.
	fire(t, nodes[0].base, code, 1)
	expectN(t, here, 1)
	if w := outboxWaiting(t, nodes[0].base); w != 1 {
		t.Fatalf("node 0's outbox holds %d alerts while Redis is frozen, want 1", w)
	}

	srv.Resume()
	thawed = true
	waitLink(t, true, nodes...)
	waitUntil(t, "node 0's outbox to empty", func() bool { return outboxWaiting(t, nodes[0].base) == 0 })
	// The outbox journaled it: the append the stall held did not run.
	waitUntil(t, "node 0 to log its catch-up", func() bool { return strings.Contains(nodes[0].logs.String(), "journal back:") })
	if !strings.Contains(nodes[0].logs.String(), "journaled=1 dropped=0 already_journaled=0") {
		t.Errorf("node 0's outbox did not journal the alert itself:\n%s", nodes[0].logs.String())
	}
	// Node 0's page had n=1 live, without a position, before the entry the
	// stall held could say so: when it drops and recovers from the
	// position before that entry, it does not get n=1 again.
	here.Leave()
	waitUntil(t, "the page to leave", func() bool { return clientsCount(t, nodes[0].base) == 1 })
	here.ReturnTo(nodes[recoOn].base)
	if !here.Connected(t, pageWait) {
		t.Fatalf("node 0's page did not recover its session on node %d", recoOn)
	}
	fire(t, nodes[0].base, code, 2)
	expectN(t, here, 2)
	expectN(t, there, 1, 2)

	var ones int
	for _, e := range history(t, nodes[1].base, code, 20).Entries {
		if e.Payload["n"] == "1" {
			ones++
			if e.Reached == 0 {
				t.Errorf("the history's entry of n=1 reached no page: %+v (it would be handed out as pending)", e)
			}
		}
	}
	if ones != 1 {
		t.Errorf("the history lists n=1 %d times, want once:\n%+v", ones, history(t, nodes[1].base, code, 20).Entries)
	}
}

// warmRedisConns has a node run several Redis pipelines at once (GET
// /clients reads every node's listing in one), so that its client keeps
// that many connections, set up and idle, for what comes next.
func warmRedisConns(t *testing.T, base string) {
	t.Helper()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/clients", nil)
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// outboxWaiting is how many alerts a node's outbox holds (GET
// /api/journal).
func outboxWaiting(t *testing.T, base string) int {
	t.Helper()
	a := do(t, "GET", base+"/api/journal", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var st struct {
		Outbox *struct{ Waiting int }
	}
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || st.Outbox == nil {
		t.Fatalf("GET /api/journal = %d %s, want an outbox", a.status, a.body)
	}
	return st.Outbox.Waiting
}
