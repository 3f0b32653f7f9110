package recovery_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

func appendN(t *testing.T, j journal.Journal, room string, n int) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	for i := range n {
		e, err := j.Append(t.Context(), herald.Delivery{EventID: fmt.Sprintf("%s-%d", room, i), Room: room, Name: "FOLLOW", Time: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// appendLiveTo journals one alert of room that the pages of pids had live.
func appendLiveTo(t *testing.T, j journal.Journal, room string, pids ...string) journal.Entry {
	t.Helper()
	e, err := j.Append(t.Context(), herald.Delivery{EventID: "late-" + pids[0], Room: room, Name: "TIP", Time: time.Now(), LiveTo: pids})
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Mark(t.Context(), room, e.Offset, len(pids), 0)
	return e
}

// TestCatchupLeavesOutLiveAlerts: the page model's second read skips what
// the recovering page had live, and only for that page.
func TestCatchupLeavesOutLiveAlerts(t *testing.T) {
	j := mem.New()
	defer j.Close()
	k := recovery.New(j, recovery.Options{})
	appendN(t, j, "abc", 1)
	appendLiveTo(t, j, "abc", "pid-1")
	appendN(t, j, "abc", 1)
	for _, tc := range []struct {
		pids []string
		want []uint64
	}{
		{[]string{"pid-1"}, []uint64{3}},
		{[]string{"pid-2"}, []uint64{2, 3}},
		{[]string{"pid-2", "pid-1"}, []uint64{3}}, // pid-2 replaced pid-1
		{[]string{"", ""}, []uint64{2, 3}},
		{nil, []uint64{2, 3}},
	} {
		es, err := k.Catchup(t.Context(), "abc", 1, tc.pids...)
		if err != nil {
			t.Fatal(err)
		}
		if got := journal.Offsets(es); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Catchup after 1 for %q = %v, want %v", tc.pids, got, tc.want)
		}
	}
}

// TestCatchupReadsEverythingAfterTheOffset: a page away for more alerts
// than one read returns (MaxMissed) gets all of them from Connect's read
// and the catch-up's together, with no gap between them and the live
// ones.
func TestCatchupReadsEverythingAfterTheOffset(t *testing.T) {
	j := mem.New()
	defer j.Close()
	k := recovery.New(j, recovery.Options{MaxMissed: 10})
	all := appendN(t, j, "abc", 35)
	for _, after := range []uint64{0, 5, 10, 25, 30, 35} {
		es, err := k.Catchup(t.Context(), "abc", after)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := journal.Offsets(es), journal.Offsets(all[after:]); !reflect.DeepEqual(got, want) {
			t.Errorf("Catchup after %d = %v, want %v", after, got, want)
		}
	}
}

func TestConnect(t *testing.T) {
	tests := []struct {
		name string
		opts recovery.Options
		// setup journals history and returns the request; pos renders an
		// offset of this journal.
		setup         func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request
		wantRecovered bool
		wantSamePID   bool
		wantCode      string
		wantMissed    []uint64
		wantPending   bool
		// wantReplayed are the missed alerts marked replayed: all of them
		// when wantPending, else a reloaded page's that reached no page.
		wantReplayed []uint64
		// wantSince is where the page's session starts: where it resumes
		// if it comes back with its pid and no offset.
		wantSince uint64
		// wantFormerly is the session the recovered one replaced.
		wantFormerly string
	}{
		{
			name:  "new page without a code",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request { return recovery.Request{} },
		},
		{
			name: "new page of a room with pending alerts",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				es := appendN(t, j, "abc", 3)
				_ = j.Mark(t.Context(), "abc", es[1].Offset, 1, 0) // that one reached a page
				return recovery.Request{Code: "abc"}
			},
			wantCode: "abc", wantMissed: []uint64{1, 3}, wantPending: true, wantSince: 0,
		},
		{
			name: "pending alerts older than the window stay behind",
			opts: recovery.Options{PendingWindow: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 2)
				return recovery.Request{Code: "abc"}
			},
			wantCode: "abc", wantSince: 2,
		},
		{
			name: "pending delivery turned off",
			opts: recovery.Options{PendingOff: true},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 2)
				return recovery.Request{Code: "abc"}
			},
			wantCode: "abc", wantSince: 2,
		},
		{
			name: "socket.io recovery from a known pid",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0}); err != nil {
					t.Fatal(err)
				}
				appendN(t, j, "abc", 4)
				appendN(t, j, "other", 2)
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{3, 4}, wantSince: 2,
		},
		{
			name: "alerts a page had live before they were journaled are not sent again",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0}); err != nil {
					t.Fatal(err)
				}
				appendN(t, j, "abc", 2)
				appendLiveTo(t, j, "abc", "pid-1", "pid-2") // its node's pages had it while Redis was away
				appendLiveTo(t, j, "abc", "pid-2")          // another page had this one
				appendN(t, j, "abc", 1)
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{4, 5}, wantSince: 2,
		},
		{
			name: "nor alerts it had live in the session this one replaced",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				// A node that could not reach Redis gave the page pid-1 for
				// pid-0; the alert it had live on its first node is
				// journaled late, naming pid-0.
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Formerly: "pid-0"}); err != nil {
					t.Fatal(err)
				}
				appendN(t, j, "abc", 2)
				appendLiveTo(t, j, "abc", "pid-0")
				appendLiveTo(t, j, "abc", "pid-2")
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{4}, wantSince: 2, wantFormerly: "pid-0",
		},
		{
			name: "a reloaded page is no session: it gets what it missed by offset",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 2)
				appendLiveTo(t, j, "abc", "pid-1")
				return recovery.Request{Code: "abc", Offset: k.Position(2)}
			},
			wantCode: "abc", wantMissed: []uint64{3}, wantSince: 2,
		},
		{
			name: "a reloaded page takes the pending alerts after its offset, marked replayed",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				es := appendN(t, j, "abc", 4)
				_ = j.Mark(t.Context(), "abc", es[2].Offset, 1, 0) // another page had it live
				return recovery.Request{Code: "abc", Offset: k.Position(1)}
			},
			wantCode: "abc", wantMissed: []uint64{2, 3, 4}, wantReplayed: []uint64{2, 4}, wantSince: 1,
		},
		{
			name: "an alert that went live before it was journaled is not marked, its count not in yet",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 1)
				if _, err := j.Append(t.Context(), herald.Delivery{EventID: "late", Room: "abc", Name: "TIP", Time: time.Now(), LiveTo: []string{"pid-9"}}); err != nil {
					t.Fatal(err)
				}
				return recovery.Request{Code: "abc", Offset: k.Position(1)}
			},
			wantCode: "abc", wantMissed: []uint64{2}, wantSince: 1,
		},
		{
			name: "a known pid without an offset resumes where its session started",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 2)
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 2}); err != nil {
					t.Fatal(err)
				}
				for _, e := range appendN(t, j, "abc", 3) {
					_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0) // another page got them live
				}
				appendN(t, j, "other", 2)
				return recovery.Request{PID: "pid-1"}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{3, 4, 5}, wantSince: 2,
		},
		{
			name: "a session without a known start and no offset does not replay old history",
			opts: recovery.Options{Window: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				for _, e := range appendN(t, j, "abc", 3) {
					_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0)
				}
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0}) // Since unknown: 0
				return recovery.Request{PID: "pid-1"}
			},
			wantCode: "abc", wantSince: 3,
		},
		{
			name: "an offset from before the session started is another room's",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 4) // before the page REGISTERed abc
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 4}); err != nil {
					t.Fatal(err)
				}
				appendN(t, j, "abc", 2)
				// The page's last alert was offset 2 of the room it left.
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{5, 6}, wantSince: 4,
		},
		{
			name: "recovery with nothing missed",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0})
				appendN(t, j, "abc", 2)
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantSince: 2,
		},
		{
			name: "unknown pid is a new page",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 2)
				return recovery.Request{PID: "nobody", Offset: k.Position(1)}
			},
		},
		{
			name: "unknown pid with a code and an offset is a new page, not resumed",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				for _, e := range appendN(t, j, "abc", 3) {
					_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0)
				}
				return recovery.Request{PID: "expired-or-unknown", Code: "abc", Offset: k.Position(1)}
			},
			wantCode: "abc", wantSince: 3,
		},
		{
			name: "reloaded page away longer than the recovery window is new",
			opts: recovery.Options{Window: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				for _, e := range appendN(t, j, "abc", 3) {
					_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0)
				}
				return recovery.Request{Code: "abc", Offset: k.Position(1)}
			},
			wantCode: "abc", wantSince: 3,
		},
		{
			name: "a recovered session gets all it missed, even alerts older than the window",
			opts: recovery.Options{Window: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 3)
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0}) // alive until a minute after the fake now
				return recovery.Request{PID: "pid-1", Offset: k.Position(1)}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{2, 3}, wantSince: 1,
		},
		{
			name: "expired session is a new page",
			opts: recovery.Options{Window: time.Minute, Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0}) // expired a minute ago in real time
				return recovery.Request{PID: "pid-1", Offset: k.Position(0)}
			},
		},
		{
			name: "an offset of another history is not resumed",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				es := appendN(t, j, "abc", 2)
				_ = j.Mark(t.Context(), "abc", es[0].Offset, 1, 0)
				_ = j.Mark(t.Context(), "abc", es[1].Offset, 1, 0)
				return recovery.Request{PID: "lost-with-its-history", Code: "abc", Offset: "someotherepoch-1"}
			},
			wantCode: "abc", wantSince: 2,
		},
		{
			// Redis restarted empty under a connected page; its node saved
			// its session again (with the old history's Since, below every
			// new offset). The page, which holds an offset of the old
			// history, recovers: it gets the room's new history, and
			// nothing pending is handed to it as a replay.
			name: "a session saved since the history changed resumes after its start, whatever its offset",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0})
				appendN(t, j, "abc", 2)
				return recovery.Request{PID: "pid-1", Offset: "someotherepoch-7"}
			},
			wantRecovered: true, wantSamePID: true, wantCode: "abc", wantMissed: []uint64{1, 2},
		},
		{
			name: "a session saved since the history changed is still windowed",
			opts: recovery.Options{Window: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				for _, e := range appendN(t, j, "abc", 2) {
					_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0)
				}
				_ = k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: "abc", Since: 0})
				return recovery.Request{PID: "pid-1", Offset: "someotherepoch-7"}
			},
			wantCode: "abc", wantSince: 2,
		},
		{
			name: "reloaded page resumes from its stored offset",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				appendN(t, j, "abc", 5)
				return recovery.Request{Code: "abc", Offset: k.Position(3)}
			},
			wantCode: "abc", wantMissed: []uint64{4, 5}, wantReplayed: []uint64{4, 5}, wantSince: 3,
		},
		{
			name: "junk offset is ignored",
			setup: func(t *testing.T, j journal.Journal, k *recovery.Keeper) recovery.Request {
				return recovery.Request{Code: "abc", Offset: "not a position"}
			},
			wantCode: "abc",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := mem.New()
			defer j.Close()
			k := recovery.New(j, tc.opts)
			req := tc.setup(t, j, k)
			res, err := k.Connect(t.Context(), req)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if res.Recovered != tc.wantRecovered || res.Code != tc.wantCode || res.Pending != tc.wantPending {
				t.Errorf("Connect(%+v) = recovered %v code %q pending %v, want %v %q %v", req, res.Recovered, res.Code, res.Pending, tc.wantRecovered, tc.wantCode, tc.wantPending)
			}
			if got := journal.Offsets(res.Missed); !reflect.DeepEqual(got, tc.wantMissed) {
				t.Errorf("missed = %v, want %v", got, tc.wantMissed)
			}
			if res.Formerly != tc.wantFormerly {
				t.Errorf("formerly = %q, want %q", res.Formerly, tc.wantFormerly)
			}
			if res.Since != tc.wantSince {
				t.Errorf("since = %d, want %d", res.Since, tc.wantSince)
			}
			if (res.PID == req.PID) != tc.wantSamePID || res.PID == "" {
				t.Errorf("pid = %q for request pid %q, want same: %v", res.PID, req.PID, tc.wantSamePID)
			}
			wantReplayed := tc.wantReplayed
			if tc.wantPending {
				wantReplayed = tc.wantMissed
			}
			for _, e := range res.Missed {
				if want := slices.Contains(wantReplayed, e.Offset); e.Delivery.Replayed != want {
					t.Errorf("missed offset %d: replayed %v, want %v (only alerts that reached no page, taken by a new or reloaded page, are replays)", e.Offset, e.Delivery.Replayed, want)
				}
			}
			// Whatever a page got is no longer pending.
			if left, _ := j.Pending(t.Context(), "abc", time.Time{}); len(res.Missed) > 0 {
				for _, l := range left {
					for _, m := range res.Missed {
						if l.Offset == m.Offset {
							t.Errorf("offset %d was sent to the page and is still pending", l.Offset)
						}
					}
				}
			}
		})
	}
}

// TestPendingGoesToOnePage: of pages registering at the same moment, one
// gets the pending alerts and the others nothing.
func TestPendingGoesToOnePage(t *testing.T) {
	j := mem.New()
	defer j.Close()
	appendN(t, j, "abc", 5)
	k := recovery.New(j, recovery.Options{})
	var mu sync.Mutex
	var got [][]uint64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res, err := k.Register(t.Context(), "abc")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, journal.Offsets(res.Missed))
			mu.Unlock()
		})
	}
	wg.Wait()
	winners := 0
	for _, g := range got {
		switch {
		case len(g) == 5:
			winners++
		case len(g) != 0:
			t.Errorf("a page got part of the pending alerts: %v", g)
		}
	}
	if winners != 1 {
		t.Errorf("%d pages got the pending alerts, want exactly 1 (%v)", winners, got)
	}
}

// TestUnclaimMakesPendingAgain: pending alerts claimed for a page that
// left before they were sent go to the next page that registers, and
// only those given back.
func TestUnclaimMakesPendingAgain(t *testing.T) {
	j := mem.New()
	defer j.Close()
	appendN(t, j, "abc", 3)
	k := recovery.New(j, recovery.Options{})
	first, err := k.Register(t.Context(), "abc")
	if err != nil || len(first.Missed) != 3 {
		t.Fatalf("first Register = %v, %v; want 3 pending alerts", journal.Offsets(first.Missed), err)
	}
	// The page got the first one; the other two were never sent.
	if err := k.Unclaim(t.Context(), "abc", journal.Offsets(first.Missed[1:])); err != nil {
		t.Fatal(err)
	}
	second, err := k.Register(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := journal.Offsets(second.Missed), journal.Offsets(first.Missed[1:]); !reflect.DeepEqual(got, want) {
		t.Errorf("next page got %v, want %v (what the first page never got)", got, want)
	}
	if !second.Pending || second.Since != first.Missed[1].Offset-1 {
		t.Errorf("next page: pending %v since %d, want true, %d", second.Pending, second.Since, first.Missed[1].Offset-1)
	}
	if third, _ := k.Register(t.Context(), "abc"); len(third.Missed) != 0 {
		t.Errorf("a third page got %v again", journal.Offsets(third.Missed))
	}
}

// TestAnAckedAlertIsNeverPending: an alert a page acknowledged was shown,
// even when every reach of it was given back (a page that left without
// acking the others, whose give-back landed after its recovery had
// counted them again): the next page does not get it.
func TestAnAckedAlertIsNeverPending(t *testing.T) {
	j := mem.New()
	defer j.Close()
	appendN(t, j, "abc", 2)
	k := recovery.New(j, recovery.Options{})
	first, err := k.Register(t.Context(), "abc")
	if err != nil || len(first.Missed) != 2 {
		t.Fatalf("first Register = %v, %v; want 2 pending alerts", journal.Offsets(first.Missed), err)
	}
	if err := k.Acked(t.Context(), "abc", first.Missed[0].Offset); err != nil {
		t.Fatal(err)
	}
	if err := k.Unclaim(t.Context(), "abc", journal.Offsets(first.Missed)); err != nil {
		t.Fatal(err)
	}
	second, err := k.Register(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := journal.Offsets(second.Missed), journal.Offsets(first.Missed[1:]); !reflect.DeepEqual(got, want) {
		t.Errorf("next page got %v, want %v (the alert no page acknowledged)", got, want)
	}
}

// TestAckedIsJournaledAndTold: a page's ack is counted on the entry (what
// /api/history shows) and handed to the OnAck listener (the dashboard).
func TestAckedIsJournaledAndTold(t *testing.T) {
	j := mem.New()
	k := recovery.New(j, recovery.Options{})
	es := appendN(t, j, "c", 2)
	var told []string
	k.OnAck(func(code string, offset uint64) { told = append(told, fmt.Sprintf("%s@%d", code, offset)) })
	if err := k.Acked(t.Context(), "c", es[1].Offset); err != nil {
		t.Fatal(err)
	}
	last, err := j.Last(t.Context(), "c", 2)
	if err != nil {
		t.Fatal(err)
	}
	if last[0].Acked != 0 || last[1].Acked != 1 {
		t.Errorf("acks = %d, %d; want 0, 1", last[0].Acked, last[1].Acked)
	}
	if want := []string{fmt.Sprintf("c@%d", es[1].Offset)}; !reflect.DeepEqual(told, want) {
		t.Errorf("OnAck heard %v, want %v", told, want)
	}
}

// agedJournal is a memory journal whose pending entries of room "abc" were
// appended when the test says (by offset), so ages can sit right at a
// window's edge.
type agedJournal struct {
	*mem.Store
	at map[uint64]time.Time
}

func (j *agedJournal) Pending(ctx context.Context, room string, since time.Time) ([]journal.Entry, error) {
	es, err := j.Store.Pending(ctx, room, time.Time{})
	var out []journal.Entry
	for _, e := range es {
		if at, ok := j.at[e.Offset]; ok {
			e.At = at
		}
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out, err
}

// TestPendingWindowPerRule: a registering page gets each unreached alert
// whose own window covers its age: its rule's pending_window when the rule
// has one (0: never), the global one otherwise (also for a rule renamed or
// removed since, and for the default route).
func TestPendingWindowPerRule(t *testing.T) {
	type alert struct {
		rule string
		age  time.Duration
	}
	perRule := map[string]time.Duration{"A": 0, "B": time.Hour}
	tests := []struct {
		name   string
		opts   recovery.Options
		alerts []alert // offsets 1, 2, … in this order
		want   []uint64
	}{
		{
			name: "global 10m, rule A off, rule B 1h",
			opts: recovery.Options{PendingWindow: 10 * time.Minute, RulePending: perRule},
			alerts: []alert{
				{"A", 0}, {"A", time.Minute}, // never pending
				{"B", 59 * time.Minute}, {"B", time.Hour}, {"B", time.Hour + time.Second},
				{"C", 9 * time.Minute}, {"C", 10 * time.Minute}, {"C", 10*time.Minute + time.Second},
				{"", 5 * time.Minute}, // the default route
			},
			want: []uint64{3, 4, 6, 7, 9},
		},
		{
			name:   "global default (10m) with rule A off",
			opts:   recovery.Options{RulePending: perRule},
			alerts: []alert{{"A", time.Second}, {"C", 10 * time.Minute}, {"C", 11 * time.Minute}, {"B", 30 * time.Minute}},
			want:   []uint64{2, 4},
		},
		{
			name:   "global off, rule B on",
			opts:   recovery.Options{PendingOff: true, RulePending: perRule},
			alerts: []alert{{"C", time.Second}, {"B", time.Minute}, {"A", time.Second}, {"B", time.Hour}, {"B", 2 * time.Hour}, {"", time.Second}},
			want:   []uint64{2, 4},
		},
		{
			name:   "global off, every rule's window 0",
			opts:   recovery.Options{PendingOff: true, RulePending: map[string]time.Duration{"A": 0}},
			alerts: []alert{{"A", time.Second}, {"C", time.Second}},
		},
		{
			name:   "a rule's window shorter than the global one",
			opts:   recovery.Options{PendingWindow: time.Hour, RulePending: map[string]time.Duration{"quick": time.Minute}},
			alerts: []alert{{"quick", time.Minute}, {"quick", 2 * time.Minute}, {"other", 50 * time.Minute}},
			want:   []uint64{1, 3},
		},
		{
			name:   "a rule renamed or removed since follows the global window",
			opts:   recovery.Options{PendingWindow: 10 * time.Minute, RulePending: map[string]time.Duration{"raid-v2": time.Hour}},
			alerts: []alert{{"raid", 5 * time.Minute}, {"raid", 30 * time.Minute}, {"raid-v2", 30 * time.Minute}},
			want:   []uint64{1, 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now().Add(24 * time.Hour)
			j := &agedJournal{Store: mem.New(), at: map[uint64]time.Time{}}
			defer j.Close()
			for i, a := range tc.alerts {
				e, err := j.Append(t.Context(), herald.Delivery{EventID: fmt.Sprint(i), Room: "abc", Name: "ALERT", Rule: a.rule})
				if err != nil {
					t.Fatal(err)
				}
				j.at[e.Offset] = now.Add(-a.age)
			}
			opts := tc.opts
			opts.Now = func() time.Time { return now }
			k := recovery.New(j, opts)
			res, err := k.Register(t.Context(), "abc")
			if err != nil {
				t.Fatal(err)
			}
			if got := journal.Offsets(res.Missed); !reflect.DeepEqual(got, tc.want) || res.Pending != (len(tc.want) > 0) {
				t.Errorf("pending = %v (%v), want %v", got, res.Pending, tc.want)
			}
			// What the page did not get stays unreached: still there for
			// history and replay, and for a page of a later window.
			left, _ := j.Store.Pending(t.Context(), "abc", time.Time{})
			if len(left)+len(res.Missed) != len(tc.alerts) {
				t.Errorf("%d left unreached and %d sent, of %d alerts", len(left), len(res.Missed), len(tc.alerts))
			}
		})
	}
}

// TestPendingWindowPerRuleFollowsSetOptions: a reloaded rules file's
// windows apply to the next page that registers.
func TestPendingWindowPerRuleFollowsSetOptions(t *testing.T) {
	j := mem.New()
	defer j.Close()
	if _, err := j.Append(t.Context(), herald.Delivery{EventID: "1", Room: "abc", Name: "RAID", Rule: "raid"}); err != nil {
		t.Fatal(err)
	}
	k := recovery.New(j, recovery.Options{RulePending: map[string]time.Duration{"raid": 0}})
	if res, err := k.Register(t.Context(), "abc"); err != nil || len(res.Missed) != 0 {
		t.Fatalf("with raid's window 0: Register = %v, %v; want nothing pending", journal.Offsets(res.Missed), err)
	}
	k.SetOptions(recovery.Options{PendingOff: true, RulePending: map[string]time.Duration{"raid": time.Minute}})
	if res, err := k.Register(t.Context(), "abc"); err != nil || !reflect.DeepEqual(journal.Offsets(res.Missed), []uint64{1}) {
		t.Fatalf("with raid's window 1m: Register = %v, %v; want [1]", journal.Offsets(res.Missed), err)
	}
}

// TestOwed: a page that joined its room while the journal did not answer
// is handed the room's pending alerts once it answers, but for what it
// holds: a page that came back with an offset of this room and history
// got everything up to it (a lost mark can make one of those look
// pending), and those it had live before they were journaled. Whatever it
// is handed or holds is no longer pending.
func TestOwed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		req        func(k *recovery.Keeper) recovery.Request
		session    string // the code of pid-1's session, "" for none
		wantMissed []uint64
		wantSince  uint64
	}{
		{name: "a new page gets them all", req: func(*recovery.Keeper) recovery.Request { return recovery.Request{} },
			wantMissed: []uint64{1, 2, 3}},
		{name: "a page holding an offset of the room gets what is after it",
			req:        func(k *recovery.Keeper) recovery.Request { return recovery.Request{Code: "abc", Offset: k.Position(2)} },
			wantMissed: []uint64{3}, wantSince: 2},
		{name: "its session says the offset is of the room", session: "abc",
			req: func(k *recovery.Keeper) recovery.Request {
				return recovery.Request{PID: "pid-1", Offset: k.Position(2)}
			},
			wantMissed: []uint64{3}, wantSince: 2},
		{name: "its session says the offset is of another room", session: "other",
			req: func(k *recovery.Keeper) recovery.Request {
				return recovery.Request{PID: "pid-1", Code: "abc", Offset: k.Position(2)}
			},
			wantMissed: []uint64{1, 2, 3}},
		{name: "an offset of another history holds nothing",
			req:        func(*recovery.Keeper) recovery.Request { return recovery.Request{Code: "abc", Offset: "lost-2"} },
			wantMissed: []uint64{1, 2, 3}},
		{name: "what it had live is left out",
			req:        func(*recovery.Keeper) recovery.Request { return recovery.Request{PID: "pid-live"} },
			wantMissed: []uint64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := mem.New()
			defer j.Close()
			k := recovery.New(j, recovery.Options{})
			appendN(t, j, "abc", 3)
			e, err := j.Append(t.Context(), herald.Delivery{EventID: "live", Room: "abc", Name: "TIP", Time: time.Now(), LiveTo: []string{"pid-live"}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name != "what it had live is left out" {
				_ = j.Mark(t.Context(), "abc", e.Offset, 1, 0)
			}
			if tc.session != "" {
				if err := k.Keep(t.Context(), journal.Session{PID: "pid-1", Code: tc.session}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := k.Owed(t.Context(), "abc", tc.req(k))
			if err != nil {
				t.Fatal(err)
			}
			if got := journal.Offsets(res.Missed); !reflect.DeepEqual(got, tc.wantMissed) || res.Since != tc.wantSince {
				t.Errorf("Owed = missed %v since %d, want %v since %d", got, res.Since, tc.wantMissed, tc.wantSince)
			}
			for _, m := range res.Missed {
				if !m.Delivery.Replayed {
					t.Errorf("offset %d not marked replayed", m.Offset)
				}
			}
			if left, _ := j.Pending(t.Context(), "abc", time.Time{}); len(left) != 0 {
				t.Errorf("still pending: %v", journal.Offsets(left))
			}
		})
	}
}
