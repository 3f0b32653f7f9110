package socketio

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// leaving is a journal right after whose Claim a test's page leaves: the
// moment between a room's pending alerts being claimed for a page and
// their being sent to it. It counts the marks that take a claim back.
type leaving struct {
	journal.Journal
	during    atomic.Pointer[func()]
	givenBack atomic.Int64
}

func (j *leaving) Claim(ctx context.Context, room, token string, offsets []uint64) ([]uint64, error) {
	won, err := j.Journal.Claim(ctx, room, token, offsets)
	if err == nil {
		if f := j.during.Swap(nil); f != nil {
			(*f)()
		}
	}
	return won, err
}

func (j *leaving) Mark(ctx context.Context, room string, offset uint64, reached, acked int) error {
	if reached < 0 {
		j.givenBack.Add(int64(-reached))
	}
	return j.Journal.Mark(ctx, room, offset, reached, acked)
}

// TestPendingClaimedForAPageThatLeftGoesToTheNext: a page that leaves
// after its room's pending alerts were claimed for it, and before they
// were sent, does not take them with it: they are pending again, and the
// next page to join the room gets them. Each way a page claims them:
// REGISTER, a code in the handshake (long-polling: the library's path,
// which looks the page up once it is connected), and late, once the
// journal answers again (owed).
func TestPendingClaimedForAPageThatLeftGoesToTheNext(t *testing.T) {
	for _, how := range []string{"REGISTER", "handshake code (polling)", "owed"} {
		t.Run(how, func(t *testing.T) {
			down := &unreachable{Journal: mem.New()}
			defer down.Journal.Close()
			j := &leaving{Journal: down}
			k := recovery.New(j, recovery.Options{})
			s, srv := startSink(t, Options{Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
			for n := 1; n <= 2; n++ {
				d := delivery("abc", "DONATION", map[string]any{"n": n})
				d.EventID, d.Time = fmt.Sprint("ev-", n), time.Now()
				if _, err := j.Append(t.Context(), d); err != nil {
					t.Fatal(err)
				}
			}
			left := make(chan struct{})
			leave := func() {
				for _, p := range s.rooms.all() {
					s.rooms.remove(p) // what its disconnect does
				}
				close(left)
			}
			switch how {
			case "REGISTER":
				p := dialRaw(t, srv.URL, "", nil)
				j.during.Store(&leave)
				if err := p.send(`42["REGISTER",{"code":"abc"}]`); err != nil {
					t.Fatal(err)
				}
			case "handshake code (polling)":
				open := pollHandshake(t, srv.URL)
				j.during.Store(&leave)
				post(t, srv.URL, open.SID, `40{"code":"abc"}`)
			case "owed":
				down.down.Store(true)
				dialRaw(t, srv.URL, "abc", nil)
				waitFor(t, "the page to be owed its pending alerts", func() bool {
					s.owedMu.Lock()
					defer s.owedMu.Unlock()
					return len(s.owed) == 1
				})
				j.during.Store(&leave)
				down.down.Store(false)
			}
			select {
			case <-left:
			case <-time.After(timeout):
				t.Fatal("the pending alerts were never claimed")
			}
			waitFor(t, "the claim of the page that left to be given back", func() bool { return j.givenBack.Load() == 2 })

			next := dialRaw(t, srv.URL, "abc", nil)
			for want := 1; want <= 2; want++ {
				name, n, replayed, _ := frame(t, next.next(t))
				if name != "DONATION" || n != fmt.Sprint(want) || !replayed {
					t.Fatalf("next page got %s n=%s replayed=%v, want DONATION n=%d replayed: the alerts the page that left never got", name, n, replayed, want)
				}
			}
			es, err := j.After(t.Context(), "abc", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.Reached != 1 {
					t.Errorf("entry %d reached %d pages, want 1 (the next page only)", e.Offset, e.Reached)
				}
			}
		})
	}
}
