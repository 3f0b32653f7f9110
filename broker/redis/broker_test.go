package redis_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	rb "github.com/heraldhq/herald/broker/redis"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/internal/rediswire"
	"github.com/heraldhq/herald/journal"
	rj "github.com/heraldhq/herald/journal/redis"
)

// recorder is a fake of our own Subscriber: a node's pages, recording
// what they were handed.
type recorder struct {
	mu      sync.Mutex
	got     []herald.Delivery
	pages   map[string]int
	batches int // DeliverAll calls
	biggest int // most deliveries in one DeliverAll
	// hold, while a test holds it, keeps the node's pages busy: nothing
	// is handed over, as when a node falls behind.
	hold sync.Mutex
}

func (r *recorder) Deliver(_ context.Context, d herald.Delivery) (int, error) {
	r.hold.Lock()
	r.hold.Unlock() // a gate: it only waits while a test holds it
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, d)
	return r.pages[d.Room], nil
}

// DeliverAll is the batch capability egress/socketio's Sink has too: the
// broker hands over what piled up on the channel in one call.
func (r *recorder) DeliverAll(_ context.Context, ds []herald.Delivery) ([]int, error) {
	r.hold.Lock()
	r.hold.Unlock() // a gate: it only waits while a test holds it
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ds...)
	r.batches++
	r.biggest = max(r.biggest, len(ds))
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = r.pages[d.Room]
	}
	return out, nil
}

func (r *recorder) rooms() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.pages {
		out[k] = v
	}
	return out
}

func (r *recorder) setPages(room string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pages[room] = n
}

func (r *recorder) all() []herald.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// clusterNode is one herald node: its client, journal, broker and pages.
type clusterNode struct {
	name  string
	c     *goredis.Client
	j     *rj.Store
	b     *rb.Broker
	pages *recorder
}

// publish does what the router does in cluster mode: append, then
// publish with the offset (the journal's script carried it already).
func (n *clusterNode) publish(ctx context.Context, d herald.Delivery) (int, error) {
	if n.j != nil {
		e, err := n.j.Append(ctx, d)
		if err == nil {
			d.Offset = e.Offset
		}
	}
	return n.b.Publish(ctx, d)
}

type nodeOpts struct {
	journal bool
	counts  bool // the journal's append script counts pages (as cmd/herald wires it)
	exact   bool // LocalPages set: this node counted live
	poll    time.Duration
	quiet   bool // no log (benchmarks)
	pages   map[string]int
	ttl     time.Duration
	// reads, when set, is what the broker reads the journal through.
	reads func(*rj.Store) journal.Journal
	// user, when set, is the ACL user the node connects as (its name is
	// its password): a test can then shut the node out of Redis alone.
	user string
	// patience, when set, is how long a re-sync retries a failing journal.
	patience time.Duration
}

func startNode(t testing.TB, srv *redistest.Server, name string, o nodeOpts) *clusterNode {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: 1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, Username: o.user, Password: o.user})
	t.Cleanup(func() { _ = c.Close() })
	n := &clusterNode{name: name, c: c, pages: &recorder{pages: map[string]int{}}}
	for k, v := range o.pages {
		n.pages.pages[k] = v
	}
	logger := testLog(t, name)
	if o.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := rb.Options{NodeID: name, Log: logger, Rooms: n.pages.rooms, PresenceTTL: o.ttl, PresenceInterval: cmp.Or(o.poll, 20*time.Millisecond),
		Listing: func() []byte { return []byte(`[{"node":"` + name + `"}]`) }}
	if o.exact {
		opts.LocalPages = func(room string) int { return n.pages.rooms()[room] }
	}
	if o.journal {
		var counts *rediswire.Counts
		if o.counts {
			counts = rediswire.NewCounts(name)
			opts.Counts = counts
		}
		j, err := rj.Open(t.Context(), c, rj.Options{Publish: true, CheckInterval: 100 * time.Millisecond,
			Retention: journal.Retention{MaxEntries: 10_000}, Counts: counts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = j.Close() })
		n.j = j
		opts.Journal, opts.JournalPublishes = j, true
		if o.reads != nil {
			opts.Journal = o.reads(j)
		}
	}
	n.b = rb.New(c, opts)
	if o.patience > 0 {
		rb.SetResyncPatience(n.b, o.patience)
	}
	n.b.Subscribe(n.pages)
	if err := n.b.Start(t.Context()); err != nil {
		t.Fatalf("node %s: Start: %v", name, err)
	}
	t.Cleanup(func() { _ = n.b.Close(context.Background()) })
	return n
}

func delivery(room string, i int) herald.Delivery {
	return herald.Delivery{EventID: fmt.Sprintf("ev-%d", i), Source: "trigger", Room: room, Name: "FOLLOW",
		Payload: map[string]any{"n": float64(i)}, Time: time.Now().UTC()}
}

// waitFor polls cond; the deadline only fires when something is broken.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// received returns the payload numbers node n's pages got in room.
func received(n *clusterNode, room string) []int {
	var out []int
	for _, d := range n.pages.all() {
		if d.Room == room {
			out = append(out, int(d.Payload["n"].(float64)))
		}
	}
	return out
}

// TestCrossNode: deliveries published round-robin on three nodes reach
// every node once, in the same order everywhere.
func TestCrossNode(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*clusterNode{startNode(t, srv, "a", nodeOpts{}), startNode(t, srv, "b", nodeOpts{}), startNode(t, srv, "c", nodeOpts{})}
	const total = 60
	for i := range total {
		if _, err := nodes[i%3].publish(t.Context(), delivery("room", i)); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]int, total)
	for i := range want {
		want[i] = i
	}
	for _, n := range nodes {
		waitFor(t, "node "+n.name+" to receive every delivery", func() bool { return len(received(n, "room")) >= total })
		if got := received(n, "room"); !slices.Equal(got, want) {
			t.Errorf("node %s received %v, want %v", n.name, got, want)
		}
	}
	st := nodes[0].b.State()
	if !st.Connected || st.Published != total/3 || st.RoundTrips == 0 || st.RoundTrips > st.Published {
		t.Errorf("State = %+v, want connected, %d published in at most as many round trips", st, total/3)
	}
}

// TestJournaledOrder: three nodes append to one room concurrently; every
// node's pages receive every offset exactly once and in offset order
// (the append script publishes, so no node overtakes another).
func TestJournaledOrder(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*clusterNode{startNode(t, srv, "a", nodeOpts{journal: true}), startNode(t, srv, "b", nodeOpts{journal: true}),
		startNode(t, srv, "c", nodeOpts{journal: true})}
	const perWorker, workers = 20, 3
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					if _, err := n.publish(t.Context(), delivery("room", i+100*w)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	total := len(nodes) * workers * perWorker
	for _, n := range nodes {
		waitFor(t, "node "+n.name+" to receive every delivery", func() bool { return len(n.pages.all()) >= total })
		got := n.pages.all()
		if len(got) != total {
			t.Errorf("node %s received %d deliveries, want %d", n.name, len(got), total)
		}
		for i, d := range got {
			if d.Offset != uint64(i+1) || d.Replayed {
				t.Fatalf("node %s: delivery %d has offset %d (replayed %v), want %d: out of order or duplicated",
					n.name, i, d.Offset, d.Replayed, i+1)
			}
		}
	}
}

// TestBehindCatchesUp: a node whose pages are busy while deliveries keep
// coming hands over what piled up at once when they are free again, in
// offset order, each delivery once.
func TestBehindCatchesUp(t *testing.T) {
	srv := redistest.Start(t)
	a := startNode(t, srv, "a", nodeOpts{journal: true, counts: true, pages: map[string]int{"r": 1}})
	b := startNode(t, srv, "b", nodeOpts{journal: true, counts: true, pages: map[string]int{"r": 1}})
	const total = 100
	b.pages.hold.Lock()
	for i := 1; i <= total; i++ {
		if _, err := a.publish(t.Context(), delivery("r", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a to receive every delivery", func() bool { return len(a.pages.all()) == total })
	b.pages.hold.Unlock()
	waitFor(t, "b to catch up", func() bool { return len(b.pages.all()) >= total })
	time.Sleep(50 * time.Millisecond) // a duplicate would show by now
	got := b.pages.all()
	if len(got) != total {
		t.Fatalf("b received %d deliveries, want %d", len(got), total)
	}
	for i, d := range got {
		if d.Offset != uint64(i+1) {
			t.Fatalf("b's delivery %d has offset %d, want %d (in order, once)", i, d.Offset, i+1)
		}
	}
	b.pages.mu.Lock()
	biggest := b.pages.biggest
	b.pages.mu.Unlock()
	if biggest < 2 {
		t.Errorf("the most deliveries handed over at once = %d, want several (what piled up)", biggest)
	}
}

// TestPresence: Publish counts the pages of every live node; a node that
// closes drops out at once, a node that stops renewing (killed) drops out
// after the TTL; the listing covers every node.
func TestPresence(t *testing.T) {
	for _, tc := range countPaths {
		t.Run(tc.name, func(t *testing.T) { testPresence(t, tc.opts) })
	}
}

// countPaths are the two ways Publish learns a room's pages: a presence
// read of its own, or (journaled deliveries in cmd/herald) the count the
// journal's append script read in the same round trip.
var countPaths = []struct {
	name string
	opts nodeOpts
}{
	{"broker reads presence", nodeOpts{}},
	{"append script counts", nodeOpts{journal: true, counts: true}},
}

func testPresence(t *testing.T, o nodeOpts) {
	srv := redistest.Start(t)
	ttl := 500 * time.Millisecond
	with := func(pages map[string]int) nodeOpts { o := o; o.pages, o.ttl = pages, ttl; return o }
	a := startNode(t, srv, "a", with(map[string]int{"room": 2}))
	b := startNode(t, srv, "b", with(map[string]int{"room": 3, "other": 1}))
	c := startNode(t, srv, "c", with(map[string]int{"room": 4}))
	defer checkCountPath(t, o, a)
	count := func(n *clusterNode, room string) int {
		pages, err := n.publish(t.Context(), delivery(room, 0))
		if err != nil {
			t.Fatal(err)
		}
		return pages
	}
	if got := count(a, "room"); got != 9 {
		t.Errorf("pages in room = %d, want 9 (2+3+4)", got)
	}
	if got := count(c, "other"); got != 1 {
		t.Errorf("pages in other = %d, want 1", got)
	}
	lists, err := a.b.Listings(t.Context())
	if err != nil || len(lists) != 3 || string(lists["b"]) != `[{"node":"b"}]` {
		t.Errorf("Listings = %v, %v; want three nodes' listings", lists, err)
	}
	// A page joins on a: presence follows within a poll.
	a.pages.setPages("room", 5)
	waitFor(t, "presence to follow a new page", func() bool { return count(b, "room") == 12 })
	// b shuts down cleanly: its pages stop counting at once.
	if err := b.b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := count(a, "room"); got != 9 {
		t.Errorf("after b closed, pages = %d, want 9", got)
	}
	// c dies without a word (its connection cut, no more renewals).
	if err := c.c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a dead node's pages to expire", func() bool { return count(a, "room") == 5 })
	waitFor(t, "a dead node to leave the listing", func() bool {
		lists, err := a.b.Listings(t.Context())
		return err == nil && len(lists) == 1
	})
}

// TestPresenceRewrittenAfterAFailedRewrite: Redis restarts empty, and
// the node's rewrite of its presence fails once (on Windows go-redis
// hands out a pooled connection Redis dropped, and its first command
// fails). The next poll writes it again: /notify on the other node counts
// its pages within a poll, not a third of the TTL (here minutes) later.
func TestPresenceRewrittenAfterAFailedRewrite(t *testing.T) {
	srv := redistest.Start(t) // no persistence: presence is lost with the restart
	o := func(pages int) nodeOpts { return nodeOpts{pages: map[string]int{"room": pages}, ttl: 10 * time.Minute} }
	a := startNode(t, srv, "a", o(2))
	b := startNode(t, srv, "b", o(3))
	count := func() int {
		pages, err := b.publish(t.Context(), delivery("room", 0))
		if err != nil {
			return -1
		}
		return pages
	}
	waitFor(t, "both nodes' pages to count", func() bool { return count() == 5 })
	fail := &failPresenceWrite{}
	a.c.AddHook(fail)
	srv.Stop()
	waitFor(t, "a to notice", func() bool { return !a.b.State().Connected })
	fail.armed.Store(true)
	srv.Restart()
	waitFor(t, "the rewrite after the restart to fail", func() bool { return !fail.armed.Load() })
	waitFor(t, "a's pages to count again", func() bool { return count() == 5 })
}

// failPresenceWrite fails, once armed, the next pipeline that writes
// presence (EVAL of the presence script), as a dropped connection would.
type failPresenceWrite struct{ armed atomic.Bool }

func (*failPresenceWrite) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (*failPresenceWrite) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }
func (f *failPresenceWrite) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "eval" && f.armed.CompareAndSwap(true, false) {
			for _, c := range cmds {
				c.SetErr(io.EOF)
			}
			return io.EOF
		}
		return next(ctx, cmds)
	}
}

// TestLocalPagesExact: with LocalPages, a page that just arrived on the
// publishing node counts at once, before any presence write.
func TestLocalPagesExact(t *testing.T) {
	for _, tc := range countPaths {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			o := tc.opts
			o.exact, o.poll, o.pages = true, time.Hour, map[string]int{"room": 1}
			a := startNode(t, srv, "a", o)
			o.exact, o.poll, o.pages = false, 0, map[string]int{"room": 2}
			startNode(t, srv, "b", o)
			a.pages.setPages("room", 4)
			if got, err := a.publish(t.Context(), delivery("room", 1)); err != nil || got != 6 {
				t.Errorf("pages = %d, %v; want 6 (4 here now, 2 on b)", got, err)
			}
			checkCountPath(t, o, a)
		})
	}
}

// checkCountPath fails unless n's counts came from where o says.
func checkCountPath(t *testing.T, o nodeOpts, n *clusterNode) {
	t.Helper()
	st := n.b.State()
	if o.counts && (st.CountedOnAppend == 0 || st.RoundTrips != 0) {
		t.Errorf("append script counts: broker State = %+v; want every count from the append (counted_on_append > 0, no round trip of its own)", st)
	}
	if !o.counts && st.CountedOnAppend != 0 {
		t.Errorf("broker reads presence: counted_on_append = %d, want 0", st.CountedOnAppend)
	}
}

// TestRedisRestart: Redis goes away mid-traffic. Each node keeps handing
// its own deliveries to its own pages, says so in State, reconnects when
// Redis is back, and deliveries cross nodes again; no page gets anything
// twice.
func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	a := startNode(t, srv, "a", nodeOpts{journal: true, pages: map[string]int{"room": 1}})
	b := startNode(t, srv, "b", nodeOpts{journal: true, pages: map[string]int{"room": 1}})
	ctx := t.Context()
	for i := range 5 {
		if _, err := a.publish(ctx, delivery("room", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "b to receive the first five", func() bool { return len(received(b, "room")) == 5 })
	srv.Stop()
	waitFor(t, "a to notice", func() bool { return !a.b.State().Connected })
	for i := 5; i < 10; i++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := a.publish(pctx, delivery("room", i))
		cancel()
		if !errors.Is(err, broker.ErrLocalOnly) {
			t.Fatalf("Publish with Redis down = %v, want broker.ErrLocalOnly (delivered to its own pages)", err)
		}
	}
	if got := received(a, "room"); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("a's pages with Redis down got %v, want 0..9", got)
	}
	if st := a.b.State(); st.Connected || st.LocalOnly != 5 || st.Disconnects != 1 || st.LastError == "" {
		t.Errorf("a's State with Redis down = %+v", st)
	}
	srv.Restart()
	waitFor(t, "both nodes to reconnect", func() bool { return a.b.State().Connected && b.b.State().Connected })
	for i := 10; i < 15; i++ {
		if _, err := b.publish(ctx, delivery("room", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a to receive b's deliveries", func() bool { return len(received(a, "room")) == 15 })
	time.Sleep(200 * time.Millisecond) // a late duplicate would show up here
	if got := received(a, "room"); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}) {
		t.Errorf("a's pages got %v, want 0..14 once each", got)
	}
	if got := received(b, "room"); !slices.Equal(got, []int{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}) {
		t.Errorf("b's pages got %v, want 0..4 then 10..14 (5..9 went to a's pages only)", got)
	}
}

// TestResync: the nodes' subscriptions are cut again and again while
// nodes keep appending; what a node missed while not listening is
// recovered from the journal: at the end every node's pages have every
// offset exactly once.
func TestResync(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*clusterNode{startNode(t, srv, "a", nodeOpts{journal: true, pages: map[string]int{"room": 1}}),
		startNode(t, srv, "b", nodeOpts{journal: true, pages: map[string]int{"room": 1}})}
	admin := srv.Client()
	const total = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			if _, err := nodes[i%2].publish(t.Context(), delivery("room", i)); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 25 {
				// Cut every subscriber connection (both nodes miss what is
				// appended until they are back).
				if err := admin.Do(t.Context(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	<-done
	for _, n := range nodes {
		// Deliveries that fill a hole after later ones went out arrive as
		// late replays (no position), so count payloads, not offsets.
		waitFor(t, "node "+n.name+" to have every delivery", func() bool {
			seen := map[int]bool{}
			for _, d := range n.pages.all() {
				seen[int(d.Payload["n"].(float64))] = true
			}
			return len(seen) == total
		})
		time.Sleep(200 * time.Millisecond) // a late duplicate would show up here
		got := n.pages.all()
		counts := map[int]int{}
		last := uint64(0)
		for _, d := range got {
			counts[int(d.Payload["n"].(float64))]++
			if d.Late && (!d.Replayed || d.Offset == 0) {
				t.Errorf("node %s: a late delivery (offset %d, replayed %v) is not a replay that knows its offset", n.name, d.Offset, d.Replayed)
			}
			if d.Offset != 0 && !d.Late {
				if d.Offset <= last {
					t.Errorf("node %s: offset %d after %d: a page's position went back", n.name, d.Offset, last)
				}
				last = d.Offset
			}
		}
		for i := range total {
			if counts[i] != 1 {
				t.Errorf("node %s: delivery %d handed over %d times, want 1", n.name, i, counts[i])
			}
		}
		if st := n.b.State(); st.Disconnects == 0 {
			t.Errorf("node %s never saw its subscription cut: %+v", n.name, st)
		}
	}
}

// TestStartUnreachable: Start fails when Redis is not there.
func TestStartUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := rb.New(c, rb.Options{}).Start(t.Context()); err == nil {
		t.Fatal("Start succeeded with Redis stopped")
	}
}

// TestClosed: Publish after Close is an error the router turns into 503.
func TestClosed(t *testing.T) {
	n := startNode(t, redistest.Start(t), "a", nodeOpts{})
	if err := n.b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.b.Publish(t.Context(), delivery("r", 1)); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
}

// testLog sends a node's log lines to the test's log.
func testLog(t testing.TB, node string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestPresenceWrittenWhenRoomsChange: a node whose pages join or leave a
// room says so (RoomsChanged, which egress/socketio calls) and its
// presence is written then, not at its next poll, an hour away here: a
// count on another node includes a page as soon as it registered.
func TestPresenceWrittenWhenRoomsChange(t *testing.T) {
	srv := redistest.Start(t)
	a := startNode(t, srv, "a", nodeOpts{poll: time.Hour, ttl: 3 * time.Hour})
	b := startNode(t, srv, "b", nodeOpts{poll: time.Hour, ttl: 3 * time.Hour})
	count := func() int {
		n, err := a.b.Pages(t.Context(), "room")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	b.pages.setPages("room", 2)
	b.b.RoomsChanged()
	waitFor(t, "node a to count node b's pages", func() bool { return count() == 2 })
	b.pages.setPages("room", 0)
	b.b.RoomsChanged()
	waitFor(t, "node a to see them gone", func() bool { return count() == 0 })
}

// failingReads is a node's journal as its broker reads it, failing while
// a test says so: a Redis that restarted answers SUBSCRIBE before it has
// loaded its data and answers reads ("LOADING").
type failingReads struct {
	*rj.Store
	failing atomic.Bool
	failed  atomic.Int64
}

func (f *failingReads) After(ctx context.Context, room string, after uint64, limit int) ([]journal.Entry, error) {
	if f.failing.Load() {
		f.failed.Add(1)
		return nil, errors.New("LOADING Redis is loading the dataset in memory")
	}
	return f.Store.After(ctx, room, after, limit)
}

// gatedNode is a node that connects as its own ACL user, so a test can
// shut it out of Redis alone (its reconnects are refused: a real gap, where
// after a plain CLIENT KILL go-redis subscribes again at once), and whose
// broker reads the journal through failingReads.
type gatedNode struct {
	*clusterNode
	admin *goredis.Client
	reads *failingReads
}

func startGatedNode(t *testing.T, srv *redistest.Server, name string, o nodeOpts) *gatedNode {
	t.Helper()
	g := &gatedNode{admin: srv.Client(), reads: &failingReads{}}
	if err := g.admin.Do(t.Context(), "ACL", "SETUSER", name, "on", ">"+name, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	o.user = name
	o.reads = func(s *rj.Store) journal.Journal { g.reads.Store = s; return g.reads }
	g.clusterNode = startNode(t, srv, name, o)
	return g
}

// shutOut turns the node's user off, cuts its connections and waits for
// it to notice.
func (g *gatedNode) shutOut(t *testing.T) {
	t.Helper()
	before := g.b.State().Disconnects
	for _, cmd := range [][]any{{"ACL", "SETUSER", g.name, "off"}, {"CLIENT", "KILL", "USER", g.name}} {
		if err := g.admin.Do(t.Context(), cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, g.name+" to notice it lost Redis", func() bool { return g.b.State().Disconnects > before })
}

// letIn turns the node's user on again and waits for its re-sync to try
// the journal.
func (g *gatedNode) letIn(t *testing.T) {
	t.Helper()
	tried := g.reads.failed.Load()
	if err := g.admin.Do(t.Context(), "ACL", "SETUSER", g.name, "on").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, g.name+"'s re-sync to try the journal", func() bool { return g.reads.failed.Load() > tried })
}

// TestResyncOutlastsAJournalThatDoesNotAnswerYet: node b is shut out of
// Redis (its ACL user is off) while node a publishes; when it is let back
// in, its journal reads fail for a while (and, in one row, it is shut out
// again meanwhile). b's page still gets every alert a published in the
// gap, once, and before one published while its re-sync waited: the
// re-sync is tried again, and a second loss does not move where it
// starts. The room has no delivered offset on b, so the re-sync
// starts from when b last heard Redis.
func TestResyncOutlastsAJournalThatDoesNotAnswerYet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lostAgain bool
	}{
		{"the journal answers again", false},
		{"Redis is lost again before it does", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			a := startNode(t, srv, "a", nodeOpts{journal: true})
			b := startGatedNode(t, srv, "b", nodeOpts{journal: true, pages: map[string]int{"room": 1}})

			b.reads.failing.Store(true)
			b.shutOut(t)
			const total = 5
			for i := range total {
				if _, err := a.publish(t.Context(), delivery("room", i)); err != nil {
					t.Fatal(err)
				}
			}
			b.letIn(t)
			// One more while b's re-sync waits for the journal: it reaches
			// b's subscription, and must wait behind the gap.
			if _, err := a.publish(t.Context(), delivery("room", total)); err != nil {
				t.Fatal(err)
			}
			if tc.lostAgain {
				b.shutOut(t)
				b.letIn(t)
			}
			b.reads.failing.Store(false)

			want := []int{0, 1, 2, 3, 4, 5}
			waitFor(t, "b's page to get every alert", func() bool { return len(received(b.clusterNode, "room")) >= len(want) })
			time.Sleep(200 * time.Millisecond) // a duplicate would show up here
			if got := received(b.clusterNode, "room"); !slices.Equal(got, want) {
				t.Errorf("b's page got %v, want %v: each once, in order", got, want)
			}
			if st := b.b.State(); st.Resynced < total {
				t.Errorf("b re-synced %d alerts, want at least %d (they reached it another way: no gap was tested)", st.Resynced, total)
			}
		})
	}
}

// TestResyncGivesUpOnAJournalThatNeverAnswers: node b comes back to Redis
// after a gap, and its journal reads keep failing. Its re-sync gives up
// after its patience (shortened here), and the alerts that reached b
// meanwhile, and later ones, go to its page: a journal that never
// answers costs the gap, not the live alerts.
func TestResyncGivesUpOnAJournalThatNeverAnswers(t *testing.T) {
	srv := redistest.Start(t)
	a := startNode(t, srv, "a", nodeOpts{journal: true})
	b := startGatedNode(t, srv, "b", nodeOpts{journal: true, pages: map[string]int{"room": 1}, patience: 300 * time.Millisecond})
	b.reads.failing.Store(true)
	b.shutOut(t)
	if _, err := a.publish(t.Context(), delivery("room", 0)); err != nil { // the gap
		t.Fatal(err)
	}
	b.letIn(t)
	for i := 1; i <= 2; i++ {
		if _, err := a.publish(t.Context(), delivery("room", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "b's page to get the alerts sent after it came back", func() bool { return len(received(b.clusterNode, "room")) >= 2 })
	if got := received(b.clusterNode, "room"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("b's page got %v, want [1 2] (the gap is lost to a journal that never answers, nothing else)", got)
	}
}
