package router_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/bolt"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/router"
)

// recordingBroker is a fake of our own broker seam: it keeps what it was
// asked to publish, per room, in order, and reports a fixed page count.
type recordingBroker struct {
	mu     sync.Mutex
	pages  int
	byRoom map[string][]herald.Delivery
	closed bool
	// localOnly makes it answer a delivery without an offset as
	// broker/redis does while Redis is away.
	localOnly atomic.Bool
	// local counts the deliveries handed to this node's pages alone
	// (PublishLocal).
	local atomic.Int64
	// shut makes it refuse every delivery, as a closed broker does.
	shut atomic.Bool
}

// PublishLocal is broker/redis's hand-over to this node's pages alone.
func (b *recordingBroker) PublishLocal(ctx context.Context, d herald.Delivery) (int, error) {
	b.local.Add(1)
	n, err := b.Publish(ctx, d)
	if err == nil {
		err = broker.ErrLocalOnly
	}
	return n, err
}

func (b *recordingBroker) Publish(_ context.Context, d herald.Delivery) (int, error) {
	if b.shut.Load() {
		return 0, broker.Closed("recording broker: closed")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byRoom == nil {
		b.byRoom = map[string][]herald.Delivery{}
	}
	b.byRoom[d.Room] = append(b.byRoom[d.Room], d)
	// Give other publishers a chance to overtake, as a real fan-out would.
	b.mu.Unlock()
	time.Sleep(time.Microsecond)
	b.mu.Lock()
	if d.Offset == 0 && !d.Replayed && b.localOnly.Load() {
		return b.pages, broker.ErrLocalOnly
	}
	return b.pages, nil
}
func (b *recordingBroker) Subscribe(broker.Subscriber)   {}
func (b *recordingBroker) Close(_ context.Context) error { b.closed = true; return nil }

func stores(t *testing.T) map[string]func() journal.Journal {
	return map[string]func() journal.Journal{
		"mem": func() journal.Journal { return mem.New() },
		"bolt": func() journal.Journal {
			s, err := bolt.Open(t.TempDir(), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func alert(room, id string) herald.Delivery {
	return herald.Delivery{EventID: id, Source: "trigger", Room: room, Name: "FOLLOW", Payload: map[string]any{"id": id}, Time: time.Now()}
}

// TestJournaledPublishesInOffsetOrder sends concurrent deliveries to two
// rooms: every one reaches the broker with an offset, each room's offsets
// reach it strictly increasing, and the journal holds exactly them.
func TestJournaledPublishesInOffsetOrder(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			j := open()
			defer j.Close()
			j.SetRetention(journal.Retention{MaxEntries: 100_000})
			rb := &recordingBroker{pages: 1}
			x := router.NewJournaled(rb, j, nil)
			const senders, each = 32, 25
			var wg sync.WaitGroup
			for s := range senders {
				wg.Go(func() {
					for i := range each {
						room := []string{"a", "b"}[(s+i)%2]
						if _, err := x.Publish(t.Context(), alert(room, fmt.Sprintf("s%d-%d", s, i))); err != nil {
							t.Errorf("Publish: %v", err)
						}
					}
				})
			}
			wg.Wait()
			if err := x.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			total := 0
			for room, ds := range rb.byRoom {
				for i, d := range ds {
					if d.Offset == 0 {
						t.Fatalf("room %s: delivery %s published without an offset", room, d.EventID)
					}
					if i > 0 && d.Offset <= ds[i-1].Offset {
						t.Fatalf("room %s: offset %d published after %d (position %d)", room, d.Offset, ds[i-1].Offset, i)
					}
				}
				es, err := j.After(t.Context(), room, 0, 100_000)
				if err != nil || len(es) != len(ds) {
					t.Fatalf("room %s: journal holds %d entries (%v), broker got %d", room, len(es), err, len(ds))
				}
				for i := range es {
					if es[i].Offset != ds[i].Offset || es[i].Delivery.EventID != ds[i].EventID {
						t.Errorf("room %s #%d: journal %d/%s, published %d/%s", room, i, es[i].Offset, es[i].Delivery.EventID, ds[i].Offset, ds[i].EventID)
					}
					if es[i].Reached != 1 {
						t.Errorf("room %s offset %d: reached %d, want 1 (marked after publishing)", room, es[i].Offset, es[i].Reached)
					}
				}
				total += len(ds)
			}
			if total != senders*each {
				t.Errorf("broker got %d deliveries, want %d", total, senders*each)
			}
		})
	}
}

// TestJournaledFailedAppendStillDelivers closes the journal under the
// broker: alerts still go out live, without an offset, and the failure is
// counted and shown.
func TestJournaledFailedAppendStillDelivers(t *testing.T) {
	j := mem.New()
	rb := &recordingBroker{pages: 2}
	x := router.NewJournaled(rb, j, nil)
	_ = j.Close()
	n, err := x.Publish(t.Context(), alert("a", "live"))
	if err != nil || n != 2 {
		t.Fatalf("Publish with a broken journal = %d, %v; want 2 pages, nil", n, err)
	}
	if got := rb.byRoom["a"]; len(got) != 1 || got[0].Offset != 0 {
		t.Fatalf("broker got %+v, want the one alert without an offset", got)
	}
	st := x.Status()
	if st.Failures != 1 || st.LastFailure == nil {
		t.Errorf("Status = %+v, want 1 failure with its message", st)
	}
}

// TestJournaledUnreachedStaysPending: an alert that reached no page is not
// marked, so it is pending; one that reached pages is not.
func TestJournaledUnreachedStaysPending(t *testing.T) {
	j := mem.New()
	defer j.Close()
	since := time.Now().Add(-time.Second)
	nobody := &recordingBroker{pages: 0}
	x := router.NewJournaled(nobody, j, nil)
	if _, err := x.Publish(t.Context(), alert("a", "unseen")); err != nil {
		t.Fatal(err)
	}
	_ = x.Close(t.Context())
	someone := &recordingBroker{pages: 1}
	y := router.NewJournaled(someone, j, nil)
	if _, err := y.Publish(t.Context(), alert("a", "seen")); err != nil {
		t.Fatal(err)
	}
	_ = y.Close(t.Context())
	got, err := j.Pending(t.Context(), "a", since)
	if err != nil || len(got) != 1 || got[0].Delivery.EventID != "unseen" {
		t.Errorf("Pending = %v, %v; want only the alert that reached nobody", got, err)
	}
}

// TestJournaledAlertRefusedAtShutdown: while herald shuts down, the
// broker (or a sink) refuses a delivery the journal has already taken.
// The sender is not told to send it again (its retry would show it
// twice): the alert waits in the journal, pending, for the pages. A
// journal in memory goes with herald: then the sender is told to retry.
func TestJournaledAlertRefusedAtShutdown(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			j := open()
			defer j.Close()
			b := broker.NewLocal()
			_ = b.Close(t.Context())
			x := router.NewJournaled(b, j, nil)
			defer x.Close(t.Context())
			since := time.Now().Add(-time.Second)
			n, err := x.Publish(t.Context(), alert("a", "at-shutdown"))
			if _, volatile := j.(journal.Volatile); volatile {
				if !errors.Is(err, broker.ErrClosed) {
					t.Errorf("Publish = %d, %v; want the broker's refusal (the history ends with herald)", n, err)
				}
				return
			}
			if err != nil || n != 0 {
				t.Fatalf("Publish = %d, %v; want 0 pages and no error (the journal has it)", n, err)
			}
			got, err := j.Pending(t.Context(), "a", since)
			if err != nil || len(got) != 1 || got[0].Delivery.EventID != "at-shutdown" {
				t.Errorf("Pending = %v, %v; want the refused alert, for the first page", got, err)
			}
		})
	}
}

func TestJournaledReplay(t *testing.T) {
	j := mem.New()
	defer j.Close()
	rb := &recordingBroker{pages: 1}
	x := router.NewJournaled(rb, j, nil)
	for i := range 3 {
		if _, err := x.Publish(t.Context(), alert("a", fmt.Sprint("ev-", i))); err != nil {
			t.Fatal(err)
		}
	}
	es, err := j.Last(t.Context(), "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	es[0].Delivery.LiveTo = []string{"pid-1"} // journaled late: that page had it live
	n, err := x.Replay(t.Context(), es)
	if err != nil || n != 2 {
		t.Fatalf("Replay = %d, %v; want 2 pages", n, err)
	}
	got := rb.byRoom["a"][3:]
	for i, d := range got {
		if !d.Replayed || d.Offset != 0 || d.EventID != es[i].Delivery.EventID || d.LiveTo != nil {
			t.Errorf("replayed delivery %d = %+v, want %s with replayed set, no offset and no LiveTo (a replay is for every page)", i, d, es[i].Delivery.EventID)
		}
	}
	if after, _ := j.After(t.Context(), "a", 0, 10); len(after) != 3 {
		t.Errorf("journal holds %d entries after a replay, want 3 (a replay is not a new alert)", len(after))
	}
}

// gatedJournal is a fake of our own journal seam whose appends behave as
// a journal going away does: by the alert's id, an append blocks until
// its deadline ("hang"), is refused at once ("refuse"), or is stored.
type gatedJournal struct{ journal.Journal }

func (g gatedJournal) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	switch d.Payload["append"] {
	case "hang":
		<-ctx.Done()
		return journal.Entry{}, ctx.Err()
	case "refuse":
		return journal.Entry{}, errors.New("connection refused")
	case "slow":
		time.Sleep(time.Duration(d.Payload["delay"].(int)) * time.Millisecond)
	}
	return g.Journal.Append(ctx, d)
}

// TestJournaledFailuresKeepTheirOrder: when the journal goes away, an
// append that hangs until its timeout and a later one refused at once
// must still reach pages in the order they came in (a Redis outage
// delivered them swapped). An alert journaled after a failed one waits
// for it too.
func TestJournaledFailuresKeepTheirOrder(t *testing.T) {
	for _, tt := range []struct {
		name    string
		appends []string // how each delivery's append behaves, in order of arrival
	}{
		{"a hang, then a refusal", []string{"hang", "refuse"}},
		{"a refusal, a hang, a refusal", []string{"refuse", "hang", "refuse"}},
		{"a hang, then a stored one", []string{"hang", "store"}},
		{"two hangs, then a refusal", []string{"hang", "hang", "refuse"}},
		{"a slow stored one, then a refusal", []string{"slow", "refuse"}},
		{"a slow stored one, a hang, a refusal", []string{"slow", "hang", "refuse"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rb := &recordingBroker{pages: 1}
				j := mem.New()
				defer j.Close()
				x := router.NewJournaled(rb, gatedJournal{j}, nil)
				var wg sync.WaitGroup
				for i, how := range tt.appends {
					d := alert("r", fmt.Sprint(i))
					d.Payload["append"], d.Payload["delay"] = how, 500
					wg.Go(func() {
						if _, err := x.Publish(t.Context(), d); err != nil {
							t.Errorf("Publish %d: %v", i, err)
						}
					})
					synctest.Wait() // it is appending, or waiting its turn, before the next comes
				}
				wg.Wait()
				if err := x.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, d := range rb.byRoom["r"] {
					got = append(got, d.EventID)
				}
				if want := []string{"0", "1", "2"}[:len(tt.appends)]; !slices.Equal(got, want) {
					t.Errorf("published %v, want %v (the order they came in)", got, want)
				}
			})
		})
	}
}

// TestJournaledMixedOutcomesNeverDeadlock: deliveries to two rooms from
// many senders, whose appends hang, are refused, succeed slowly or at
// once, in a random mix: every Publish returns (synctest reports a
// deadlock otherwise), and each room's journaled deliveries are published
// in offset order.
func TestJournaledMixedOutcomesNeverDeadlock(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(seed, 1))
				rb := &recordingBroker{pages: 1}
				j := mem.New()
				defer j.Close()
				x := router.NewJournaled(rb, gatedJournal{j}, nil)
				var wg sync.WaitGroup
				for i := range 60 {
					d := alert([]string{"a", "b"}[rnd.IntN(2)], fmt.Sprint(i))
					d.Payload["append"] = []string{"hang", "refuse", "slow", "store"}[rnd.IntN(4)]
					d.Payload["delay"] = rnd.IntN(3000)
					wg.Go(func() {
						if _, err := x.Publish(t.Context(), d); err != nil {
							t.Errorf("Publish: %v", err)
						}
					})
					time.Sleep(time.Duration(rnd.IntN(300)) * time.Millisecond)
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(time.Hour): // fake time: an hour passes at once once all wait
					t.Fatal("deadlock: Publish calls still waiting an hour after the last append timed out")
				}
				if err := x.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				for room, ds := range rb.byRoom {
					var last uint64
					for _, d := range ds {
						if d.Offset == 0 {
							continue
						}
						if d.Offset <= last {
							t.Errorf("room %s: offset %d published after %d", room, d.Offset, last)
						}
						last = d.Offset
					}
				}
			})
		})
	}
}

// failingJournaled is a Journaled over a journal in memory that fails
// every append while down is true, reaching one page, logging to logs.
func failingJournaled(t *testing.T) (x *router.Journaled, logs *lockedBuffer, down *atomic.Bool) {
	var hang, stall atomic.Bool
	var appends atomic.Int64
	logs, down = &lockedBuffer{}, &atomic.Bool{}
	j := mem.New()
	t.Cleanup(func() { j.Close() })
	x = router.NewJournaled(&recordingBroker{pages: 1}, switchedJournal{j, down, &hang, &stall, &appends, nil},
		slog.New(slog.NewTextHandler(logs, nil)))
	return x, logs, down
}

// TestJournaledFailingDiskLogsPaced: a journal that fails every append (a
// failing disk) is logged at ERROR at once, then once a minute with how
// many failed since, not once per alert; the first append that works again
// says how many alerts went live without history, and a new failure
// after that is a new ERROR at once.
func TestJournaledFailingDiskLogsPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, logs, down := failingJournaled(t)
		publish := func(id string) {
			t.Helper()
			if n, err := x.Publish(t.Context(), alert("r", id)); err != nil || n != 1 {
				t.Fatalf("Publish %s = %d, %v; want it live to the page", id, n, err)
			}
		}
		down.Store(true)
		for i := range 50 {
			publish(fmt.Sprint("f", i))
			time.Sleep(time.Second)
		}
		if n := logs.count("level=ERROR"); n != 1 {
			t.Fatalf("%d ERROR lines for 50 failures within a minute, want 1:\n%s", n, logs.String())
		}
		if st := x.Status(); !st.Failing || st.State != router.JournalFailing {
			t.Errorf("Status while failing = %+v, want Failing, state failing", st)
		}
		time.Sleep(15 * time.Second)
		publish("f50")
		if n := logs.count("level=ERROR"); n != 2 || logs.count("failed_since_last_line=50") != 1 {
			t.Fatalf("a minute on: %d ERROR lines, want 2, the second counting 50:\n%s", n, logs.String())
		}
		down.Store(false)
		publish("ok1")
		publish("ok2")
		if logs.count("journal appends work again") != 1 || logs.count("alerts_sent_without_history=51") != 1 {
			t.Fatalf("the end of the outage is not logged once with its 51 alerts:\n%s", logs.String())
		}
		if st := x.Status(); !st.Failing {
			t.Errorf("Status right after the outage = %+v, want Failing for a minute", st)
		}
		time.Sleep(time.Minute)
		if st := x.Status(); st.Failing || st.State != router.JournalOK {
			t.Errorf("Status a minute after the last failure = %+v, want not Failing, state ok", st)
		}
		down.Store(true)
		publish("again")
		if n := logs.count("level=ERROR"); n != 3 {
			t.Errorf("a new failure after recovery: %d ERROR lines, want 3:\n%s", n, logs.String())
		}
		if st := x.Status(); st.Failures != 52 {
			t.Errorf("Status counts %d failures, want 52", st.Failures)
		}
		if err := x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestJournaledFlappingDiskLogsPaced: a journal that fails every other
// append (a disk that fills and is trimmed, a Redis at its memory limit)
// is logged as one that keeps failing: an ERROR line and its INFO end at
// once, then nothing more for a minute however often it flips.
func TestJournaledFlappingDiskLogsPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, logs, down := failingJournaled(t)
		for i := range 100 {
			down.Store(i%2 == 0)
			if n, err := x.Publish(t.Context(), alert("r", fmt.Sprint(i))); err != nil || n != 1 {
				t.Fatalf("Publish %d = %d, %v; want it live to the page", i, n, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if e, i := logs.count("level=ERROR"), logs.count("journal appends work again"); e != 1 || i != 1 {
			t.Fatalf("50 failures, each followed by a success, within a minute: %d ERROR and %d INFO lines, want 1 and 1:\n%s", e, i, logs.String())
		}
		time.Sleep(15 * time.Second)
		down.Store(true)
		x.Publish(t.Context(), alert("r", "later"))
		down.Store(false)
		x.Publish(t.Context(), alert("r", "after"))
		if logs.count("level=ERROR") != 2 || logs.count("failed_since_last_line=50") != 1 ||
			logs.count("alerts_sent_without_history=50") != 1 {
			t.Errorf("a minute on: want a second ERROR line counting the 50 failures since the first, and an INFO line counting the 50 since the first INFO:\n%s", logs.String())
		}
		if err := x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// storeStats is a journal whose Stats say what the test needs.
type storeStats struct {
	journal.Journal
	stats journal.Stats
}

func (s storeStats) Stats() journal.Stats { return s.stats }

// TestJournalStateOfTheStore: a store's own last error is no failure (bolt
// keeps it after it recovered), and a memory store is fine when it was
// asked for; only the memory store that stands in for an unusable --data,
// which carries why, makes the state "memory".
func TestJournalStateOfTheStore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stats journal.Stats
		want  string
	}{
		{"on disk", journal.Stats{Store: "bolt"}, router.JournalOK},
		{"a store error of the past", journal.Stats{Store: "bolt", LastError: "write: file too large"}, router.JournalOK},
		{"--data :memory:", journal.Stats{Store: "memory"}, router.JournalOK},
		{"in memory for want of --data", journal.Stats{Store: "memory", LastError: "journal on disk unavailable"}, router.JournalInMemory},
	} {
		j := mem.New()
		x := router.NewJournaled(&recordingBroker{pages: 1}, storeStats{j, tc.stats}, slog.New(slog.DiscardHandler))
		if got := x.Status(); got.State != tc.want || got.Failing {
			t.Errorf("%s: state %q (failing %v), want %q", tc.name, got.State, got.Failing, tc.want)
		}
		if err := x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		j.Close()
	}
}
