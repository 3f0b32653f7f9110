package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/journal"
	rj "github.com/heraldhq/herald/journal/redis"
)

// node opens a Store on srv as one herald node would: its own client.
func node(t *testing.T, srv *redistest.Server, opts rj.Options) *rj.Store {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: 1,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	s, err := rj.Open(t.Context(), c, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// stallNode opens a Store on srv with a client as cmd/herald builds it
// for fault tests: a command keeps to its caller's deadline and is never
// retried (a Redis that stalls keeps what it was sent).
func stallNode(t *testing.T, srv *redistest.Server, opts rj.Options) (*rj.Store, *goredis.Client) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	s, err := rj.Open(t.Context(), c, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

func delivery(room string, i int) herald.Delivery {
	return herald.Delivery{EventID: fmt.Sprintf("ev-%s-%d", room, i), Source: "trigger", Room: room, Name: "FOLLOW",
		Payload: map[string]any{"user": "ada", "n": float64(i)}, Time: time.UnixMilli(1700000000000 + int64(i)).UTC(), Rule: "follow"}
}

func mustAppend(t *testing.T, s *rj.Store, d herald.Delivery) journal.Entry {
	t.Helper()
	e, err := s.Append(t.Context(), d)
	if err != nil {
		t.Fatalf("Append(%s): %v", d.EventID, err)
	}
	return e
}

// TestOffsetsPerRoom: offsets start at 1 in each room and go up by one;
// the stored delivery comes back as it went in, with its offset.
func TestOffsetsPerRoom(t *testing.T) {
	s := node(t, redistest.Start(t), rj.Options{})
	for i := 1; i <= 3; i++ {
		for _, room := range []string{"alpha", "beta"} {
			if e := mustAppend(t, s, delivery(room, i)); e.Offset != uint64(i) || e.Delivery.Offset != uint64(i) {
				t.Errorf("Append(%s #%d) offset = %d (delivery %d), want %d", room, i, e.Offset, e.Delivery.Offset, i)
			}
		}
	}
	got, err := s.After(t.Context(), "alpha", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(journal.Offsets(got), []uint64{2, 3}) {
		t.Fatalf("After(alpha, 1) offsets = %v, want [2 3]", journal.Offsets(got))
	}
	want := delivery("alpha", 2)
	want.Offset = 2
	if g := got[0].Delivery; g.EventID != want.EventID || g.Room != want.Room || g.Name != want.Name || g.Rule != want.Rule ||
		!g.Time.Equal(want.Time) || g.Payload["n"] != float64(2) || g.Offset != 2 || g.Source != want.Source {
		t.Errorf("After(alpha, 1)[0].Delivery = %+v, want %+v", g, want)
	}
	if got[0].At.IsZero() {
		t.Error("entry At is zero")
	}
}

// TestNodesAgree: two nodes append to one room concurrently; every
// offset is unique, none is lost, and the log reads back in offset order
// on both nodes.
func TestNodesAgree(t *testing.T) {
	srv := redistest.Start(t)
	a, b := node(t, srv, rj.Options{}), node(t, srv, rj.Options{})
	const perNode = 100
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for name, s := range map[string]*rj.Store{"a": a, "b": b} {
		for w := range 4 {
			wg.Go(func() {
				for i := range perNode / 4 {
					e, err := s.Append(t.Context(), delivery("room", w*1000+i))
					if err != nil {
						t.Errorf("node %s: %v", name, err)
						return
					}
					mu.Lock()
					if prev, dup := seen[e.Offset]; dup {
						t.Errorf("offset %d handed to node %s and node %s", e.Offset, prev, name)
					}
					seen[e.Offset] = name
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for name, s := range map[string]*rj.Store{"a": a, "b": b} {
		got, err := s.After(t.Context(), "room", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2*perNode {
			t.Fatalf("node %s reads %d entries, want %d", name, len(got), 2*perNode)
		}
		for i, e := range got {
			if e.Offset != uint64(i+1) {
				t.Fatalf("node %s: entry %d has offset %d, want %d (in order, no gap)", name, i, e.Offset, i+1)
			}
		}
	}
}

// TestReads covers After's limit, Last, Pending and Mark.
func TestReads(t *testing.T) {
	s := node(t, redistest.Start(t), rj.Options{})
	ctx := t.Context()
	start := time.Now()
	for i := 1; i <= 6; i++ {
		mustAppend(t, s, delivery("r", i))
	}
	// Entries 2 and 5 reached a page; 5 was also acked twice.
	for _, m := range []struct {
		off            uint64
		reached, acked int
	}{{off: 2, reached: 1}, {off: 5, reached: 2}, {off: 5, acked: 2}} {
		if err := s.Mark(ctx, "r", m.off, m.reached, m.acked); err != nil {
			t.Fatalf("Mark(%d): %v", m.off, err)
		}
	}
	tests := []struct {
		name string
		read func() ([]journal.Entry, error)
		want []uint64
	}{
		{name: "after 0 limit 4", read: func() ([]journal.Entry, error) { return s.After(ctx, "r", 0, 4) }, want: []uint64{1, 2, 3, 4}},
		{name: "after 4", read: func() ([]journal.Entry, error) { return s.After(ctx, "r", 4, 100) }, want: []uint64{5, 6}},
		{name: "after the end", read: func() ([]journal.Entry, error) { return s.After(ctx, "r", 6, 100) }, want: nil},
		{name: "after in an empty room", read: func() ([]journal.Entry, error) { return s.After(ctx, "none", 0, 100) }, want: nil},
		{name: "last 2", read: func() ([]journal.Entry, error) { return s.Last(ctx, "r", 2) }, want: []uint64{5, 6}},
		{name: "last 100", read: func() ([]journal.Entry, error) { return s.Last(ctx, "r", 100) }, want: []uint64{1, 2, 3, 4, 5, 6}},
		{name: "pending", read: func() ([]journal.Entry, error) { return s.Pending(ctx, "r", start.Add(-time.Minute)) }, want: []uint64{1, 3, 4, 6}},
		{name: "pending since later", read: func() ([]journal.Entry, error) { return s.Pending(ctx, "r", time.Now().Add(time.Minute)) }, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(journal.Offsets(got), tc.want) {
				t.Errorf("offsets = %v, want %v", journal.Offsets(got), tc.want)
			}
		})
	}
	last, err := s.Last(ctx, "r", 2)
	if err != nil {
		t.Fatal(err)
	}
	if last[0].Reached != 2 || last[0].Acked != 2 || last[1].Reached != 0 {
		t.Errorf("counters of 5 and 6 = %d/%d and %d/%d, want 2/2 and 0/0", last[0].Reached, last[0].Acked, last[1].Reached, last[1].Acked)
	}
}

// TestMarksShareRoundTrips: marks queued while Redis is busy go in one
// round trip (one script call per room) and each lands exactly once;
// marks of offsets not handed out yet, or trimmed, change nothing. The
// same holds for appends: queued together, they share a round trip and
// still get distinct offsets in order.
func TestMarksShareRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	s := node(t, srv, rj.Options{Retention: journal.Retention{MaxEntries: 20}})
	ctx := t.Context()
	rooms := []string{"r0", "r1", "r2"}
	for _, room := range rooms {
		for i := 1; i <= 22; i++ { // 1 and 2 are trimmed
			mustAppend(t, s, delivery(room, i))
		}
	}
	before := s.Trips()
	// Redis holds every command for a moment: the marks queue up behind
	// the first one, as they do under load.
	if err := srv.Client().Do(ctx, "CLIENT", "PAUSE", "500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, room := range rooms {
		for off := uint64(1); off <= 25; off++ { // 23..25 not handed out yet
			for range 2 {
				wg.Go(func() {
					if err := s.Mark(ctx, room, off, 1, 0); err != nil {
						t.Errorf("Mark(%s, %d): %v", room, off, err)
					}
				})
			}
			wg.Go(func() {
				if err := s.Mark(ctx, room, off, 0, 1); err != nil {
					t.Errorf("Mark(%s, %d, acked): %v", room, off, err)
				}
			})
		}
	}
	wg.Wait()
	tr := s.Trips()
	if marks, trips := tr.Marks-before.Marks, tr.MarkTrips-before.MarkTrips; marks != 3*25*3 || trips > 2 {
		t.Errorf("%d marks took %d round trips, want %d marks in at most 2 (the first alone, the rest together)", marks, trips, 3*25*3)
	}
	for _, room := range rooms {
		for i := 23; i <= 25; i++ {
			mustAppend(t, s, delivery(room, i))
		}
		es, err := s.After(ctx, room, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 20 || es[0].Offset != 6 {
			t.Fatalf("%s: offsets %v, want 6..25", room, journal.Offsets(es))
		}
		for _, e := range es {
			want := journal.Entry{Reached: 2, Acked: 1}
			if e.Offset > 22 {
				want = journal.Entry{} // marked before it existed: ignored
			}
			if e.Reached != want.Reached || e.Acked != want.Acked {
				t.Errorf("%s offset %d: reached/acked = %d/%d, want %d/%d", room, e.Offset, e.Reached, e.Acked, want.Reached, want.Acked)
			}
		}
	}
	// Appends queued together share a round trip too (in a room that
	// exists: creating one is a round trip of its own per caller).
	mustAppend(t, s, delivery("shared", 0))
	before = s.Trips()
	if err := srv.Client().Do(ctx, "CLIENT", "PAUSE", "500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[uint64]bool{}
	for i := range 40 {
		wg.Go(func() {
			e, err := s.Append(ctx, delivery("shared", i))
			if err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			mu.Lock()
			got[e.Offset] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	tr = s.Trips()
	if trips := tr.AppendTrips - before.AppendTrips; trips > 2 {
		t.Errorf("40 queued appends took %d round trips, want at most 2 (the first alone, the rest together)", trips)
	}
	for off := uint64(2); off <= 41; off++ {
		if !got[off] {
			t.Errorf("offset %d not handed out (got %v)", off, got)
		}
	}
}

// TestAppendGivesUpBeforeItsTurn: an append whose context ends while it
// waits behind a round trip that Redis is slow to answer returns its
// context's error and leaves nothing behind (the offset it would have
// taken goes to the next append).
func TestAppendGivesUpBeforeItsTurn(t *testing.T) {
	srv := redistest.Start(t)
	s := node(t, srv, rj.Options{})
	first := mustAppend(t, s, delivery("r", 1))
	if err := srv.Client().Do(t.Context(), "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := s.Append(t.Context(), delivery("r", 2)) // in flight until Redis answers
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond) // the slow append is out
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Append(ctx, delivery("r", 3)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("append queued behind a slow round trip: err = %v, want its deadline", err)
	}
	select {
	case err := <-slow:
		t.Fatalf("the slow append answered (%v) before Redis did", err)
	default:
	}
	if err := <-slow; err != nil {
		t.Fatalf("slow append: %v", err)
	}
	if next := mustAppend(t, s, delivery("r", 4)); next.Offset != first.Offset+2 {
		t.Errorf("next offset = %d, want %d: the append that gave up must not have run", next.Offset, first.Offset+2)
	}
}

// TestRetentionCount keeps only the newest MaxEntries; marking a trimmed
// entry is no error and creates nothing.
func TestRetentionCount(t *testing.T) {
	srv := redistest.Start(t)
	s := node(t, srv, rj.Options{Retention: journal.Retention{MaxEntries: 3}})
	for i := 1; i <= 10; i++ {
		mustAppend(t, s, delivery("r", i))
	}
	got, err := s.After(t.Context(), "r", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(journal.Offsets(got), []uint64{8, 9, 10}) {
		t.Fatalf("after trimming, offsets = %v, want [8 9 10]", journal.Offsets(got))
	}
	if err := s.Mark(t.Context(), "r", 2, 1, 1); err != nil {
		t.Fatalf("Mark of a trimmed entry: %v", err)
	}
	// Retention shrinks at run time (a rules reload): the next append trims.
	s.SetRetention(journal.Retention{MaxEntries: 1})
	mustAppend(t, s, delivery("r", 11))
	if got, _ := s.Last(t.Context(), "r", 100); !slices.Equal(journal.Offsets(got), []uint64{11}) {
		t.Fatalf("after SetRetention(1), offsets = %v, want [11]", journal.Offsets(got))
	}
}

// TestRetentionAge: entries older than MaxAge are not returned, are
// removed from Redis at the next append, and an idle room's log expires.
func TestRetentionAge(t *testing.T) {
	srv := redistest.Start(t)
	const maxAge = 300 * time.Millisecond
	s := node(t, srv, rj.Options{Retention: journal.Retention{MaxAge: maxAge}})
	raw := srv.Client()
	for i := 1; i <= 3; i++ {
		mustAppend(t, s, delivery("r", i))
	}
	time.Sleep(maxAge + 100*time.Millisecond) // let the entries age
	if got, _ := s.After(t.Context(), "r", 0, 10); len(got) != 0 {
		t.Errorf("entries older than MaxAge returned: %v", journal.Offsets(got))
	}
	mustAppend(t, s, delivery("r", 4))
	if got, _ := s.After(t.Context(), "r", 0, 10); !slices.Equal(journal.Offsets(got), []uint64{4}) {
		t.Errorf("after an append, offsets = %v, want [4]", journal.Offsets(got))
	}
	if n := streamLen(t, raw); n != 1 {
		t.Errorf("the log holds %d entries in Redis, want 1 (the old ones trimmed)", n)
	}
	time.Sleep(maxAge + 100*time.Millisecond)
	if n := streamLen(t, raw); n != 0 {
		t.Errorf("an idle room's log holds %d entries after MaxAge, want 0 (expired)", n)
	}
	// The counter stays: offsets go on, never reused.
	if e := mustAppend(t, s, delivery("r", 5)); e.Offset != 5 {
		t.Errorf("offset after the log expired = %d, want 5", e.Offset)
	}
}

// streamLen sums the length of every room log in Redis.
func streamLen(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	keys, err := c.Keys(t.Context(), "herald:{r:*}:l").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, k := range keys {
		n += c.XLen(t.Context(), k).Val()
	}
	return n
}

// TestFind returns one event's entries across rooms.
func TestFind(t *testing.T) {
	s := node(t, redistest.Start(t), rj.Options{})
	for _, room := range []string{"a", "b", "c"} {
		mustAppend(t, s, delivery(room, 1))
		d := delivery(room, 2)
		d.EventID = "shared"
		mustAppend(t, s, d)
	}
	got, err := s.Find(t.Context(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	var rooms []string
	for _, e := range got {
		if e.Delivery.EventID != "shared" || e.Offset != 2 {
			t.Errorf("Find returned %+v", e)
		}
		rooms = append(rooms, e.Delivery.Room)
	}
	slices.Sort(rooms)
	if !slices.Equal(rooms, []string{"a", "b", "c"}) {
		t.Errorf("Find rooms = %v, want [a b c]", rooms)
	}
	if got, err := s.Find(t.Context(), "unknown"); err != nil || len(got) != 0 {
		t.Errorf("Find(unknown) = %v, %v, want nothing", got, err)
	}
}

// TestSessions: a session saved on one node is found on another until it
// expires.
func TestSessions(t *testing.T) {
	srv := redistest.Start(t)
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	clock := func() time.Time { return *now.Load() }
	a, b := node(t, srv, rj.Options{Now: clock}), node(t, srv, rj.Options{Now: clock})
	ss := journal.Session{PID: "pid-1", Code: "abc", Expires: t0.Add(10 * time.Minute)}
	if err := a.SaveSession(t.Context(), ss); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.Session(t.Context(), "pid-1")
	if err != nil || !ok || got.Code != "abc" || !got.Expires.Equal(ss.Expires) {
		t.Fatalf("Session on the other node = %+v, %v, %v; want %+v", got, ok, err, ss)
	}
	if _, ok, _ := b.Session(t.Context(), "pid-2"); ok {
		t.Error("unknown pid found")
	}
	later := t0.Add(11 * time.Minute)
	now.Store(&later)
	if _, ok, _ := b.Session(t.Context(), "pid-1"); ok {
		t.Error("expired session found")
	}
	// Redis expires it too: the key does not outlive the session.
	if ttl := srv.Client().PTTL(t.Context(), "herald:s:pid-1").Val(); ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("session key TTL = %v, want (0, 10m]", ttl)
	}
}

// TestSeenAcrossNodes: of many nodes seeing one message id at once,
// exactly one accepts it; Forget lets the retry in; the window expires.
func TestSeenAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*rj.Store{node(t, srv, rj.Options{}), node(t, srv, rj.Options{}), node(t, srv, rj.Options{})}
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for _, s := range nodes {
		for range 5 {
			wg.Go(func() {
				dup, err := s.Seen(t.Context(), "twitch:msg-1", time.Minute)
				if err != nil {
					t.Error(err)
				}
				if !dup {
					fresh.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d of 15 concurrent Seen calls accepted the message, want 1", fresh.Load())
	}
	if err := nodes[1].Forget(t.Context(), "twitch:msg-1"); err != nil {
		t.Fatal(err)
	}
	if dup, _ := nodes[2].Seen(t.Context(), "twitch:msg-1", 50*time.Millisecond); dup {
		t.Error("message refused after Forget")
	}
	time.Sleep(150 * time.Millisecond)
	if dup, _ := nodes[0].Seen(t.Context(), "twitch:msg-1", time.Minute); dup {
		t.Error("message refused after its window expired")
	}
}

// TestEpochAfterDataLoss: Redis loses everything (FLUSHALL); a node that
// appends before its background check runs must still not hand out an
// offset under the old epoch, and every node moves to the new epoch.
func TestEpochAfterDataLoss(t *testing.T) {
	srv := redistest.Start(t)
	// A long check interval: only the append path may notice the loss.
	a := node(t, srv, rj.Options{CheckInterval: time.Hour})
	b := node(t, srv, rj.Options{CheckInterval: time.Hour})
	if a.Epoch() == "" || a.Epoch() != b.Epoch() {
		t.Fatalf("epochs %q and %q, want one non-empty epoch", a.Epoch(), b.Epoch())
	}
	old := a.Epoch()
	for i := 1; i <= 5; i++ {
		mustAppend(t, a, delivery("r", i))
	}
	if err := srv.Client().FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	e := mustAppend(t, b, delivery("r", 6))
	if b.Epoch() == old {
		t.Fatalf("node b appended offset %d under the lost epoch %q", e.Offset, old)
	}
	if e.Offset <= 5 {
		t.Errorf("first offset of the new epoch = %d, want above the lost ones (a live page compares offsets)", e.Offset)
	}
	first := e.Offset
	// Node a still believes the old epoch; its append must not land there.
	e = mustAppend(t, a, delivery("r", 7))
	if a.Epoch() != b.Epoch() || e.Offset != first+1 {
		t.Errorf("node a: epoch %q offset %d, want epoch %q offset %d", a.Epoch(), e.Offset, b.Epoch(), first+1)
	}
	// A room last written in the old epoch reads as empty, and a new append
	// in another room starts at 1 too.
	if got, _ := a.After(t.Context(), "other", 0, 10); len(got) != 0 {
		t.Errorf("room of the lost epoch has entries %v", journal.Offsets(got))
	}
	if e := mustAppend(t, a, delivery("other", 1)); e.Offset <= 5 {
		t.Errorf("new room offset = %d, want above the lost epoch's", e.Offset)
	}
}

// TestEpochBackground: a node that never appends still moves to the new
// epoch after a Redis restart (data lost), through its background check.
func TestEpochBackground(t *testing.T) {
	srv := redistest.Start(t)
	s := node(t, srv, rj.Options{CheckInterval: 50 * time.Millisecond})
	old := s.Epoch()
	srv.Restart()
	waitFor(t, "the epoch to change after a Redis restart", func() bool { return s.Epoch() != old })
	if st := s.Stats(); st.Epoch != s.Epoch() || st.Store != "redis" {
		t.Errorf("Stats = %+v", st)
	}
}

// TestRedisDown: appends fail with an error (never hang past the
// context), the failure shows in Stats, and the store works again once
// Redis is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	s := node(t, srv, rj.Options{CheckInterval: 50 * time.Millisecond})
	mustAppend(t, s, delivery("r", 1))
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.Append(ctx, delivery("r", 2)); err == nil {
		t.Fatal("Append succeeded with Redis stopped")
	}
	st := s.Stats()
	if st.AppendErrors != 1 || st.LastError == "" {
		t.Errorf("Stats with Redis down = %+v, want 1 append error and a last error", st)
	}
	srv.Restart()
	waitFor(t, "the store to recover", func() bool { return s.Stats().LastError == "" })
	if e := mustAppend(t, s, delivery("r", 3)); e.Offset <= 1 {
		t.Errorf("first offset after the restart = %d, want above the lost ones (new epoch)", e.Offset)
	}
}

// TestOpenUnreachable: Open fails when Redis does not answer.
func TestOpenUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	defer c.Close()
	if _, err := rj.Open(t.Context(), c, rj.Options{}); err == nil {
		t.Fatal("Open succeeded with Redis stopped")
	}
}

// TestClosed: every method answers ErrClosed after Close.
func TestClosed(t *testing.T) {
	s := node(t, redistest.Start(t), rj.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), delivery("r", 1)); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Seen(t.Context(), "k", time.Second); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Seen after Close = %v, want ErrClosed", err)
	}
}

// waitFor polls cond until it holds; the deadline only fires when the
// behaviour is broken.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
