package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/journal/spool"
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
		State   string
		Outbox  struct {
			Waiting int
			OnDisk  bool `json:"on_disk"`
		}
	}
	if err := json.Unmarshal([]byte(ans.body), &st); err != nil || !st.Failing || st.State != "waiting" || st.Outbox.Waiting != 1 || !st.Outbox.OnDisk {
		t.Errorf("/api/journal while Redis is away = %s (%v); want failing, state waiting, 1 waiting on disk", ans.body, err)
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
	srv := redistest.StartDurable(t) // the history outlives the outage, as the page's offsets do
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
	// The page drops again and recovers the session node 1 gave it: the
	// alert it had live from node 0 is still not sent to it twice.
	mover.Leave()
	mover.Return()
	if !mover.Connected(t, pageWait) {
		t.Fatal("the page did not recover the session node 1 gave it")
	}
	fire(t, nodes[1].base, code, 2)
	expectN(t, mover, 2)
	expectN(t, stayer, 2)
}

// TestOpenOutboxSpool: where a cluster node keeps its outbox, and that a
// file it cannot have never stops it: the outbox stays in memory and the
// log says why.
func TestOpenOutboxSpool(t *testing.T) {
	dir := t.TempDir()
	held, _, err := spool.Open(filepath.Join(dir, "outbox-9001.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.Keep(herald.Delivery{EventID: "e1", Room: "r", Name: "DONATION", Time: time.Now()}, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		data   string
		port   int
		onDisk bool
		log    string
	}{
		{"its own file, named after the port", dir, 9000, true, ""},
		{"--data :memory:", memoryData, 9000, false, ""},
		{"a random port", dir, 0, false, "random port"},
		{"a file another herald holds", dir, 9001, false, "another herald holds its file"},
		{"--data is a file", aFile, 9000, false, "cannot be opened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.port == 9001 && runtime.GOOS == "windows" {
				t.Skip("the lock is per process on Windows")
			}
			var logs syncBuffer
			cfg := config{dataDir: tc.data, port: tc.port}
			sp, left := openOutboxSpool(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if sp != nil {
				defer sp.Close()
			}
			if (sp != nil) != tc.onDisk || len(left) != 0 {
				t.Errorf("on disk %v with %d left, want %v with none", sp != nil, len(left), tc.onDisk)
			}
			if tc.onDisk && sp.Path() != filepath.Join(dir, "outbox-9000.db") {
				t.Errorf("file %s, want outbox-9000.db in --data", sp.Path())
			}
			if !strings.Contains(logs.String(), tc.log) || tc.log == "" && strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log %q, want it to say %q", logs.String(), tc.log)
			}
		})
	}
	// What an earlier run left comes back, for the outbox to journal.
	held.Close()
	sp, left := openOutboxSpool(config{dataDir: dir, port: 9001}, slog.New(slog.DiscardHandler))
	defer sp.Close()
	if len(left) != 1 || left[0].Delivery.EventID != "e1" || left[0].ID == 0 {
		t.Errorf("left = %+v, want the one alert kept before", left)
	}
}

// TestClusterPageMovingNodesGetsWhatItsNewNodeSentAlone: while Redis is
// away, node 1 delivers an alert alone to its own page; then a page that
// left node 0, where it had another alert live, comes back through the
// balancer to node 1, which greets it as new. Once Redis is back each
// node journals what it delivered alone: the page that moved gets node
// 1's alert late (it was not there for it) and not node 0's again (it had
// that one live); node 1's page gets node 0's alert late and not its own
// again.
func TestClusterPageMovingNodesGetsWhatItsNewNodeSentAlone(t *testing.T) {
	srv := redistest.StartDurable(t)
	nodes := startNodes(t, srv, 2)
	const code = "moving-late"
	mover, stayer := pageOnEach(t, nodes, code)

	srv.Stop()
	waitLink(t, false, nodes...)
	fire(t, nodes[0].base, code, 1)
	expectN(t, mover, 1)
	mover.Leave()
	fire(t, nodes[1].base, code, 2)
	expectN(t, stayer, 2)
	mover.ReturnTo(nodes[1].base)
	if mover.Connected(t, pageWait) {
		t.Fatal("the page recovered its session on a node that cannot reach Redis")
	}
	mover.WaitRegistered(t)

	srv.Restart()
	waitLink(t, true, nodes...)
	expectN(t, mover, 2)
	expectN(t, stayer, 1)
	fire(t, nodes[1].base, code, 3)
	expectN(t, mover, 3)
	expectN(t, stayer, 3)
}
