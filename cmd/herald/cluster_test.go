package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
)

// The cluster tests run real herald binaries on one real redis-server
// (internal/redistest) with real pages (the official socket.io-client,
// internal/pagetest).

// startNodes starts n herald nodes in cluster mode on srv.
func startNodes(t *testing.T, srv *redistest.Server, n int, args ...string) []*heraldProcess {
	t.Helper()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = srv.URL()
	}
	return startNodesAt(t, urls, args...)
}

// startNodesAt starts a herald node in cluster mode on each --redis URL.
func startNodesAt(t *testing.T, urls []string, args ...string) []*heraldProcess {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs real herald binaries")
	}
	nodes := make([]*heraldProcess, len(urls))
	for i, u := range urls {
		nodes[i] = startHerald(t, append([]string{"--redis", u}, args...)...)
	}
	return nodes
}

// nthArg decodes the payload's n of a received alert.
func payloadN(t *testing.T, m pagetest.Message) string {
	t.Helper()
	var data map[string]any
	if err := m.Decode(0, &data); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(data["n"])
}

// clientsCount is the number of registered pages GET /clients lists on a
// node. Pages connected but not yet registered are left out: the listing
// shows them before their room's presence counts them, and a test that
// waits for the listing must then be able to rely on /notify's count.
func clientsCount(t *testing.T, base string) int {
	t.Helper()
	a := do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var body struct{ Codes map[string][]json.RawMessage }
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &body) != nil {
		t.Fatalf("GET /clients = %d %s", a.status, a.body)
	}
	n := 0
	for code, pages := range body.Codes {
		if code != "" {
			n += len(pages)
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterCrossNode: three nodes, pages spread over them, triggers sent
// round-robin to all of them: every page gets every alert of its code
// exactly once and in order, and /notify's count and /clients cover every
// node. On each Redis topology --redis names: one server, a Redis Cluster
// of three masters (where keys of different slots in one script are
// refused) reached through a seed list or one seed, and a Sentinel.
func TestClusterCrossNode(t *testing.T) {
	for _, topo := range []struct {
		name string
		urls func(t *testing.T) []string
	}{
		{name: "one redis-server", urls: func(t *testing.T) []string {
			u := redistest.Start(t).URL()
			return []string{u, u, u}
		}},
		{name: "Redis Cluster of three masters", urls: func(t *testing.T) []string {
			c := redistest.StartCluster(t, 3)
			return []string{c.URL(), c.SeedURL(1), c.SeedURL(2)}
		}},
		{name: "Sentinel", urls: func(t *testing.T) []string {
			u := redistest.StartSentinel(t, redistest.Start(t)).URL()
			return []string{u, u, u}
		}},
	} {
		t.Run(topo.name, func(t *testing.T) { crossNode(t, startNodesAt(t, topo.urls(t))) })
	}
}

func crossNode(t *testing.T, nodes []*heraldProcess) {
	codes := []string{"crossa", "crossb"}
	type pageOf struct {
		code string
		p    *pagetest.Page
	}
	var pages []pageOf
	for i, n := range nodes {
		for _, code := range codes {
			transports := []string{"websocket"}
			if i == 1 {
				transports = []string{"polling"}
			}
			p := pagetest.Start(t, n.base, pagetest.Options{Code: code, Transports: transports})
			p.WaitRegistered(t)
			pages = append(pages, pageOf{code: code, p: p})
		}
	}
	waitUntil(t, "every node to list all six pages", func() bool {
		return clientsCount(t, nodes[0].base) == 6 && clientsCount(t, nodes[2].base) == 6
	})
	const perCode = 30
	for i := range perCode {
		for _, code := range codes {
			n := nodes[i%3]
			a := do(t, "GET", fmt.Sprintf("%s/notify?code=%s&event=follow&n=%d", n.base, code, i), nil, nil)
			if want := `{"success":1,"count":3,"msg":"Broadcast event to 3 clients"}`; a.body != want {
				t.Fatalf("notify on node %d = %d %s, want %s", i%3, a.status, a.body, want)
			}
		}
	}
	for _, pg := range pages {
		var got []string
		for range perCode {
			got = append(got, payloadN(t, pg.p.Expect(t, "FOLLOW", 15*time.Second)))
		}
		want := make([]string, perCode)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		if !slices.Equal(got, want) {
			t.Errorf("page of %s got %v, want 0..%d in order", pg.code, got, perCode-1)
		}
	}
	// Nothing more arrives (no duplicate).
	a := do(t, "GET", nodes[0].base+"/notify?code=crossa&event=end&n=end", nil, nil)
	if a.status != http.StatusOK {
		t.Fatal(a.body)
	}
	for _, pg := range pages {
		if pg.code != "crossa" {
			continue
		}
		if m := pg.p.Next(t, 15*time.Second); m.Event != "END" {
			t.Errorf("page got %s %s after the last alert, want END (a duplicate?)", m.Event, payloadN(t, m))
		}
	}
}

// TestClusterRedisUnreachable: asking for cluster mode with Redis down is
// a clear error and exit, not a node running alone.
func TestClusterRedisUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a real herald")
	}
	srv := redistest.Start(t)
	srv.Stop()
	bin, err := heraldBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-p", "0", "--redis", "redis://:secretpw@"+srv.Addr()+"/0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errAs(err, &exit) || exit.ExitCode() != exitFailure {
		t.Fatalf("herald with Redis down: %v, want exit %d\n%s", err, exitFailure, out)
	}
	if !strings.Contains(string(out), "cluster mode: Redis at redis://:xxxxx@"+srv.Addr()) || !strings.Contains(string(out), "unreachable") {
		t.Errorf("output does not say Redis is unreachable (with the password hidden):\n%s", out)
	}
	if strings.Contains(string(out), "secretpw") {
		t.Errorf("the Redis password reached the output:\n%s", out)
	}
}

// TestClusterDedupeAcrossNodes: a Ko-fi retry that lands on another node
// is recognised, and the page gets the donation once.
func TestClusterDedupeAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	rules := `version: 1
ingress:
  kofi: {type: kofi, path: /webhooks/kofi, verification_token: tok}
rules:
  - {name: donation, when: 'source == "kofi"', emit: DONATION, to: kofiroom}
`
	if err := os.WriteFile(rulesFile, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, srv, 2, "--rules", rulesFile)
	page := pagetest.Start(t, nodes[1].base, pagetest.Options{Code: "kofiroom", Transports: []string{"websocket"}})
	page.WaitRegistered(t)
	body := url.Values{"data": {`{"verification_token":"tok","message_id":"m-1","type":"Donation","from_name":"Ada","amount":"5.00","n":"1"}`}}.Encode()
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	first := do(t, "POST", nodes[0].base+"/webhooks/kofi", strings.NewReader(body), form)
	retry := do(t, "POST", nodes[1].base+"/webhooks/kofi", strings.NewReader(body), form)
	if first.status != http.StatusOK || strings.Contains(first.body, "duplicate") {
		t.Fatalf("first delivery = %d %s, want accepted", first.status, first.body)
	}
	if retry.status != http.StatusOK || !strings.Contains(retry.body, `"duplicate":true`) {
		t.Fatalf("retry on the other node = %d %s, want a recognised duplicate", retry.status, retry.body)
	}
	page.Expect(t, "DONATION", 15*time.Second)
	do(t, "GET", nodes[0].base+"/notify?code=kofiroom&event=end", nil, nil)
	if m := page.Next(t, 15*time.Second); m.Event != "END" {
		t.Errorf("page got %s after the donation, want END (the retry was delivered?)", m.Event)
	}
}

// clusterState is GET /api/cluster.
func clusterState(t *testing.T, base string) (st clusterStatus, ok bool) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// waitLink waits until every node reports its Redis subscription up
// (connected) or lost.
func waitLink(t *testing.T, connected bool, nodes ...*heraldProcess) {
	t.Helper()
	what := "the nodes to report Redis lost"
	if connected {
		what = "the nodes to reconnect to Redis"
	}
	waitUntil(t, what, func() bool {
		for _, n := range nodes {
			if st, ok := clusterState(t, n.base); !ok || st.Broker.Connected != connected {
				return false
			}
		}
		return true
	})
}

// TestClusterLeaseTakeover: one node holds the singleton lease; when it
// is killed with SIGKILL, another takes over within seconds.
func TestClusterLeaseTakeover(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	holder := -1
	waitUntil(t, "one lease holder", func() bool {
		n := 0
		for i, node := range nodes {
			if st, ok := clusterState(t, node.base); ok && st.LeaseHolder {
				n++
				holder = i
			}
		}
		return n == 1
	})
	other := nodes[1-holder]
	nodes[holder].kill9(t)
	start := time.Now()
	waitUntil(t, "the other node to take the lease", func() bool {
		st, ok := clusterState(t, other.base)
		return ok && st.LeaseHolder
	})
	t.Logf("lease taken over %v after SIGKILL", time.Since(start).Round(100*time.Millisecond))
}

// TestClusterRedisRestart: Redis stops mid-traffic and comes back. Each
// node keeps delivering to its own pages, shows the outage in
// /api/cluster, reconnects, sends the other nodes what it delivered alone,
// and cross-node delivery resumes; no page gets an alert twice.
func TestClusterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	pages := make([]*pagetest.Page, 2)
	for i, n := range nodes {
		pages[i] = pagetest.Start(t, n.base, pagetest.Options{Code: "restart", Transports: []string{"websocket"}})
		pages[i].WaitRegistered(t)
	}
	send := func(node int, n string) {
		t.Helper()
		a := do(t, "GET", fmt.Sprintf("%s/notify?code=restart&event=tick&n=%s", nodes[node].base, n), nil, nil)
		if a.status != http.StatusOK {
			t.Fatalf("notify on node %d = %d %s", node, a.status, a.body)
		}
	}
	expect := func(p *pagetest.Page, want ...string) {
		t.Helper()
		for _, w := range want {
			if got := payloadN(t, p.Expect(t, "TICK", 15*time.Second)); got != w {
				t.Fatalf("page got n=%s, want %s", got, w)
			}
		}
	}
	send(0, "before")
	expect(pages[0], "before")
	expect(pages[1], "before")

	srv.Stop()
	waitLink(t, false, nodes...)
	// Each node's own pages still get what that node receives.
	send(0, "down-0")
	send(1, "down-1")
	expect(pages[0], "down-0")
	expect(pages[1], "down-1")

	srv.Restart()
	waitLink(t, true, nodes...)
	// What each node delivered alone reaches the other node's page now.
	expect(pages[0], "down-1")
	expect(pages[1], "down-0")
	for i := range 5 {
		send(i%2, fmt.Sprint("after-", i))
	}
	for _, p := range pages {
		expect(p, "after-0", "after-1", "after-2", "after-3", "after-4")
	}
	send(0, "end")
	for _, p := range pages {
		expect(p, "end")
	}
	if st, _ := clusterState(t, nodes[0].base); st.Broker.Disconnects != 1 || st.Broker.LocalOnly == 0 {
		t.Errorf("node 0 state after the outage = %+v, want 1 disconnect and local-only deliveries", st.Broker)
	}
}

// TestClusterNodeKilled: a node is killed with SIGKILL; its page
// reconnects (through the load balancer) to another node and alerts reach
// it there.
func TestClusterNodeKilled(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	lb := newBalancer(t, nodes[0].base, nodes[1].base)
	page := pagetest.Start(t, lb, pagetest.Options{Code: "killed", Transports: []string{"websocket"}})
	page.WaitRegistered(t)
	do(t, "GET", nodes[1].base+"/notify?code=killed&event=tick&n=1", nil, nil)
	if got := payloadN(t, page.Expect(t, "TICK", 15*time.Second)); got != "1" {
		t.Fatalf("page got n=%s, want 1", got)
	}
	nodes[0].kill9(t)
	// The page reconnects through the balancer, now to node 1, and
	// registers again (WELCOME → REGISTER, as the official client does).
	page.Welcome(t, 30*time.Second)
	waitUntil(t, "the page to be listed on node 1", func() bool { return clientsCount(t, nodes[1].base) == 1 })
	do(t, "GET", nodes[1].base+"/notify?code=killed&event=tick&n=2", nil, nil)
	if got := payloadN(t, page.Expect(t, "TICK", 15*time.Second)); got != "2" {
		t.Fatalf("page got n=%s after its node died, want 2", got)
	}
}

// errAs is errors.As for a target type, kept local to read well above.
func errAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// newBalancer is the load balancer in front of a cluster, as in
// examples/cluster: each request goes to the first backend that accepts a
// connection, so when a node dies its pages reconnect to the next one.
// WebSockets pass through (httputil.ReverseProxy handles the Upgrade).
func newBalancer(t *testing.T, backends ...string) string {
	t.Helper()
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			for _, u := range targets {
				if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
					c.Close()
					r.SetURL(u)
					return
				}
			}
			r.SetURL(targets[0])
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestClusterRecoveryOnAnotherNode: a page connected to node 0 goes away;
// node 0 is killed with SIGKILL; five alerts fire on node 1 meanwhile. The
// page comes back through the balancer, now to node 1, with its pid and
// offset: it is recovered (socket.recovered, the same socket.id) and gets
// the five, in order, once, before the next live alert.
func TestClusterRecoveryOnAnotherNode(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	lb := newBalancer(t, nodes[0].base, nodes[1].base)
	page := pagetest.Start(t, lb, pagetest.Options{Code: "recov", Transports: []string{"websocket"}})
	page.Connected(t, 15*time.Second)
	page.WaitRegistered(t)
	send := func(n int) {
		t.Helper()
		if a := do(t, "GET", fmt.Sprintf("%s/notify?code=recov&event=tick&n=%d", nodes[1].base, n), nil, nil); a.status != http.StatusOK {
			t.Fatalf("notify = %d %s", a.status, a.body)
		}
	}
	send(1)
	if got := payloadN(t, page.Expect(t, "TICK", 15*time.Second)); got != "1" {
		t.Fatalf("page got n=%s, want 1", got)
	}
	id := page.ID()
	page.Leave()
	nodes[0].kill9(t)
	for n := 2; n <= 6; n++ {
		send(n)
	}
	page.Return()
	if !page.Connected(t, 30*time.Second) {
		t.Error("socket.recovered = false on node 1, want true (its session is in Redis)")
	}
	if page.ID() != id {
		t.Errorf("socket.id = %q on node 1, %q on node 0; want it kept", page.ID(), id)
	}
	send(7)
	for want := 2; want <= 7; want++ {
		if got := payloadN(t, page.Expect(t, "TICK", 15*time.Second)); got != fmt.Sprint(want) {
			t.Fatalf("page got n=%s, want %d (in order, once)", got, want)
		}
	}
}

// TestClusterTriggersForAPageAwayCostNoMiss: the miss budget (on, as by
// default) is for guessers. Triggers on one node for a code whose page
// was on another node lately cost no miss: while the page is away (they
// wait in the journal and it recovers them), and while Redis is down and
// no node can see the others' pages.
func TestClusterTriggersForAPageAwayCostNoMiss(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 2)
	const code = "away-on-another-node"
	page := pagetest.Start(t, nodes[1].base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
	page.Connected(t, pageWait)
	page.WaitRegistered(t)
	// Node 0 counts the page once node 1's presence record shows it.
	waitUntil(t, "node 0 to see the page", func() bool { return clientsCount(t, nodes[0].base) == 1 })
	fire(t, nodes[0].base, code, 0)
	expectAlerts(t, page, 0, 0, false)

	page.Leave()
	waitUntil(t, "the page to leave the cluster's listing", func() bool { return clientsCount(t, nodes[0].base) == 0 })
	many := 2 * defaultRateMisses.Burst
	for n := 1; n <= many; n++ {
		fire(t, nodes[0].base, code, n)
	}
	page.Return()
	if !page.Connected(t, pageWait) {
		t.Fatal("the page did not recover its session")
	}
	expectAlerts(t, page, 1, many, false)

	srv.Stop()
	waitLink(t, false, nodes[0])
	for n := many + 1; n <= 2*many; n++ {
		fire(t, nodes[0].base, code, n)
	}
}

// TestClusterRedisOutageReachesEveryNode: alerts sent to one node while
// Redis is away reach that node's pages at once, and the other nodes'
// pages once Redis is back, in order; the pages that had them live never
// get them again: not from the channel, nor when they recover (with
// Redis's data kept, the journal knows them; restarted empty, it is a new
// history, in which the page's node saved its session again: it recovers
// that session, from the new history). An alert for a code with no page
// waits for the first page.
func TestClusterRedisOutageReachesEveryNode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		start     func(testing.TB) *redistest.Server
		recovered bool // the page that left comes back to its session
	}{
		{"Redis restarted with its data", redistest.StartDurable, true},
		{"Redis restarted empty", redistest.Start, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			nodes := startNodes(t, srv, 2, "--metrics")
			const code = "outage"
			here, there := pageOnEach(t, nodes, code)

			srv.Stop()
			waitLink(t, false, nodes...)
			listingWhileRedisIsAway(t, nodes[0].base, here.ID())
			fire(t, nodes[0].base, code, 1)
			fire(t, nodes[0].base, code, 2)
			expectN(t, here, 1, 2)
			// A code with no page anywhere: its alert must wait for one.
			fire(t, nodes[0].base, "outage-nobody", 9)

			srv.Restart()
			expectN(t, there, 1, 2)
			late := pagetest.Start(t, nodes[1].base, pagetest.Options{Code: "outage-nobody", Handshake: true, Transports: []string{"websocket"}})
			late.Connected(t, pageWait)
			expectN(t, late, 9)

			here.Leave()
			waitUntil(t, "the page to leave", func() bool { return clientsCount(t, nodes[0].base) == 2 })
			here.Return()
			if got := here.Connected(t, pageWait); got != tc.recovered {
				t.Errorf("socket.recovered = %v, want %v", got, tc.recovered)
			}
			if !tc.recovered {
				here.WaitRegistered(t)
			}
			waitUntil(t, "the three pages listed again", func() bool { return clientsCount(t, nodes[1].base) == 3 })
			fire(t, nodes[1].base, code, 3)
			expectN(t, here, 3)
			expectN(t, there, 3)

			// The outage, as node 0's metrics show it.
			families := scrape(t, nodes[0].base)
			for _, m := range []struct {
				name string
				want float64
			}{
				{"herald_cluster_connected", 1},
				{"herald_cluster_disconnects_total", 1},
				{"herald_cluster_local_only_total", 3},
				{"herald_cluster_outbox_waiting", 0},
				{"herald_cluster_outbox_journaled_total", 3},
				{"herald_cluster_outbox_dropped_total", 0},
			} {
				if got, ok := value(families[m.name], nil); !ok || got != m.want {
					t.Errorf("node 0's %s = %v (present %v), want %v", m.name, got, ok, m.want)
				}
			}
		})
	}
}

// listingWhileRedisIsAway checks GET /clients on a node that cannot reach
// Redis: 503 (not the whole answer), with the node's own page, marked
// partial.
func listingWhileRedisIsAway(t *testing.T, base, ownPage string) {
	t.Helper()
	a := do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var got struct {
		Partial bool   `json:"partial"`
		Error   string `json:"error"`
		Count   int    `json:"count"`
		Clients []struct {
			ID string `json:"id"`
		} `json:"clients"`
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != http.StatusServiceUnavailable {
		t.Fatalf("GET /clients with Redis away = %d %s (%v), want 503 and JSON", a.status, a.body, err)
	}
	if !got.Partial || !strings.Contains(got.Error, "this node's pages only") || got.Count != 1 || len(got.Clients) != 1 || got.Clients[0].ID != ownPage {
		t.Errorf("GET /clients with Redis away = %s, want partial, saying so, with the node's one page %q", a.body, ownPage)
	}
}

// pageOnEach connects a page of code to each of two nodes and checks
// that an alert sent to node 0 (n=0) reaches both.
func pageOnEach(t *testing.T, nodes []*heraldProcess, code string) (here, there *pagetest.Page) {
	t.Helper()
	opts := pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}}
	here = pagetest.Start(t, nodes[0].base, opts)
	there = pagetest.Start(t, nodes[1].base, opts)
	for _, p := range []*pagetest.Page{here, there} {
		p.Connected(t, pageWait)
		p.WaitRegistered(t)
	}
	waitUntil(t, "node 0 to count both pages", func() bool { return clientsCount(t, nodes[0].base) == 2 })
	fire(t, nodes[0].base, code, 0)
	expectN(t, here, 0)
	expectN(t, there, 0)
	return here, there
}

// expectN reads the page's next events and checks they are the DONATION
// alerts ns, in order (with or without a position: alerts a node delivered
// while Redis was away have none).
func expectN(t *testing.T, p *pagetest.Page, ns ...int) {
	t.Helper()
	for _, n := range ns {
		m := p.Next(t, pageWait)
		var payload struct {
			N string `json:"n"`
		}
		if m.Event != "DONATION" || m.Decode(0, &payload) != nil || payload.N != fmt.Sprint(n) {
			t.Fatalf("page got %s %s, want DONATION n=%d (every alert once, in order)", m.Event, m.Args, n)
		}
	}
}
