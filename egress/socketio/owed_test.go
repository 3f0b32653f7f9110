package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// unreachable is a journal that stops answering while down is set, as
// the Redis journal does while Redis is away.
type unreachable struct {
	journal.Journal
	down atomic.Bool
}

var errUnreachable = errors.New("journal unreachable")

func (j *unreachable) err() error {
	if j.down.Load() {
		return errUnreachable
	}
	return nil
}

func (j *unreachable) Last(ctx context.Context, room string, n int) ([]journal.Entry, error) {
	if err := j.err(); err != nil {
		return nil, err
	}
	return j.Journal.Last(ctx, room, n)
}

func (j *unreachable) Pending(ctx context.Context, room string, since time.Time) ([]journal.Entry, error) {
	if err := j.err(); err != nil {
		return nil, err
	}
	return j.Journal.Pending(ctx, room, since)
}

func (j *unreachable) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	if err := j.err(); err != nil {
		return journal.Session{}, false, err
	}
	return j.Journal.Session(ctx, pid)
}

func (j *unreachable) SaveSession(ctx context.Context, s journal.Session) error {
	if err := j.err(); err != nil {
		return err
	}
	return j.Journal.SaveSession(ctx, s)
}

// frame decodes a page's event frame: its name, payload n, whether its
// meta says replayed, and whether it carries a position.
func frame(t *testing.T, f string) (name, n string, replayed, positioned bool) {
	t.Helper()
	var args []json.RawMessage
	if !strings.HasPrefix(f, "42[") || json.Unmarshal([]byte(f[2:]), &args) != nil || len(args) < 3 {
		t.Fatalf("frame %q is no alert", f)
	}
	var payload map[string]any
	var meta struct{ Replayed bool }
	_ = json.Unmarshal(args[0], &name)
	_ = json.Unmarshal(args[1], &payload)
	_ = json.Unmarshal(args[2], &meta)
	return name, fmt.Sprint(payload["n"]), meta.Replayed, len(args) == 4
}

// TestPendingOwedToAPageThatJoinedWhileTheJournalWasAway: a page that
// joins its room while the journal does not answer gets the room's
// pending alerts once it answers again, marked replayed and without a
// position, once, whatever the live path sent it meanwhile (the broker's
// re-sync may deliver a pending alert before or after); a page that comes
// next does not get them too.
func TestPendingOwedToAPageThatJoinedWhileTheJournalWasAway(t *testing.T) {
	for _, tc := range []struct {
		name     string
		register bool // REGISTER after connecting, rather than a handshake code
		// before and after are what the live path delivers to the room
		// before and after the journal is back: "p" the pending alert
		// itself (offset 1), "P" the same as broker/redis hands over a
		// hole it fills after later offsets went out (Late), "n" a new
		// alert (offset 2).
		before, after string
		want          []string // n and how: r replayed without position, l live with one
	}{
		{name: "handshake code", want: []string{"1r", "2l"}},
		{name: "REGISTER", register: true, want: []string{"1r", "2l"}},
		{name: "a newer alert live first", before: "n", want: []string{"2l", "1r"}},
		{name: "the pending alert live first (re-sync)", before: "p", want: []string{"1l", "2l"}},
		{name: "the pending alert live after (re-sync)", after: "p", want: []string{"1r", "2l"}},
		{name: "the pending alert live first, by REGISTER", register: true, before: "pn", want: []string{"1l", "2l"}},
		{name: "the pending alert filling a hole first", before: "nP", want: []string{"2l", "1r"}},
		{name: "the pending alert filling a hole after", after: "P", want: []string{"1r", "2l"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &unreachable{Journal: mem.New()}
			defer j.Journal.Close()
			k := recovery.New(j, recovery.Options{})
			s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
			var es []journal.Entry
			for n := 1; n <= 2; n++ {
				d := delivery("abc", "DONATION", map[string]any{"n": n})
				d.EventID, d.Time = fmt.Sprint("ev-", n), time.Now()
				e, err := j.Journal.Append(t.Context(), d)
				if err != nil {
					t.Fatal(err)
				}
				es = append(es, e)
			}
			// Offset 2 is the alert that comes once the page is in; only
			// offset 1 reached no page before.
			if err := j.Journal.Mark(t.Context(), "abc", 2, 1, 0); err != nil {
				t.Fatal(err)
			}
			live := func(what string) {
				for _, c := range what {
					d := es[0].Delivery
					switch c {
					case 'n':
						d = es[1].Delivery
					case 'P':
						d.Late, d.Replayed = true, true
					}
					deliver(t, s, d, 1)
				}
			}
			j.down.Store(true)
			var p *rawPage
			if tc.register {
				p = dialRaw(t, srv.URL, "", nil)
				if err := p.send(`421["REGISTER",{"code":"abc"}]`); err != nil {
					t.Fatal(err)
				}
				if got := p.next(t); !strings.HasPrefix(got, `431[{"code":"abc","ok":true}`) && !strings.HasPrefix(got, `431[{"ok":true`) {
					t.Fatalf("REGISTER answered %s", got)
				}
			} else {
				p = dialRaw(t, srv.URL, "abc", nil)
			}
			// The page is greeted (or acked) a moment before it is noted as
			// owed: the check below that it was served must not pass first.
			waitFor(t, "the page owed its pending alerts", func() bool {
				s.owedMu.Lock()
				defer s.owedMu.Unlock()
				return len(s.owed) == 1
			})
			live(tc.before)
			j.down.Store(false)
			got := []string{}
			read := func() {
				_, n, replayed, positioned := frame(t, p.next(t))
				how := "?"
				switch {
				case replayed && !positioned:
					how = "r"
				case !replayed && positioned:
					how = "l"
				}
				got = append(got, n+how)
			}
			for range len(tc.before) {
				read()
			}
			if !strings.ContainsAny(tc.before, "pP") {
				read() // the late pending alert
			}
			waitFor(t, "the owed page to be served", func() bool {
				s.owedMu.Lock()
				defer s.owedMu.Unlock()
				return len(s.owed) == 0
			})
			live(tc.after)
			live("n")
			for len(got) < len(tc.want) {
				read()
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("page got %v, want %v (each alert once, late pending ones replayed without a position)", got, tc.want)
			}
			// Nothing else came, and a page that registers next gets no
			// pending alert.
			other := dialRaw(t, srv.URL, "abc", nil)
			d := delivery("abc", "DONATION", map[string]any{"n": 3})
			d.Time = time.Now()
			e, err := j.Journal.Append(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			deliver(t, s, e.Delivery, 2)
			for _, q := range []*rawPage{p, other} {
				if _, n, _, _ := frame(t, q.next(t)); n != "3" {
					t.Fatalf("a page got n=%s, want 3: no alert twice, no pending alert for the next page", n)
				}
			}
		})
	}
}

// TestPendingOwedGoesToTheFirstPageThatCame: pages that join a room one
// after another while the journal does not answer are all owed its
// pending alerts; once it answers, the first of them gets them, as it
// would have with the journal there, and the others do not.
func TestPendingOwedGoesToTheFirstPageThatCame(t *testing.T) {
	j := &unreachable{Journal: mem.New()}
	defer j.Journal.Close()
	k := recovery.New(j, recovery.Options{})
	s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
	d := delivery("abc", "DONATION", map[string]any{"n": 1})
	d.EventID, d.Time = "ev-1", time.Now()
	if _, err := j.Journal.Append(t.Context(), d); err != nil { // reached no page: pending
		t.Fatal(err)
	}
	j.down.Store(true)
	const pages = 6 // the old map order gave the first page them 1 time in 6
	var ps []*rawPage
	for i := range pages {
		ps = append(ps, dialRaw(t, srv.URL, "abc", nil))
		waitFor(t, fmt.Sprintf("page %d to be owed its pending alerts", i), func() bool {
			s.owedMu.Lock()
			defer s.owedMu.Unlock()
			return len(s.owed) == i+1
		})
	}
	j.down.Store(false)
	waitFor(t, "every owed page to be settled", func() bool {
		s.owedMu.Lock()
		defer s.owedMu.Unlock()
		return len(s.owed) == 0
	})
	d = delivery("abc", "DONATION", map[string]any{"n": 2})
	d.EventID, d.Time = "ev-2", time.Now()
	e, err := j.Journal.Append(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, e.Delivery, pages)
	for i, p := range ps {
		var got []string
		for len(got) == 0 || got[len(got)-1] != "2" {
			_, n, _, _ := frame(t, p.next(t))
			got = append(got, n)
		}
		want := []string{"2"}
		if i == 0 {
			want = []string{"1", "2"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("page %d got %v, want %v: the pending alert goes to the first page that came, only", i, got, want)
		}
	}
}

// TestLateDeliveryFillsAHole: a journaled delivery that reaches the node
// after later ones of its room (herald.Delivery.Late: broker/redis fills
// a hole so) goes to a page that has later offsets, as a replay without a
// position, once; the page's position stays where it was.
func TestLateDeliveryFillsAHole(t *testing.T) {
	j := mem.New()
	defer j.Close()
	k := recovery.New(j, recovery.Options{})
	s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
	var es []journal.Entry
	for n := 1; n <= 3; n++ {
		d := delivery("abc", "DONATION", map[string]any{"n": n})
		d.EventID, d.Time = fmt.Sprint("ev-", n), time.Now()
		e, err := j.Append(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		// Reached by another node's pages: not pending for this one.
		if err := j.Mark(t.Context(), "abc", e.Offset, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	p := dialRaw(t, srv.URL, "abc", nil)
	late := es[0].Delivery
	late.Late, late.Replayed = true, true
	deliver(t, s, es[1].Delivery, 1)
	deliver(t, s, late, 1)
	deliver(t, s, late, 1) // a second copy of the hole is not sent again
	deliver(t, s, es[2].Delivery, 1)
	var got []string
	for range 3 {
		_, n, replayed, positioned := frame(t, p.next(t))
		got = append(got, fmt.Sprintf("%s replayed=%v positioned=%v", n, replayed, positioned))
	}
	want := []string{"2 replayed=false positioned=true", "1 replayed=true positioned=false", "3 replayed=false positioned=true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("page got %q, want %q", got, want)
	}
	s.rooms.mu.RLock()
	defer s.rooms.mu.RUnlock()
	for pg := range s.rooms.pages {
		if off := pg.offset.Load(); off != 3 {
			t.Errorf("page's position is offset %d, want 3", off)
		}
	}
}
