package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/redistest"
)

// TestClusterOutboxSurvivesAKill: while Redis is away a node answers a
// trigger 200 and delivers to its own pages only. Killed with SIGKILL
// before Redis is back, and started again on the same port and --data,
// it journals that alert from its file, so the other node's page gets it;
// its own page, which had it live, recovers without it.
func TestClusterOutboxSurvivesAKill(t *testing.T) {
	srv := redistest.StartDurable(t) // the page's session outlives the outage
	nodeArgs := []string{"--redis", srv.URL(), "-p", freePort(t), "--data", t.TempDir()}
	a := startHerald(t, nodeArgs...)
	b := startNodes(t, srv, 1)[0]
	const code = "outbox-kill"
	here, there := pageOnEach(t, []*heraldProcess{a, b}, code)

	srv.Stop()
	waitLink(t, false, a, b)
	fire(t, a.base, code, 1)
	expectN(t, here, 1)
	ans := do(t, "GET", a.base+"/api/journal", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var st struct {
		Failing bool
		Outbox  struct {
			Waiting int
			OnDisk  bool `json:"on_disk"`
		}
	}
	if err := json.Unmarshal([]byte(ans.body), &st); err != nil || !st.Failing || st.Outbox.Waiting != 1 || !st.Outbox.OnDisk {
		t.Errorf("/api/journal while Redis is away = %s (%v); want failing, 1 waiting on disk", ans.body, err)
	}
	a.kill9(t)

	srv.Restart()
	waitLink(t, true, b)
	a = startHerald(t, nodeArgs...)
	expectN(t, there, 1)
	if !strings.Contains(a.logs.String(), "before it stopped, are journaled") {
		t.Errorf("the restarted node does not say it journals what it kept:\n%s", a.logs.String())
	}

	// The page on the killed node comes back to the restarted one, to its
	// session, without the alert it had live.
	if !here.Connected(t, pageWait) {
		t.Error("the page on the killed node did not recover its session")
	}
	waitUntil(t, "both pages listed again", func() bool { return clientsCount(t, b.base) == 2 })
	fire(t, b.base, code, 2)
	expectN(t, here, 2)
	expectN(t, there, 2)
}

// TestClusterPageMovingNodesDuringAnOutage: while Redis is away a page
// leaves node 0 after an alert it had live, and comes back through the
// balancer to node 1, which cannot look its session up and greets it as a
// new page. Once Redis is back node 0 journals the alert, late, for the
// other node's pages: the page that moved does not get it a second time.
func TestClusterPageMovingNodesDuringAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	const code = "moving"
	mover, stayer := pageOnEach(t, nodes, code)

	srv.Stop()
	waitLink(t, false, nodes...)
	fire(t, nodes[0].base, code, 1)
	expectN(t, mover, 1)
	mover.Leave()
	mover.ReturnTo(nodes[1].base)
	if mover.Connected(t, pageWait) {
		t.Fatal("the page recovered its session on a node that cannot reach Redis")
	}
	mover.WaitRegistered(t) // greeted as a new page, in its room

	srv.Restart()
	waitLink(t, true, nodes...)
	expectN(t, stayer, 1)
	fire(t, nodes[1].base, code, 2)
	expectN(t, mover, 2)
	expectN(t, stayer, 2)
}
