// Package journaltest is the behavioural suite every journal store passes:
// the guarantees of package journal's doc, written once and run against the
// in-memory store, the bbolt store and the Redis store alike (as Centrifuge
// runs one broker suite against memory and Redis).
//
// A store's test calls Run with a function that opens a fresh, empty store,
// and, for a persistent store, the Reopen option so the suite can check what
// survives a close and reopen (offsets never reused, epoch stable, sessions
// and de-duplication keys kept).
//
// The suite uses real time with short durations for expiry and age
// retention: it waits past a deadline and then asserts, and it polls for
// background trimming with a generous deadline, so a slow machine makes it
// slower, never wrong.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// Option adjusts Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, old journal.Journal) journal.Journal
	peer   func(t *testing.T, j journal.Journal) journal.Journal
}

// Reopen tells the suite how to close old and open the same store again
// (same file, same Redis database). Stores without persistence leave it
// out and the persistence cases are skipped for them.
func Reopen(f func(t *testing.T, old journal.Journal) journal.Journal) Option {
	return func(c *config) { c.reopen = f }
}

// Peer tells the suite how to open a second store on the same data as j,
// as another process would (a second node on the same Redis), for the
// cases about processes sharing a store. Stores one process holds alone
// leave it out, and those cases run within the one store.
func Peer(f func(t *testing.T, j journal.Journal) journal.Journal) Option {
	return func(c *config) { c.peer = f }
}

// eventually is how long the suite waits for background work (trimming)
// before it fails.
const eventually = 15 * time.Second

// Run runs the suite. open returns a fresh, empty store; the suite closes
// every store it opens (a second Close must be harmless).
func Run(t *testing.T, open func(t *testing.T) journal.Journal, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := suite{open: func(t *testing.T) journal.Journal {
		t.Helper()
		j := open(t)
		t.Cleanup(func() { _ = j.Close() })
		return j
	}, reopen: c.reopen, peer: c.peer}
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{name: "AppendRoundTrip", run: s.appendRoundTrip},
		{name: "OffsetsIncreasePerRoom", run: s.offsetsIncreasePerRoom},
		{name: "AfterAndLast", run: s.afterAndLast},
		{name: "Find", run: s.find},
		{name: "MarkAndPending", run: s.markAndPending},
		{name: "ClaimOnce", run: s.claimOnce},
		{name: "MarkLive", run: s.markLive},
		{name: "Sessions", run: s.sessions},
		{name: "SeenAndForget", run: s.seenAndForget},
		{name: "RetentionByCount", run: s.retentionByCount},
		{name: "RetentionByAge", run: s.retentionByAge},
		{name: "Stats", run: s.stats},
		{name: "DoneContext", run: s.doneContext},
		{name: "Closed", run: s.closed},
		{name: "ConcurrentAppends", run: s.concurrentAppends},
		{name: "ReopenKeepsHistoryAndEpoch", run: s.reopenKeeps},
		{name: "ReopenNeverReusesOffsets", run: s.reopenNeverReuses},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

type suite struct {
	open   func(t *testing.T) journal.Journal
	reopen func(t *testing.T, old journal.Journal) journal.Journal
	peer   func(t *testing.T, j journal.Journal) journal.Journal
}

// delivery builds a delivery with a payload that exercises every JSON
// value type a payload may hold.
func delivery(room, eventID string, n int) herald.Delivery {
	return herald.Delivery{
		EventID: eventID,
		Source:  "trigger",
		Room:    room,
		Name:    "DONATION",
		Payload: map[string]any{
			"n":       float64(n),
			"name":    "Zoë \"the donor\" <b>",
			"amount":  12.5,
			"members": []any{"a", float64(1), true, nil},
			"nested":  map[string]any{"ok": false},
		},
		Time: time.Date(2026, 11, 28, 21, 0, 0, 123_456_789, time.UTC).Add(time.Duration(n) * time.Second),
		Rule: "donations",
	}
}

func mustAppend(t *testing.T, j journal.Journal, d herald.Delivery) journal.Entry {
	t.Helper()
	e, err := j.Append(t.Context(), d)
	if err != nil {
		t.Fatalf("Append(%s/%s): %v", d.Room, d.EventID, err)
	}
	return e
}

// sameDelivery compares what a page would see of two deliveries: every
// field, times to the millisecond (pages receive milliseconds).
func sameDelivery(got, want herald.Delivery) error {
	if got.Time.Sub(want.Time).Abs() >= time.Millisecond {
		return fmt.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if len(got.Payload) == 0 && len(want.Payload) == 0 {
		got.Payload, want.Payload = nil, nil // no payload: nil or empty, alike
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("delivery = %#v, want %#v", got, want)
	}
	return nil
}

func eventIDs(es []journal.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Delivery.EventID
	}
	return out
}

func (s suite) appendRoundTrip(t *testing.T) {
	j := s.open(t)
	before := time.Now().Add(-time.Second)
	d := delivery("alpha", "ev-1", 1)
	e := mustAppend(t, j, d)
	if e.Offset == 0 {
		t.Fatalf("Append offset = 0, want ≥ 1")
	}
	if e.Delivery.Offset != e.Offset {
		t.Errorf("Append: Delivery.Offset = %d, want the entry's offset %d", e.Delivery.Offset, e.Offset)
	}
	if e.At.Before(before) || e.At.After(time.Now().Add(time.Second)) {
		t.Errorf("Append: At = %v, want about now", e.At)
	}
	want := d
	want.Offset = e.Offset
	if err := sameDelivery(e.Delivery, want); err != nil {
		t.Errorf("Append returned %v", err)
	}
	got, err := j.After(t.Context(), "alpha", 0, 10)
	if err != nil {
		t.Fatalf("After: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("After(alpha, 0) = %d entries, want 1", len(got))
	}
	if got[0].Offset != e.Offset || got[0].Reached != 0 || got[0].Acked != 0 {
		t.Errorf("After(alpha, 0)[0] = offset %d reached %d acked %d, want %d 0 0", got[0].Offset, got[0].Reached, got[0].Acked, e.Offset)
	}
	if got[0].At.Sub(e.At).Abs() >= time.Millisecond {
		t.Errorf("After: At = %v, want %v", got[0].At, e.At)
	}
	if err := sameDelivery(got[0].Delivery, want); err != nil {
		t.Errorf("After returned %v", err)
	}
	// A delivery with no payload and no rule comes back as it went in.
	bare := herald.Delivery{EventID: "ev-2", Source: "kofi", Room: "alpha", Name: "FOLLOW", Time: time.Unix(1, 0).UTC()}
	e2 := mustAppend(t, j, bare)
	bare.Offset = e2.Offset
	got, err = j.After(t.Context(), "alpha", e.Offset, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("After(alpha, %d) = %d entries, %v; want 1", e.Offset, len(got), err)
	}
	if err := sameDelivery(got[0].Delivery, bare); err != nil {
		t.Errorf("bare delivery: %v", err)
	}
}

func (s suite) offsetsIncreasePerRoom(t *testing.T) {
	j := s.open(t)
	last := map[string]uint64{}
	for i := range 30 {
		room := []string{"a", "b", "c"}[i%3]
		e := mustAppend(t, j, delivery(room, fmt.Sprint("ev-", i), i))
		if e.Offset <= last[room] {
			t.Fatalf("append %d to %s: offset %d after %d, want strictly increasing", i, room, e.Offset, last[room])
		}
		last[room] = e.Offset
	}
	// Rooms are independent: each one's first offset is small, not shared
	// with the others (a room's offsets are its own).
	e := mustAppend(t, j, delivery("fresh", "ev-fresh", 0))
	if e.Offset > 1_000 {
		t.Errorf("first offset of a new room = %d, want a small number (offsets are per room)", e.Offset)
	}
	// Room names are opaque strings: separators, NULs and unicode are fine
	// and do not leak into other rooms.
	for _, room := range []string{"a/b", "a\x00b", "ä", "a-1"} {
		mustAppend(t, j, delivery(room, "ev-odd", 0))
		got, err := j.After(t.Context(), room, 0, 10)
		if err != nil || len(got) != 1 || got[0].Delivery.Room != room {
			t.Errorf("After(%q) = %v, %v; want the one entry of that room", room, eventIDs(got), err)
		}
	}
	got, err := j.After(t.Context(), "a", 0, 100)
	if err != nil || len(got) != 10 {
		t.Errorf("After(a) = %d entries, %v; want 10 (no entries of look-alike rooms)", len(got), err)
	}
}

func (s suite) afterAndLast(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	var all []journal.Entry
	for i := range 10 {
		all = append(all, mustAppend(t, j, delivery("r", fmt.Sprint("ev-", i), i)))
		mustAppend(t, j, delivery("other", fmt.Sprint("noise-", i), i))
	}
	tests := []struct {
		name  string
		after uint64
		limit int
		want  []journal.Entry
	}{
		{name: "from the start", after: 0, limit: 100, want: all},
		{name: "limited", after: 0, limit: 3, want: all[:3]},
		{name: "after the fourth", after: all[3].Offset, limit: 100, want: all[4:]},
		{name: "after the fourth, limited", after: all[3].Offset, limit: 2, want: all[4:6]},
		{name: "after the last", after: all[9].Offset, limit: 100, want: nil},
		{name: "far beyond", after: all[9].Offset + 1000, limit: 100, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := j.After(ctx, "r", tc.after, tc.limit)
			if err != nil {
				t.Fatalf("After: %v", err)
			}
			if !reflect.DeepEqual(eventIDs(got), eventIDs(tc.want)) || !reflect.DeepEqual(journal.Offsets(got), journal.Offsets(tc.want)) {
				t.Errorf("After(r, %d, %d) = %v %v, want %v %v", tc.after, tc.limit, eventIDs(got), journal.Offsets(got), eventIDs(tc.want), journal.Offsets(tc.want))
			}
		})
	}
	if got, err := j.After(ctx, "nobody", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("After(empty room) = %v, %v; want nothing, nil", got, err)
	}
	lasts := []struct {
		n    int
		want []journal.Entry
	}{
		{n: 1, want: all[9:]},
		{n: 3, want: all[7:]},
		{n: 10, want: all},
		{n: 50, want: all},
	}
	for _, tc := range lasts {
		got, err := j.Last(ctx, "r", tc.n)
		if err != nil {
			t.Fatalf("Last(%d): %v", tc.n, err)
		}
		if !reflect.DeepEqual(journal.Offsets(got), journal.Offsets(tc.want)) {
			t.Errorf("Last(r, %d) = %v, want %v (oldest first)", tc.n, journal.Offsets(got), journal.Offsets(tc.want))
		}
	}
	if got, err := j.Last(ctx, "nobody", 5); err != nil || len(got) != 0 {
		t.Errorf("Last(empty room) = %v, %v; want nothing, nil", got, err)
	}
}

func (s suite) find(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	// One event fanned out to three rooms, with other events around it.
	mustAppend(t, j, delivery("a", "before", 0))
	var want []journal.Entry
	for _, room := range []string{"a", "b", "c"} {
		want = append(want, mustAppend(t, j, delivery(room, "shared", 1)))
	}
	mustAppend(t, j, delivery("b", "after", 2))
	got, err := j.Find(ctx, "shared")
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Find(shared) = %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Delivery.Room != want[i].Delivery.Room || got[i].Offset != want[i].Offset || got[i].Delivery.EventID != "shared" {
			t.Errorf("Find(shared)[%d] = %s/%d, want %s/%d (oldest first)", i, got[i].Delivery.Room, got[i].Offset, want[i].Delivery.Room, want[i].Offset)
		}
	}
	if got, err := j.Find(ctx, "unknown"); err != nil || len(got) != 0 {
		t.Errorf("Find(unknown) = %v, %v; want nothing, nil", got, err)
	}
	// An id that is a prefix of another finds only its own entries.
	mustAppend(t, j, delivery("a", "sha", 3))
	if got, err := j.Find(ctx, "sha"); err != nil || len(got) != 1 {
		t.Errorf("Find(sha) = %d entries, %v; want 1", len(got), err)
	}
}

func (s suite) markAndPending(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	early := mustAppend(t, j, delivery("r", "early", 0))
	time.Sleep(5 * time.Millisecond)
	since := time.Now()
	time.Sleep(5 * time.Millisecond)
	var es []journal.Entry
	for i := range 4 {
		es = append(es, mustAppend(t, j, delivery("r", fmt.Sprint("ev-", i), i)))
	}
	mustAppend(t, j, delivery("other", "other", 0))

	got, err := j.Pending(ctx, "r", since)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if want := eventIDs(es); !reflect.DeepEqual(eventIDs(got), want) {
		t.Fatalf("Pending(r, since) = %v, want %v (the early one is before since)", eventIDs(got), want)
	}
	if got, _ := j.Pending(ctx, "r", early.At.Add(-time.Second)); len(got) != 5 {
		t.Errorf("Pending(r, before everything) = %d entries, want 5", len(got))
	}

	// Reached takes an entry out of pending; acks alone do not (an ack
	// implies a page, but the counters are the store's, not inferred).
	for _, m := range []struct {
		off            uint64
		reached, acked int
	}{
		{off: es[1].Offset, reached: 1},
		{off: es[1].Offset, reached: 2, acked: 1},
		{off: es[3].Offset, reached: 1, acked: 1},
	} {
		if err := j.Mark(ctx, "r", m.off, m.reached, m.acked); err != nil {
			t.Fatalf("Mark(%d): %v", m.off, err)
		}
	}
	got, err = j.Pending(ctx, "r", since)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if want := []string{"ev-0", "ev-2"}; !reflect.DeepEqual(eventIDs(got), want) {
		t.Errorf("Pending after marks = %v, want %v", eventIDs(got), want)
	}
	all, err := j.After(ctx, "r", early.Offset, 10)
	if err != nil || len(all) != 4 {
		t.Fatalf("After = %d, %v", len(all), err)
	}
	counts := [][2]int{{0, 0}, {3, 1}, {0, 0}, {1, 1}}
	for i, e := range all {
		if e.Reached != counts[i][0] || e.Acked != counts[i][1] {
			t.Errorf("entry %s: reached %d acked %d, want %d %d (marks add up)", e.Delivery.EventID, e.Reached, e.Acked, counts[i][0], counts[i][1])
		}
	}
	// Marks for entries that do not exist (trimmed, never were) are fine.
	if err := j.Mark(ctx, "r", es[3].Offset+100, 1, 0); err != nil {
		t.Errorf("Mark(unknown offset) = %v, want nil", err)
	}
	if err := j.Mark(ctx, "nobody", 1, 1, 0); err != nil {
		t.Errorf("Mark(unknown room) = %v, want nil", err)
	}
	if got, err := j.Pending(ctx, "nobody", since); err != nil || len(got) != 0 {
		t.Errorf("Pending(empty room) = %v, %v; want nothing, nil", got, err)
	}

	// A negative mark takes a claim back (a page that was handed a pending
	// alert left before it was sent): the entry is pending again. Counters
	// never go below zero, so a second take-back leaves it at zero, and one
	// more page reached takes it out of pending again.
	for _, reached := range []int{-1, -1} {
		if err := j.Mark(ctx, "r", es[3].Offset, reached, 0); err != nil {
			t.Fatalf("Mark(%d, %d): %v", es[3].Offset, reached, err)
		}
	}
	got, err = j.Pending(ctx, "r", since)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if want := []string{"ev-0", "ev-2", "ev-3"}; !reflect.DeepEqual(eventIDs(got), want) {
		t.Errorf("Pending after taking ev-3's mark back = %v, want %v", eventIDs(got), want)
	}
	if err := j.Mark(ctx, "r", es[3].Offset, 1, 0); err != nil {
		t.Fatalf("Mark: %v", err)
	}
	got, err = j.Pending(ctx, "r", since)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if want := []string{"ev-0", "ev-2"}; !reflect.DeepEqual(eventIDs(got), want) {
		t.Errorf("Pending after reaching ev-3 again = %v, want %v (its counter went below zero)", eventIDs(got), want)
	}
}

// claimOnce: pages claiming a room's pending entries at once, through
// one store or through two processes sharing it (Peer), get each entry
// once between them; a claimed entry is no longer pending; an entry that
// reached a page, or that is not there, is not claimed; a claim taken back
// (a negative mark) can be claimed again.
func (s suite) claimOnce(t *testing.T) {
	j := s.open(t)
	stores := []journal.Journal{j}
	if s.peer != nil {
		p := s.peer(t, j)
		t.Cleanup(func() { _ = p.Close() })
		stores = append(stores, p)
	}
	ctx := t.Context()
	var offs []uint64
	for i := range 20 {
		offs = append(offs, mustAppend(t, j, delivery("r", fmt.Sprint("ev-", i), i)).Offset)
	}
	if err := j.Mark(ctx, "r", offs[0], 1, 0); err != nil {
		t.Fatal(err)
	}
	ask := append(slices.Clone(offs), offs[len(offs)-1]+100) // and one that is not there
	wins := make(chan []uint64, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			won, err := stores[i%len(stores)].Claim(ctx, "r", fmt.Sprint("page-", i), ask)
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
			wins <- won
		})
	}
	wg.Wait()
	close(wins)
	count := map[uint64]int{}
	for won := range wins {
		if !slices.IsSorted(won) {
			t.Errorf("Claim = %v, want the offsets in the order given", won)
		}
		for _, off := range won {
			count[off]++
		}
	}
	for _, off := range offs[1:] {
		if count[off] != 1 {
			t.Errorf("entry %d claimed %d times by pages claiming at once, want once", off, count[off])
		}
	}
	if count[offs[0]] != 0 || count[offs[len(offs)-1]+100] != 0 {
		t.Errorf("claimed an entry that reached a page (%d times) or is not there (%d times)", count[offs[0]], count[offs[len(offs)-1]+100])
	}
	if got, err := j.Pending(ctx, "r", time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("Pending after the claims = %v, %v; want none", eventIDs(got), err)
	}
	if err := j.Mark(ctx, "r", offs[5], -1, 0); err != nil {
		t.Fatal(err)
	}
	if won, err := stores[len(stores)-1].Claim(ctx, "r", "another", offs); err != nil || !slices.Equal(won, offs[5:6]) {
		t.Errorf("Claim after taking one claim back = %v, %v; want [%d]", won, err, offs[5])
	}
	if won, err := j.Claim(ctx, "nobody", "page-0", offs); err != nil || len(won) != 0 {
		t.Errorf("Claim(empty room) = %v, %v; want nothing", won, err)
	}
}

// markLive: a store that implements journal.LiveMarker adds the pages to
// the entry's LiveTo, as every read returns it, each page once, and only
// on that entry. A store without it has nothing to check.
func (s suite) markLive(t *testing.T) {
	j := s.open(t)
	lm, ok := j.(journal.LiveMarker)
	if !ok {
		t.Logf("%T does not implement journal.LiveMarker", j)
		return
	}
	ctx := t.Context()
	d := delivery("r", "ev-0", 0)
	d.LiveTo = []string{"p1"}
	first := mustAppend(t, j, d)
	second := mustAppend(t, j, delivery("r", "ev-1", 1))
	if err := lm.MarkLive(ctx, "r", first.Offset, []string{"p2", "p1"}); err != nil {
		t.Fatalf("MarkLive: %v", err)
	}
	if err := lm.MarkLive(ctx, "r", first.Offset, []string{"p3", "p2"}); err != nil {
		t.Fatalf("MarkLive again: %v", err)
	}
	if err := lm.MarkLive(ctx, "r", second.Offset+100, []string{"p9"}); err != nil {
		t.Errorf("MarkLive(unknown offset) = %v, want nil", err)
	}
	if err := lm.MarkLive(ctx, "nobody", 1, []string{"p9"}); err != nil {
		t.Errorf("MarkLive(unknown room) = %v, want nil", err)
	}
	want := []string{"p1", "p2", "p3"}
	check := func(how string, es []journal.Entry, err error) {
		t.Helper()
		if err != nil || len(es) != 2 {
			t.Fatalf("%s = %d entries, %v; want 2", how, len(es), err)
		}
		if got := es[0].Delivery.LiveTo; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: LiveTo = %q, want %q", how, got, want)
		}
		if got := es[1].Delivery.LiveTo; len(got) != 0 {
			t.Errorf("%s: the other entry's LiveTo = %q, want none", how, got)
		}
	}
	es, err := j.After(ctx, "r", 0, 10)
	check("After", es, err)
	es, err = j.Last(ctx, "r", 2)
	check("Last", es, err)
	es, err = j.Pending(ctx, "r", time.Time{})
	check("Pending", es, err)
	found, err := j.Find(ctx, "ev-0")
	if err != nil || len(found) != 1 || !reflect.DeepEqual(found[0].Delivery.LiveTo, want) {
		t.Errorf("Find = %+v, %v; want one entry live to %q", found, err, want)
	}
}

func (s suite) sessions(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	long := journal.Session{PID: "pid-long", Code: "alpha", Expires: time.Now().Add(time.Hour), Since: 1 << 40, Formerly: "pid-before", SID: "socket-id"}
	short := journal.Session{PID: "pid-short", Code: "beta", Expires: time.Now().Add(300 * time.Millisecond)}
	past := journal.Session{PID: "pid-past", Code: "gamma", Expires: time.Now().Add(-time.Second)}
	for _, s := range []journal.Session{long, short, past} {
		if err := j.SaveSession(ctx, s); err != nil {
			t.Fatalf("SaveSession(%s): %v", s.PID, err)
		}
	}
	check := func(pid string, wantOK bool, wantCode string) {
		t.Helper()
		got, ok, err := j.Session(ctx, pid)
		if err != nil {
			t.Fatalf("Session(%s): %v", pid, err)
		}
		if ok != wantOK || (ok && got.Code != wantCode) || (ok && got.PID != pid) {
			t.Errorf("Session(%s) = %+v, %v; want code %q, %v", pid, got, ok, wantCode, wantOK)
		}
	}
	check("pid-long", true, "alpha")
	check("pid-short", true, "beta")
	check("pid-past", false, "")
	check("pid-unknown", false, "")
	got, _, _ := j.Session(ctx, "pid-long")
	if got.Expires.Sub(long.Expires).Abs() >= time.Millisecond || got.Since != long.Since || got.Formerly != long.Formerly || got.SID != long.SID {
		t.Errorf("Session(pid-long) = expires %v, since %d, formerly %q, sid %q; want %v, %d, %q, %q",
			got.Expires, got.Since, got.Formerly, got.SID, long.Expires, long.Since, long.Formerly, long.SID)
	}
	if got, _, _ := j.Session(ctx, "pid-short"); got.Since != 0 || got.Formerly != "" || got.SID != "" {
		t.Errorf("Session(pid-short) = since %d, formerly %q, sid %q; want 0, none, none (never set)", got.Since, got.Formerly, got.SID)
	}
	time.Sleep(time.Until(short.Expires) + 100*time.Millisecond)
	check("pid-short", false, "")
	check("pid-long", true, "alpha")
	// Saving again moves the expiry (a page that keeps reconnecting).
	short.Expires = time.Now().Add(time.Hour)
	if err := j.SaveSession(ctx, short); err != nil {
		t.Fatal(err)
	}
	check("pid-short", true, "beta")
}

func (s suite) seenAndForget(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	seen := func(key string, ttl time.Duration, want bool) {
		t.Helper()
		dup, err := j.Seen(ctx, key, ttl)
		if err != nil {
			t.Fatalf("Seen(%s): %v", key, err)
		}
		if dup != want {
			t.Errorf("Seen(%s) = %v, want %v", key, dup, want)
		}
	}
	seen("twitch:m1", time.Hour, false)
	seen("twitch:m1", time.Hour, true)
	seen("twitch:m1", time.Hour, true)
	seen("kofi:m1", time.Hour, false) // keys are distinct
	if err := j.Forget(ctx, "twitch:m1"); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	seen("twitch:m1", time.Hour, false) // the platform's retry is accepted
	seen("twitch:m1", time.Hour, true)
	if err := j.Forget(ctx, "never-seen"); err != nil {
		t.Errorf("Forget(unknown) = %v, want nil", err)
	}
	seen("short", 300*time.Millisecond, false)
	seen("short", 300*time.Millisecond, true)
	time.Sleep(400 * time.Millisecond)
	seen("short", 300*time.Millisecond, false) // expired: a new message

	// Concurrent Seen of one key: exactly one caller is first.
	const callers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for range callers {
		wg.Go(func() {
			dup, err := j.Seen(ctx, "race", time.Hour)
			if err != nil {
				t.Errorf("Seen(race): %v", err)
				return
			}
			if !dup {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("%d concurrent Seen of one key: %d saw it first, want exactly 1", callers, firsts)
	}
}

// waitFor polls cond until it holds or eventually passes.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %v", what, state, eventually)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s suite) retentionByCount(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	j.SetRetention(journal.Retention{MaxEntries: 5, MaxAge: time.Hour})
	var es []journal.Entry
	for i := range 12 {
		es = append(es, mustAppend(t, j, delivery("r", fmt.Sprint("ev-", i), i)))
	}
	mustAppend(t, j, delivery("small", "small", 0))
	want := journal.Offsets(es[7:])
	waitFor(t, "trim to the last 5", func() (bool, string) {
		got, err := j.After(ctx, "r", 0, 100)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		return reflect.DeepEqual(journal.Offsets(got), want), fmt.Sprint(journal.Offsets(got))
	})
	if got, _ := j.Find(ctx, "ev-0"); len(got) != 0 {
		t.Errorf("Find(ev-0) after trimming = %d entries, want none", len(got))
	}
	if got, _ := j.After(ctx, "small", 0, 10); len(got) != 1 {
		t.Errorf("a room under the limit lost entries: %d left, want 1", len(got))
	}
	// Lowering the limit trims rooms that receive nothing new.
	j.SetRetention(journal.Retention{MaxEntries: 2, MaxAge: time.Hour})
	want = journal.Offsets(es[10:])
	waitFor(t, "trim to the last 2 after SetRetention", func() (bool, string) {
		got, err := j.After(ctx, "r", 0, 100)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		return reflect.DeepEqual(journal.Offsets(got), want), fmt.Sprint(journal.Offsets(got))
	})
	// Offsets continue after trimming.
	if e := mustAppend(t, j, delivery("r", "next", 13)); e.Offset <= es[11].Offset {
		t.Errorf("offset after trimming = %d, want > %d", e.Offset, es[11].Offset)
	}
}

func (s suite) retentionByAge(t *testing.T) {
	j := s.open(t)
	ctx := t.Context()
	j.SetRetention(journal.Retention{MaxEntries: 100, MaxAge: 300 * time.Millisecond})
	mustAppend(t, j, delivery("r", "old", 0))
	gone := mustAppend(t, j, delivery("gone", "gone", 0))
	time.Sleep(400 * time.Millisecond)
	fresh := mustAppend(t, j, delivery("r", "fresh", 1))
	j.SetRetention(journal.Retention{MaxEntries: 100, MaxAge: 300 * time.Millisecond}) // and trim now
	waitFor(t, "trim entries older than max age", func() (bool, string) {
		got, err := j.After(ctx, "r", 0, 100)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		left, err := j.After(ctx, "gone", 0, 100)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		return len(got) == 1 && got[0].Offset == fresh.Offset && len(left) == 0, fmt.Sprint(eventIDs(got), eventIDs(left))
	})
	// A room whose whole history aged out still never reuses an offset.
	if e := mustAppend(t, j, delivery("gone", "back", 1)); e.Offset <= gone.Offset {
		t.Errorf("offset in a room whose history aged out = %d, want > %d", e.Offset, gone.Offset)
	}
}

func (s suite) stats(t *testing.T) {
	j := s.open(t)
	for i := range 6 {
		mustAppend(t, j, delivery([]string{"a", "b", "c"}[i%3], fmt.Sprint("ev-", i), i))
	}
	st := j.Stats()
	if st.Store == "" {
		t.Errorf("Stats.Store is empty, want the store's name")
	}
	if st.Epoch == "" || st.Epoch != j.Epoch() {
		t.Errorf("Stats.Epoch = %q, Epoch() = %q; want the same, non-empty", st.Epoch, j.Epoch())
	}
	if st.Rooms != 3 || st.Entries != 6 {
		t.Errorf("Stats = %d rooms, %d entries; want 3, 6", st.Rooms, st.Entries)
	}
	if st.AppendErrors != 0 || st.LastError != "" {
		t.Errorf("Stats of a healthy store: %d append errors, last %q", st.AppendErrors, st.LastError)
	}
	if _, err := journal.ParsePosition(journal.Position{Epoch: j.Epoch(), Offset: 7}.String()); err != nil {
		t.Errorf("the epoch %q does not make a position a page can send back: %v", j.Epoch(), err)
	}
}

func (s suite) doneContext(t *testing.T) {
	j := s.open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := j.Append(ctx, delivery("r", "late", 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append(done context) = %v, want context.Canceled", err)
	}
	// The store still works for live callers.
	mustAppend(t, j, delivery("r", "live", 1))
}

func (s suite) closed(t *testing.T) {
	j := s.open(t)
	mustAppend(t, j, delivery("r", "ev", 0))
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	calls := []struct {
		name string
		call func() error
	}{
		{name: "Append", call: func() error { _, err := j.Append(ctx, delivery("r", "x", 1)); return err }},
		{name: "After", call: func() error { _, err := j.After(ctx, "r", 0, 1); return err }},
		{name: "Last", call: func() error { _, err := j.Last(ctx, "r", 1); return err }},
		{name: "Find", call: func() error { _, err := j.Find(ctx, "ev"); return err }},
		{name: "Mark", call: func() error { return j.Mark(ctx, "r", 1, 1, 0) }},
		{name: "Pending", call: func() error { _, err := j.Pending(ctx, "r", time.Time{}); return err }},
		{name: "SaveSession", call: func() error {
			return j.SaveSession(ctx, journal.Session{PID: "p", Code: "c", Expires: time.Now().Add(time.Hour)})
		}},
		{name: "Session", call: func() error { _, _, err := j.Session(ctx, "p"); return err }},
		{name: "Seen", call: func() error { _, err := j.Seen(ctx, "k", time.Hour); return err }},
		{name: "Forget", call: func() error { return j.Forget(ctx, "k") }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, journal.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
	j.SetRetention(journal.Retention{MaxEntries: 1}) // must not panic or block
	_ = j.Stats()
	_ = j.Epoch()
	if err := j.Close(); err != nil && !errors.Is(err, journal.ErrClosed) {
		t.Errorf("second Close = %v, want nil or ErrClosed", err)
	}
}

func (s suite) concurrentAppends(t *testing.T) {
	j := s.open(t)
	const writers, each = 8, 40
	rooms := []string{"a", "b", "c"}
	type got struct {
		room string
		off  uint64
	}
	results := make([][]got, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var last = map[string]uint64{}
			for i := range each {
				room := rooms[(w+i)%len(rooms)]
				e, err := j.Append(t.Context(), delivery(room, fmt.Sprintf("w%d-%d", w, i), i))
				if err != nil {
					t.Errorf("writer %d: Append: %v", w, err)
					return
				}
				// One writer's appends to a room are ordered as it made them.
				if e.Offset <= last[room] {
					t.Errorf("writer %d: offset %d in %s after %d", w, e.Offset, room, last[room])
				}
				last[room] = e.Offset
				results[w] = append(results[w], got{room: room, off: e.Offset})
			}
		})
		// Readers run alongside the writers.
		wg.Go(func() {
			for range each / 4 {
				if _, err := j.Last(t.Context(), rooms[w%len(rooms)], 5); err != nil {
					t.Errorf("Last during appends: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	handed := map[string]map[uint64]bool{}
	for _, rs := range results {
		for _, r := range rs {
			if handed[r.room] == nil {
				handed[r.room] = map[uint64]bool{}
			}
			if handed[r.room][r.off] {
				t.Fatalf("offset %d handed out twice in room %s", r.off, r.room)
			}
			handed[r.room][r.off] = true
		}
	}
	for _, room := range rooms {
		es, err := j.After(t.Context(), room, 0, writers*each)
		if err != nil {
			t.Fatalf("After(%s): %v", room, err)
		}
		if len(es) != len(handed[room]) {
			t.Errorf("room %s holds %d entries, %d were appended", room, len(es), len(handed[room]))
		}
		for i, e := range es {
			if !handed[room][e.Offset] {
				t.Errorf("room %s holds offset %d that no Append returned", room, e.Offset)
			}
			if i > 0 && e.Offset <= es[i-1].Offset {
				t.Errorf("room %s: After is not in offset order at %d", room, i)
			}
			if e.Delivery.Room != room || e.Delivery.Offset != e.Offset {
				t.Errorf("room %s offset %d holds a delivery for %s/%d", room, e.Offset, e.Delivery.Room, e.Delivery.Offset)
			}
		}
	}
}

func (s suite) needReopen(t *testing.T) {
	t.Helper()
	if s.reopen == nil {
		t.Skip("the store has no persistence (no Reopen option)")
	}
}

func (s suite) reopenKeeps(t *testing.T) {
	s.needReopen(t)
	j := s.open(t)
	ctx := t.Context()
	e := mustAppend(t, j, delivery("r", "kept", 0))
	if err := j.Mark(ctx, "r", e.Offset, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := j.SaveSession(ctx, journal.Session{PID: "pid", Code: "r", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Seen(ctx, "twitch:m", time.Hour); err != nil {
		t.Fatal(err)
	}
	epoch := j.Epoch()
	j = s.reopen(t, j)
	t.Cleanup(func() { _ = j.Close() })
	if j.Epoch() != epoch {
		t.Errorf("Epoch after reopen = %q, want %q (the history is the same)", j.Epoch(), epoch)
	}
	got, err := j.After(ctx, "r", 0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("After reopen: %d entries, %v; want 1", len(got), err)
	}
	if got[0].Offset != e.Offset || got[0].Reached != 2 || got[0].Acked != 1 || got[0].Delivery.EventID != "kept" {
		t.Errorf("entry after reopen = %s/%d reached %d acked %d, want kept/%d 2 1", got[0].Delivery.EventID, got[0].Offset, got[0].Reached, got[0].Acked, e.Offset)
	}
	if found, err := j.Find(ctx, "kept"); err != nil || len(found) != 1 {
		t.Errorf("Find after reopen = %d entries, %v; want 1", len(found), err)
	}
	if sess, ok, err := j.Session(ctx, "pid"); err != nil || !ok || sess.Code != "r" {
		t.Errorf("Session after reopen = %+v, %v, %v; want code r", sess, ok, err)
	}
	if dup, err := j.Seen(ctx, "twitch:m", time.Hour); err != nil || !dup {
		t.Errorf("Seen after reopen = %v, %v; want true (a retry after a restart is still a retry)", dup, err)
	}
	if st := j.Stats(); st.Entries != 1 || st.Rooms != 1 {
		t.Errorf("Stats after reopen = %d rooms, %d entries; want 1, 1", st.Rooms, st.Entries)
	}
}

func (s suite) reopenNeverReuses(t *testing.T) {
	s.needReopen(t)
	j := s.open(t)
	var last uint64
	for i := range 5 {
		last = mustAppend(t, j, delivery("r", fmt.Sprint("ev-", i), i)).Offset
	}
	j = s.reopen(t, j)
	e := mustAppend(t, j, delivery("r", "after-reopen", 5))
	if e.Offset <= last {
		t.Errorf("offset after reopen = %d, want > %d", e.Offset, last)
	}
	last = e.Offset
	// Even when retention removed the whole history of the room.
	j.SetRetention(journal.Retention{MaxEntries: 100, MaxAge: 200 * time.Millisecond})
	time.Sleep(300 * time.Millisecond)
	j.SetRetention(journal.Retention{MaxEntries: 100, MaxAge: 200 * time.Millisecond})
	waitFor(t, "age out the room", func() (bool, string) {
		got, err := j.After(t.Context(), "r", 0, 100)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		return len(got) == 0, fmt.Sprint(journal.Offsets(got))
	})
	j = s.reopen(t, j)
	t.Cleanup(func() { _ = j.Close() })
	if e := mustAppend(t, j, delivery("r", "after-trim", 6)); e.Offset <= last {
		t.Errorf("offset after the room aged out and a reopen = %d, want > %d", e.Offset, last)
	}
}
