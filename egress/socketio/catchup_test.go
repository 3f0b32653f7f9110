package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// catchupJournal steps in on the reads of a page that recovers: after the
// first (Connect's), between runs; the second (the catch-up read) waits
// for release, then fails when fail is set.
type catchupJournal struct {
	journal.Journal
	armed   atomic.Bool
	calls   atomic.Int32
	between func()
	reading chan struct{} // closed when the catch-up read begins
	release chan struct{}
	once    sync.Once
	fail    bool
}

// proceed lets the catch-up read go on.
func (c *catchupJournal) proceed() { c.once.Do(func() { close(c.release) }) }

func (c *catchupJournal) After(ctx context.Context, room string, after uint64, limit int) ([]journal.Entry, error) {
	if !c.armed.Load() {
		return c.Journal.After(ctx, room, after, limit)
	}
	switch c.calls.Add(1) {
	case 1:
		es, err := c.Journal.After(ctx, room, after, limit)
		c.between()
		return es, err
	case 2:
		close(c.reading)
		<-c.release
		if c.fail {
			return nil, errors.New("journal: timeout")
		}
	}
	return c.Journal.After(ctx, room, after, limit)
}

// catchupRig is a sink on a catchupJournal with a page of code "abc" that
// left, its session saved, and ALERT1 journaled while it was away.
type catchupRig struct {
	t   *testing.T
	j   *mem.Store
	c   *catchupJournal
	s   *Sink
	url string
	pid string
}

func newCatchupRig(t *testing.T) *catchupRig {
	r := &catchupRig{t: t, j: mem.New()}
	t.Cleanup(func() { _ = r.j.Close() })
	r.c = &catchupJournal{Journal: r.j, reading: make(chan struct{}), release: make(chan struct{})}
	k := recovery.New(r.c, recovery.Options{})
	s, srv := startSink(t, Options{Log: discardLog(), Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})
	r.s, r.url = s, srv.URL
	t.Cleanup(r.c.proceed) // before the sink closes, even when a test fails early
	first := connectRaw(t, r.url, "websocket", map[string]any{"code": "abc"})
	r.pid = first.pid
	waitFor(t, "session saved", func() bool { _, ok, _ := r.j.Session(t.Context(), r.pid); return ok })
	first.close()
	waitFor(t, "the page gone", func() bool { return len(r.s.Clients()) == 0 })
	r.s.writes.Wait()
	r.journal("1")
	return r
}

// journal appends ALERT<n> to room abc and returns it as the router
// publishes it.
func (r *catchupRig) journal(n string) herald.Delivery {
	e, err := r.j.Append(r.t.Context(), delivery("abc", "ALERT"+n, map[string]any{"n": n}))
	if err != nil {
		r.t.Fatal(err)
	}
	d := e.Delivery
	d.Offset = e.Offset
	return d
}

// deliverHeld delivers d, journaled, to the page catching up, whose read
// is held: it waits for the page, without waiting for the read, and is
// not counted yet (it is, once sent).
func (r *catchupRig) deliverHeld(d herald.Delivery) {
	r.t.Helper()
	done := make(chan int, 1)
	go func() { n, _ := r.s.Deliver(context.Background(), d); done <- n }()
	select {
	case n := <-done:
		if n != 0 {
			r.t.Errorf("%s during the catch-up counted %d pages, want 0 until it is sent", d.Name, n)
		}
	case <-time.After(timeout):
		r.t.Fatalf("%s waited for the page's catch-up read", d.Name)
	}
}

// reached returns the pages each of room abc's entries reached, by name.
func (r *catchupRig) reached() map[string]int {
	r.t.Helper()
	es, err := r.j.Last(r.t.Context(), "abc", 20)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range es {
		out[e.Delivery.Name] = e.Reached
	}
	return out
}

// recoverPage connects with auth over the native path and returns the
// connection once its CONNECT is answered.
func (r *catchupRig) recoverPage(auth map[string]any) *websocket.Conn {
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { conn.Close() })
	if _, _, err := conn.ReadMessage(); err != nil {
		r.t.Fatal(err)
	}
	b, _ := json.Marshal(auth)
	if err := conn.WriteMessage(websocket.TextMessage, append([]byte("40"), b...)); err != nil {
		r.t.Fatal(err)
	}
	return conn
}

// alerts reads conn's alerts until it closes or has been quiet for a
// moment; it returns their names and the position of the last.
func alerts(t *testing.T, conn *websocket.Conn, want int) (names []string, last string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(names) < want && time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		_, m, err := conn.ReadMessage()
		if err != nil {
			break
		}
		var args []json.RawMessage
		if !strings.HasPrefix(string(m), "42[") || json.Unmarshal(m[2:], &args) != nil {
			continue
		}
		var name string
		_ = json.Unmarshal(args[0], &name)
		names = append(names, name)
		_ = json.Unmarshal(args[len(args)-1], &last)
	}
	return names, last
}

// TestCatchUpHoldsLiveDeliveriesOutsideTheLock: while a recovering page's
// catch-up read is slow, deliveries to other rooms go on (the read holds
// no lock the fan-out takes), and the page's own live alerts wait for it:
// it gets what it missed, what was published while it joined, and what
// came during the read, once each, in order.
func TestCatchUpHoldsLiveDeliveriesOutsideTheLock(t *testing.T) {
	r := newCatchupRig(t)
	other := dialRaw(t, r.url, "xyz", nil)
	r.c.between = func() { r.s.Deliver(context.Background(), r.journal("2")) } // reaches no page: not in its room yet
	r.c.armed.Store(true)
	conn := r.recoverPage(map[string]any{"pid": r.pid})
	<-r.c.reading

	done := make(chan int, 1)
	go func() { n, _ := r.s.Deliver(context.Background(), delivery("xyz", "ELSEWHERE", nil)); done <- n }()
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("delivery to another room reached %d pages, want 1", n)
		}
	case <-time.After(timeout):
		t.Fatal("a delivery to another room waited for a page's catch-up read")
	}
	if f := other.next(t); !strings.HasPrefix(f, `42["ELSEWHERE"`) {
		t.Errorf("other page got %s", f)
	}
	r.deliverHeld(r.journal("3"))
	r.c.proceed()
	if got, _ := alerts(t, conn, 3); strings.Join(got, ",") != "ALERT1,ALERT2,ALERT3" {
		t.Errorf("recovering page got %v, want ALERT1, ALERT2, ALERT3", got)
	}
	waitFor(t, "ALERT2 and ALERT3 counted as reached once, when sent", func() bool {
		got := r.reached()
		return got["ALERT2"] == 1 && got["ALERT3"] == 1
	})
	deliver(t, r.s, r.journal("4"), 1)
	if got, _ := alerts(t, conn, 1); strings.Join(got, ",") != "ALERT4" {
		t.Errorf("then got %v, want ALERT4 (live again)", got)
	}
}

// TestCatchUpFailureClosesThePage: when the catch-up read fails, the page
// cannot be sent what came after without losing what it missed in
// between: it is closed, comes back with the offset of its last alert (as
// its client does), and gets the rest, once each, in order.
func TestCatchUpFailureClosesThePage(t *testing.T) {
	r := newCatchupRig(t)
	r.c.between = func() { r.s.Deliver(context.Background(), r.journal("2")) }
	r.c.fail = true
	r.c.armed.Store(true)
	conn := r.recoverPage(map[string]any{"pid": r.pid})
	<-r.c.reading
	r.deliverHeld(r.journal("3"))
	r.c.proceed()
	got, last := alerts(t, conn, 3)
	if strings.Join(got, ",") != "ALERT1" {
		t.Fatalf("before it was closed the page got %v, want ALERT1 only (ALERT2 is lost to it if ALERT3 comes first)", got)
	}
	// Not sent, so not counted: pending for the next page, should this
	// one never come back.
	waitFor(t, "the page closed", func() bool { return len(r.s.Clients()) == 0 })
	r.s.writes.Wait() // no page is left to start another
	if got := r.reached(); got["ALERT2"] != 0 || got["ALERT3"] != 0 {
		t.Errorf("pages reached = %v, want ALERT2 and ALERT3 still at 0", got)
	}
	again := r.recoverPage(map[string]any{"pid": r.pid, "offset": last})
	if got, _ := alerts(t, again, 2); strings.Join(got, ",") != "ALERT2,ALERT3" {
		t.Errorf("back, the page got %v, want ALERT2, ALERT3", got)
	}
}
