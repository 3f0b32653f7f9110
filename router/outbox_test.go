package router_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/spool"
	"github.com/heraldhq/herald/router"
)

// switchedJournal is a fake of our own journal seam that fails appends
// while down is set, with the error the Redis journal returns while Redis
// is away (go-redis's refused dial). With refuse set, Redis answers them
// with an error instead (it refuses writes, and still carries Pub/Sub).
// With hang set, an append blocks until its deadline instead (a Redis
// that stopped answering). With stall set, it blocks until its deadline
// too, and then stores the entry all the same (a Redis that stalled, and
// ran the script it had been sent once it resumed).
type switchedJournal struct {
	journal.Journal
	down, hang, stall *atomic.Bool
	appends           *atomic.Int64
	refuse            *atomic.Bool // nil: never
}

// errDialRefused is what go-redis returns for a Redis that is not there.
var errDialRefused = fmt.Errorf("redis journal: append: %w",
	&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})

func (s switchedJournal) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	s.appends.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return journal.Entry{}, ctx.Err()
	}
	if s.stall.Load() {
		<-ctx.Done()
		if _, err := s.Journal.Append(context.WithoutCancel(ctx), d); err != nil {
			return journal.Entry{}, err
		}
		return journal.Entry{}, ctx.Err()
	}
	if s.down.Load() {
		return journal.Entry{}, errDialRefused
	}
	if s.refuse != nil && s.refuse.Load() {
		return journal.Entry{}, errors.New("redis journal: append: OOM command not allowed when used memory > 'maxmemory'")
	}
	return s.Journal.Append(ctx, d)
}

// MarkLive passes through to the store (mem implements it), as Redis's
// journal does.
func (s switchedJournal) MarkLive(ctx context.Context, room string, offset uint64, pids []string) error {
	return s.Journal.(journal.LiveMarker).MarkLive(ctx, room, offset, pids)
}

// outboxRig is a Journaled with its outbox on, over a journal that can go
// away, on a node whose Redis subscription can be lost (localOnly).
type outboxRig struct {
	x         *router.Journaled
	rb        *recordingBroker
	j         *mem.Store
	down      atomic.Bool
	hang      atomic.Bool
	stall     atomic.Bool
	refuse    atomic.Bool
	localOnly atomic.Bool
	appends   atomic.Int64
	logs      lockedBuffer
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) count(s string) int { return strings.Count(l.String(), s) }

func newOutboxRig(t *testing.T) *outboxRig { return newOutboxRigOn(t, nil, nil) }

// newOutboxRigOn is newOutboxRig with its outbox kept in store, which held
// left at start.
func newOutboxRigOn(t *testing.T, store router.OutboxStore, left []router.Unjournaled) *outboxRig {
	r := &outboxRig{rb: &recordingBroker{pages: 1}, j: mem.New()}
	t.Cleanup(func() { _ = r.j.Close() })
	log := slog.New(slog.NewTextHandler(&r.logs, nil))
	r.x = router.NewJournaled(r.rb, switchedJournal{r.j, &r.down, &r.hang, &r.stall, &r.appends, &r.refuse}, log)
	r.x.KeepUnjournaled(router.OutboxOptions{
		LocalOnly: r.localOnly.Load,
		SentLive:  func(herald.Delivery) []string { return []string{"pid-here"} },
		MaxAge:    func() time.Duration { return 10 * time.Minute },
		Store:     store,
		Left:      left,
	})
	return r
}

// away cuts Redis off: the journal refuses, the node reaches its own
// pages only.
func (r *outboxRig) away(yes bool) { r.down.Store(yes); r.localOnly.Store(yes) }

func (r *outboxRig) publish(t *testing.T, room string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := r.x.Publish(t.Context(), alert(room, id)); err != nil {
			t.Fatalf("Publish %s: %v", id, err)
		}
	}
}

// publishErr is publish for another goroutine: it reports, never stops.
func (r *outboxRig) publishErr(t *testing.T, room, id string) {
	if _, err := r.x.Publish(t.Context(), alert(room, id)); err != nil {
		t.Errorf("Publish %s: %v", id, err)
	}
}

// published is what the broker got for room: "id" for a delivery without
// an offset, "id@offset" for a journaled one.
func (r *outboxRig) published(room string) []string {
	r.rb.mu.Lock()
	defer r.rb.mu.Unlock()
	var out []string
	for _, d := range r.rb.byRoom[room] {
		s := d.EventID
		if d.Offset != 0 {
			s += "@" + string(rune('0'+d.Offset))
		}
		out = append(out, s)
	}
	return out
}

func (r *outboxRig) journaled(t *testing.T, room string) (ids []string, liveTo [][]string) {
	t.Helper()
	es, err := r.j.After(t.Context(), room, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		ids = append(ids, e.Delivery.EventID)
		liveTo = append(liveTo, e.Delivery.LiveTo)
	}
	return ids, liveTo
}

// TestOutboxJournalsWhatWentLiveWhileRedisWasAway: alerts published while
// Redis is away reach this node's pages at once, wait in the outbox, and
// are journaled and published to every node once it is back: before the
// room's next alert, in the order they came, each naming the pages that
// had it live.
func TestOutboxJournalsWhatWentLiveWhileRedisWasAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.publish(t, "r", "before")
		r.away(true)
		r.publish(t, "r", "a", "b", "c")
		if got, want := r.published("r"), []string{"before@1", "a", "b", "c"}; !slices.Equal(got, want) {
			t.Fatalf("while away the broker got %v, want %v", got, want)
		}
		// The first failure spares the next alerts another try: they go
		// live at once instead of each waiting for the journal to fail.
		if n := r.appends.Load(); n != 2 {
			t.Errorf("%d appends tried, want 2 (one for 'before', one that failed)", n)
		}
		if st := r.x.Status(); st.Outbox == nil || st.Outbox.Waiting != 3 || !st.Failing || st.State != router.JournalWaiting {
			t.Fatalf("status while away = %+v (failing %v, state %q), want 3 waiting, failing, state waiting", st.Outbox, st.Failing, st.State)
		}
		// The outage is logged once, not once per alert.
		if n := r.logs.count("level=ERROR"); n != 1 {
			t.Errorf("%d ERROR lines while away, want 1:\n%s", n, r.logs.String())
		}

		r.away(false)
		r.publish(t, "r", "after")
		if got, want := r.published("r"), []string{"before@1", "a", "b", "c", "a@2", "b@3", "c@4", "after@5"}; !slices.Equal(got, want) {
			t.Errorf("once back the broker got %v, want %v", got, want)
		}
		ids, liveTo := r.journaled(t, "r")
		if want := []string{"before", "a", "b", "c", "after"}; !slices.Equal(ids, want) {
			t.Errorf("journal holds %v, want %v", ids, want)
		}
		for i, pids := range liveTo {
			late := i >= 1 && i <= 3
			if got := slices.Equal(pids, []string{"pid-here"}); got != late {
				t.Errorf("entry %s lists LiveTo %v", ids[i], pids)
			}
		}
		if st := r.x.Status(); st.Outbox.Waiting != 0 || st.Outbox.Journaled != 3 || st.Failing || st.State != router.JournalOK {
			t.Errorf("status once back = %+v (failing %v, state %q), want none waiting, 3 journaled, not failing, state ok", st.Outbox, st.Failing, st.State)
		}
		if n := r.logs.count("journal back:"); n != 1 || r.logs.count("journaled=3 dropped=0") != 1 {
			t.Errorf("the catch-up is logged %d times, want once with its count:\n%s", n, r.logs.String())
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxSkipsWhatAStalledJournalTook: an append that times out on a
// Redis that stalled is stored when Redis resumes (and, on Redis, its
// script publishes it to every node). The outbox, which kept the delivery
// meanwhile, finds it in the journal and neither journals nor publishes it
// a second time; it records on that entry the pages it reached live, as
// pages that had it live (LiveTo: recovery on any node leaves it out for
// them) and as reached (the entry is not pending). The same event under another emit name (a
// second rule) is another delivery: that one is journaled late.
func TestOutboxSkipsWhatAStalledJournalTook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.publish(t, "r", "before")
		r.stall.Store(true)
		r.localOnly.Store(true)
		r.publish(t, "r", "a") // times out after 2 s; stored on the way out
		other := alert("r", "a")
		other.Name, other.Rule = "OTHER", "second rule"
		if _, err := r.x.Publish(t.Context(), other); err != nil { // joins the outbox at once
			t.Fatal(err)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 2 {
			t.Fatalf("status while stalled = %+v, want 2 waiting", st.Outbox)
		}
		r.stall.Store(false)
		r.localOnly.Store(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got, want := r.published("r"), []string{"before@1", "a", "a", "a@3"}; !slices.Equal(got, want) {
			t.Errorf("the broker got %v, want %v (the stalled append's entry is not published again)", got, want)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 0 || st.Outbox.Journaled != 2 {
			t.Errorf("status once back = %+v, want none waiting, 2 journaled", st.Outbox)
		}
		if r.logs.count("journaled=2 dropped=0 already_journaled=1") != 1 {
			t.Errorf("the catch-up does not say one alert was journaled already:\n%s", r.logs.String())
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		es, err := r.j.After(t.Context(), "r", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s/%s@%d reached %d live to %v", e.Delivery.EventID, e.Delivery.Name, e.Offset, e.Reached, e.Delivery.LiveTo))
		}
		want := []string{"before/FOLLOW@1 reached 1 live to []", "a/FOLLOW@2 reached 1 live to [pid-here]", "a/OTHER@3 reached 1 live to [pid-here]"}
		if !slices.Equal(got, want) {
			t.Errorf("journal holds %v, want %v", got, want)
		}
	})
}

// TestOutboxWaitsForTheNodeToHearRedis: while the node does not hear Redis
// (its subscription is down), the retry loop leaves the journal alone,
// even when the journal would answer: on a Redis that stalled each try
// would wait for the journal's timeout holding the room's turn, and the
// room's live alerts would wait behind it. Once the node hears Redis, the
// loop journals what waits.
func TestOutboxWaitsForTheNodeToHearRedis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.away(true)
		r.publish(t, "room", "a")
		r.down.Store(false) // the journal answers; the subscription is still down
		tries := r.appends.Load()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := r.appends.Load() - tries; n != 0 {
			t.Errorf("the retry loop tried the journal %d times while the node did not hear Redis, want 0", n)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 1 {
			t.Errorf("status = %+v, want 1 waiting", st.Outbox)
		}
		r.localOnly.Store(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got, want := r.published("room"), []string{"a", "a@1"}; !slices.Equal(got, want) {
			t.Errorf("once the node heard Redis the broker got %v, want %v", got, want)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAStalledJournalSendsToThisNodesPagesAlone: when the journal does not
// answer in time (a Redis that stalled, before the node's subscription
// notices), the alert goes to this node's pages alone at once, instead of
// waiting on the same Redis for the broker, and the outbox keeps it for
// the other nodes; so do the alerts that skip the journal for a moment
// after. A journal that Redis answers with an error leaves the broker to
// try.
func TestAStalledJournalSendsToThisNodesPagesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.stall.Store(true) // the broker still hears Redis
		r.publish(t, "room", "a", "b")
		if n := r.rb.local.Load(); n != 2 {
			t.Errorf("%d alerts went to this node's pages alone, want 2 (the one that timed out, the one after)", n)
		}
		// Kept for the other nodes (the retry may have taken one already).
		if st := r.x.Status(); st.Outbox.Waiting+int(st.Outbox.Journaled) != 2 {
			t.Errorf("status = %+v, want 2 kept for the other nodes", st.Outbox)
		}
		r.stall.Store(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := r.x.Status(); st.Outbox.Waiting != 0 {
			t.Errorf("status once Redis answers = %+v, want none waiting", st.Outbox)
		}

		r.refuse.Store(true) // refused at once, not a timeout
		time.Sleep(2 * time.Second)
		r.publish(t, "other", "c")
		if n := r.rb.local.Load(); n != 2 {
			t.Errorf("an alert the journal refused went to this node's pages alone (%d, want 2): the broker may still reach the others", n)
		}
		r.refuse.Store(false)
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxRetriesQuietRooms: a room that gets no further alert is
// journaled by the retry loop soon after Redis is back; one that waited
// beyond MaxAge is dropped, not sent hours late.
func TestOutboxRetriesQuietRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.away(true)
		r.publish(t, "quiet", "q")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := r.published("quiet"); !slices.Equal(got, []string{"q"}) {
			t.Fatalf("while away the broker got %v, want the live one only", got)
		}
		r.away(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got, want := r.published("quiet"), []string{"q", "q@1"}; !slices.Equal(got, want) {
			t.Errorf("after Redis came back the broker got %v, want %v", got, want)
		}

		r.away(true)
		r.publish(t, "stale", "s")
		time.Sleep(11 * time.Minute)
		r.away(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := r.published("stale"); !slices.Equal(got, []string{"s"}) {
			t.Errorf("an alert older than MaxAge: the broker got %v, want the live one only", got)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 0 || st.Outbox.Dropped != 1 || st.Outbox.Journaled != 1 {
			t.Errorf("status = %+v, want none waiting, 1 dropped, 1 journaled", st.Outbox)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxKeepsWhatTheBrokerDeliveredLocally: a broker that delivered
// to this node's pages only before it noticed Redis was gone (a network
// cut is noticed late) says so, and the delivery is kept all the same;
// its sender is answered as for any live delivery.
func TestOutboxKeepsWhatTheBrokerDeliveredLocally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.down.Store(true)
		r.rb.localOnly.Store(true)
		r.publish(t, "r", "a") // publish fails the test on an error
		if st := r.x.Status(); st.Outbox.Waiting != 1 {
			t.Fatalf("status = %+v, want the delivery kept", st.Outbox)
		}
		r.down.Store(false)
		r.rb.localOnly.Store(false)
		r.publish(t, "r", "b")
		if got, want := r.published("r"), []string{"a", "a@1", "b@2"}; !slices.Equal(got, want) {
			t.Errorf("the broker got %v, want %v", got, want)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxKeepsWhatTheJournalCouldNotReach: Redis is back and the node
// hears it again, but the journal's connections are not back yet
// (go-redis waits between dials after a run of failed ones). An alert the
// journal cannot take then goes to this node's pages alone and waits in
// the outbox, as while Redis was away, and so does the next one of its
// room, behind it: sent to every node at once, it would have no history
// (no page that recovers, and not the first page to register, would get
// it) and would pass what waits. Once the journal answers, both are
// journaled and sent to every node, in order.
func TestOutboxKeepsWhatTheJournalCouldNotReach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.down.Store(true) // the journal cannot dial; the broker hears Redis
		r.publish(t, "r", "a", "b")
		if n := r.rb.local.Load(); n != 2 {
			t.Errorf("%d alerts went to this node's pages alone, want 2", n)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 2 {
			t.Fatalf("status = %+v, want both kept", st.Outbox)
		}
		r.down.Store(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r.publish(t, "r", "c")
		if got, want := r.published("r"), []string{"a", "b", "a@1", "b@2", "c@3"}; !slices.Equal(got, want) {
			t.Errorf("the broker got %v, want %v", got, want)
		}
		if ids, _ := r.journaled(t, "r"); !slices.Equal(ids, []string{"a", "b", "c"}) {
			t.Errorf("journaled %v, want a, b, c", ids)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxKeepsOnlyLocalDeliveries: when Redis refuses the journal's
// writes but carries Pub/Sub, every page had the alert live: nothing is
// kept to send again.
func TestOutboxKeepsOnlyLocalDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.refuse.Store(true)
		r.publish(t, "r", "a")
		r.refuse.Store(false)
		time.Sleep(2 * time.Second)
		r.publish(t, "r", "b")
		if got, want := r.published("r"), []string{"a", "b@1"}; !slices.Equal(got, want) {
			t.Errorf("the broker got %v, want %v", got, want)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 0 || st.Outbox.Journaled != 0 {
			t.Errorf("status = %+v, want nothing kept", st.Outbox)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxKeepsNothingRefusedAtShutdown: while Redis is away and herald
// shuts down, a delivery the broker refuses is the sender's to send again
// (503): the outbox does not keep it too, which would show it twice.
func TestOutboxKeepsNothingRefusedAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.away(true)
		r.rb.shut.Store(true)
		if _, err := r.x.Publish(t.Context(), alert("r", "refused")); !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Publish = %v, want the broker's refusal", err)
		}
		if st := r.x.Status(); st.Outbox.Waiting != 0 {
			t.Errorf("outbox holds %d, want nothing", st.Outbox.Waiting)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxKeepsARoomsOrderWhileRedisIsAway: while Redis is away, a
// delivery of a room with alerts waiting joins them in its turn, never
// passed by a later one. A chaos run saw one that tried the journal first
// (which hung until its deadline) overtaken by a later one of its room
// that skipped the journal because another room's append had just failed.
func TestOutboxKeepsARoomsOrderWhileRedisIsAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.away(true)
		r.publish(t, "r", "first") // refused: kept; the retry loop tries at 1 s, 2 s, …
		time.Sleep(1900 * time.Millisecond)
		r.hang.Store(true) // Redis stops answering: the try at 2 s hangs until 4 s
		time.Sleep(600 * time.Millisecond)
		go r.publishErr(t, "r", "second")
		time.Sleep(100 * time.Millisecond)
		r.hang.Store(false)
		r.publish(t, "other", "o") // refused: the journal failed just now
		time.Sleep(100 * time.Millisecond)
		go r.publishErr(t, "r", "third")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got, want := r.published("r"), []string{"first", "second", "third"}; !slices.Equal(got, want) {
			t.Errorf("the broker got %v, want %v", got, want)
		}
		r.away(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ids, _ := r.journaled(t, "r"); !slices.Equal(ids, []string{"first", "second", "third"}) {
			t.Errorf("journaled once back: %v, want first, second, third", ids)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxFull: an outbox holds at most 10,000 alerts (the README's
// bound); the ones beyond it reach this node's pages and are counted as
// dropped, and the ones it holds are journaled once Redis is back, in
// order.
func TestOutboxFull(t *testing.T) {
	const bound = 10_000
	synctest.Test(t, func(t *testing.T) {
		r := newOutboxRig(t)
		r.away(true)
		for i := range bound + 2 {
			if _, err := r.x.Publish(t.Context(), alert(fmt.Sprint("room", i%7), fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if st := r.x.Status(); st.Outbox.Waiting != bound || st.Outbox.Dropped != 2 {
			t.Fatalf("status = %+v, want %d waiting and 2 dropped", st.Outbox, bound)
		}
		r.away(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := r.x.Status(); st.Outbox.Waiting != 0 || st.Outbox.Journaled != bound {
			t.Errorf("status once back = %+v, want all %d journaled", st.Outbox, bound)
		}
		// room0's history (what retention keeps of it) ends with its last
		// kept alert, in the order they came.
		es, err := r.j.Last(t.Context(), "room0", 1000)
		if err != nil || len(es) == 0 {
			t.Fatalf("room0's history: %d entries, %v", len(es), err)
		}
		prev := -1
		for _, e := range es {
			n, _ := strconv.Atoi(e.Delivery.EventID)
			if n <= prev {
				t.Fatalf("room0's history has %d after %d", n, prev)
			}
			prev = n
		}
		if prev != 9996 {
			t.Errorf("room0's last journaled alert = %d, want 9996 (the last one kept)", prev)
		}
		if err := r.x.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxOnDiskOutlivesTheNode: with a store (journal/spool, a real
// file), what a node delivered alone while Redis was away is on disk when
// its sender is answered. The node stops before Redis is back; started
// again on the same file, it journals those alerts in order once Redis is
// back, naming the pages that had them live, and the file is emptied.
func TestOutboxOnDiskOutlivesTheNode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	sp, _, err := spool.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first := newOutboxRigOn(t, sp, nil)
	first.away(true)
	first.publish(t, "r", "a", "b")
	first.publish(t, "other", "c")
	if st := first.x.Status(); st.Outbox == nil || !st.Outbox.OnDisk || st.Outbox.Waiting != 3 {
		t.Fatalf("status while away = %+v, want 3 waiting on disk", st.Outbox)
	}
	if err := first.x.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.logs.String(), "kept on disk and journaled when this node starts again") {
		t.Errorf("stopping with alerts waiting does not say where they are:\n%s", first.logs.String())
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	left := loadSpool(t, path)
	if got := unjournaledIDs(left); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("the file holds %v, want a, b, c in order", got)
	}
	sp, _, err = spool.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	second := newOutboxRigOn(t, sp, left)
	deadline := time.Now().Add(10 * time.Second)
	for len(second.published("r")) < 2 || len(second.published("other")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the broker got %v and %v, want a@1 b@2 and c@1", second.published("r"), second.published("other"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := second.published("r"), []string{"a@1", "b@2"}; !slices.Equal(got, want) {
		t.Errorf("after the restart the broker got %v, want %v", got, want)
	}
	ids, liveTo := second.journaled(t, "r")
	if !slices.Equal(ids, []string{"a", "b"}) || !slices.Equal(liveTo[0], []string{"pid-here"}) {
		t.Errorf("journal holds %v with LiveTo %v, want a, b, each live to pid-here", ids, liveTo)
	}
	if err := second.x.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if left := loadSpool(t, path); len(left) != 0 {
		t.Errorf("the file still holds %v once they are journaled", unjournaledIDs(left))
	}
}

func loadSpool(t *testing.T, path string) []router.Unjournaled {
	t.Helper()
	sp, _, err := spool.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var left []router.Unjournaled
	if _, err := sp.Load(func(e spool.Entry) {
		left = append(left, router.Unjournaled{ID: e.ID, Delivery: e.Delivery, At: e.At, Reached: e.Reached})
	}); err != nil {
		t.Fatal(err)
	}
	return left
}

func unjournaledIDs(us []router.Unjournaled) []string {
	var ids []string
	for _, u := range us {
		ids = append(ids, u.Delivery.EventID)
	}
	return ids
}
