package router

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Outbox settings (Journaled.KeepUnjournaled).
const (
	// maxOutbox bounds the deliveries an outbox holds across rooms: an
	// outage long enough to fill it has lasted far beyond any window in
	// which a late alert is still welcome.
	maxOutbox = 10_000
	// outboxRetry is how often the journal is tried again for what waits,
	// and how long a failed try spares later deliveries another try (they
	// join the queue at once instead of each waiting for the journal to
	// fail).
	outboxRetry = time.Second
	// maxLiveTo bounds the pages remembered per delivery (LiveTo). A room
	// with more pages on one node than that is not an alert box; its pages
	// beyond the bound may get the delivery again if they recover.
	maxLiveTo = 1000
)

// OutboxOptions turns on Journaled's outbox (KeepUnjournaled).
type OutboxOptions struct {
	// LocalOnly reports whether a delivery published now reaches this
	// node's pages only (cluster mode with Redis away). Only those are
	// kept: a delivery that reached every node's pages live has nobody
	// left to reach.
	LocalOnly func() bool
	// SentLive lists the private session ids of the pages of this node
	// that a delivery without an offset was sent to live: recovery must
	// not send it to them again once it is journaled
	// (herald.Delivery.LiveTo).
	SentLive func(herald.Delivery) []string
	// MaxAge is how old a kept delivery may grow before it is dropped
	// instead of journaled late (an alert after the window is noise).
	MaxAge func() time.Duration
	// Store keeps what waits on disk (journal/spool), so that a node
	// stopped or killed while Redis is away journals it when it starts
	// again. Nil keeps it in memory only.
	Store OutboxStore
	// Left is what Store held at start, oldest first: deliveries an
	// earlier run of this node sent alone and never journaled.
	Left []Unjournaled
}

// OutboxStore is where an outbox keeps its deliveries on disk.
type OutboxStore interface {
	// Keep stores a delivery and returns its id once it is on disk.
	Keep(d herald.Delivery, at time.Time, reached int) (id uint64, err error)
	// Forget removes a delivery once it is journaled or given up.
	Forget(id uint64)
}

// Unjournaled is a delivery an earlier run kept in its OutboxStore.
type Unjournaled struct {
	ID       uint64          // the store's id
	Delivery herald.Delivery // with LiveTo
	At       time.Time       // when it went live
	Reached  int             // pages it reached live
}

// OutboxStatus is the outbox's part of the journal status.
type OutboxStatus struct {
	// Waiting counts deliveries sent to this node's pages only, waiting
	// for the journal (and through it the other nodes).
	Waiting int `json:"waiting"`
	// Journaled counts deliveries journaled late, once the journal was
	// back, and sent to every node's pages.
	Journaled uint64 `json:"journaled"`
	// Dropped counts deliveries given up: too old, or the outbox full.
	Dropped uint64 `json:"dropped"`
	// OnDisk tells whether waiting deliveries are also kept on disk, and
	// so survive this node's stop or crash.
	OnDisk bool `json:"on_disk"`
}

// outbox holds, per room and in order, the deliveries the journal could
// not take while they went to this node's pages only. Each is journaled
// (and so published to every node) once the journal is back: by the next
// delivery of its room, which waits for them so a room's alerts keep
// their order, or by a retry loop for rooms that stay quiet. One the
// journal turns out to hold already (an append that timed out but that a
// stalled Redis ran on resuming, just in time, and so published) is not
// journaled or published again (Journaled.storeLate).
type outbox struct {
	opts  OutboxOptions
	store func(context.Context, kept) error // journal and publish one
	log   *slog.Logger

	mu    sync.Mutex // guards rooms and their queues
	rooms map[string]*outQueue
	total int

	waiting   atomic.Int64 // total, readable without mu
	failedAt  atomic.Int64 // unix nanos of the last failed try
	timedOut  atomic.Bool  // the last failed try timed out
	journaled atomic.Uint64
	dropped   atomic.Uint64
	// already counts the journaled deliveries the journal turned out to
	// hold already (an append that timed out, but ran): not sent again.
	already atomic.Uint64
	// storeFailed is set while opts.Store refuses deliveries, so that the
	// failure is logged once, not per alert.
	storeFailed atomic.Bool
	// caught is the journaled, dropped and already counts when the outbox
	// last emptied, so its catch-up is logged as what this outage left.
	caught [3]uint64
}

// kept is one delivery waiting in the outbox.
type kept struct {
	d       herald.Delivery // with LiveTo
	at      time.Time       // when it went live
	reached int             // pages it reached live
	id      uint64          // its id in opts.Store; 0 when not stored
}

// outQueue is one room's waiting deliveries. Its turn is held while they
// are journaled, and by a new delivery of the room from before it tries
// the journal until it is published: a room's deliveries neither pass
// each other nor what waits.
//
// The turn is a channel rather than a mutex: its waiters queue in order,
// and a test's fake clock (testing/synctest) sees them blocked.
type outQueue struct {
	turn    chan struct{}
	entries []kept
}

func newOutQueue() *outQueue { return &outQueue{turn: make(chan struct{}, 1)} }

func newOutbox(opts OutboxOptions, store func(context.Context, kept) error, log *slog.Logger) *outbox {
	o := &outbox{opts: opts, store: store, log: log, rooms: map[string]*outQueue{}}
	for _, u := range opts.Left {
		o.queue(kept{d: u.Delivery, at: u.At, reached: u.Reached, id: u.ID})
	}
	if n := len(opts.Left); n > 0 {
		o.log.Info("alerts this node delivered alone while Redis was away, before it stopped, are journaled and sent to every node now",
			"alerts", n, "waiting", o.waiting.Load())
	}
	return o
}

// keeps reports whether a delivery published now should be kept.
func (o *outbox) keeps() bool { return o != nil && o.opts.LocalOnly() }

// liveTo is the pages of this node that d, just published, reached.
func (o *outbox) liveTo(d herald.Delivery) []string {
	ids := o.opts.SentLive(d)
	if len(ids) > maxLiveTo {
		ids = ids[:maxLiveTo]
	}
	return ids
}

// add stores k on disk, when the outbox has a store, and queues it behind
// its room's earlier deliveries. The caller holds the room's place in
// line (the journal's sequencer), so a room's deliveries are added, and
// stored, in order.
func (o *outbox) add(k kept) {
	if o.waiting.Load() >= maxOutbox {
		o.dropped.Add(1)
		return
	}
	if o.opts.Store != nil {
		id, err := o.opts.Store.Keep(k.d, k.at, k.reached)
		if err != nil {
			// The live alert is out; only a crash before Redis is back
			// would now lose its way to the other nodes.
			level := slog.LevelDebug
			if !o.storeFailed.Swap(true) {
				level = slog.LevelError
			}
			o.log.Log(context.Background(), level, "outbox not kept on disk: alerts wait in memory for Redis", "err", err)
		} else {
			k.id = id
			o.storeFailed.Store(false)
		}
	}
	o.queue(k)
}

// queue appends k to its room's queue.
func (o *outbox) queue(k kept) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.total >= maxOutbox {
		// Full: the newest is not kept (this node's pages had it). Not
		// the oldest instead: a flush may be journaling it right now.
		o.dropped.Add(1)
		o.forget(k)
		return
	}
	q := o.rooms[k.d.Room]
	if q == nil {
		q = newOutQueue()
		o.rooms[k.d.Room] = q
	}
	q.entries = append(q.entries, k)
	o.total++
	o.waiting.Store(int64(o.total))
}

// forget removes k from the store once it is journaled or given up.
func (o *outbox) forget(k kept) {
	if k.id != 0 && o.opts.Store != nil {
		o.opts.Store.Forget(k.id)
	}
}

// away reports whether a delivery published now should skip the journal:
// Redis is away and the journal failed within outboxRetry. Until the next
// try, deliveries join the queue without waiting for another failure.
func (o *outbox) away(now time.Time) bool {
	return o != nil && now.UnixNano()-o.failedAt.Load() < int64(outboxRetry) && o.keeps()
}

// failed records a failed try of the journal, and whether it failed by
// not answering in time.
func (o *outbox) failed(err error) {
	if o != nil {
		o.failedAt.Store(time.Now().UnixNano())
		o.timedOut.Store(isTimeout(err))
	}
}

// isTimeout reports whether err is a store that did not answer in time.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// unreachable reports whether err is a store that could not be reached
// (a refused, reset or closed connection, or no answer in time) rather
// than one that answered with an error.
func unreachable(err error) bool {
	var ne net.Error
	return isTimeout(err) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// stalled reports whether the journal's last failure was a timeout: the
// store is there but does not answer (a Redis that stalled), and neither
// would the broker.
func (o *outbox) stalled() bool { return o != nil && o.timedOut.Load() }

// lock waits for room's turn and returns its queue, or nil when nothing
// of room waits. The caller journals or joins the queue, then unlocks.
func (o *outbox) lock(room string) *outQueue {
	if o == nil || o.waiting.Load() == 0 {
		return nil
	}
	for {
		o.mu.Lock()
		q := o.rooms[room]
		o.mu.Unlock()
		if q == nil {
			return nil
		}
		q.turn <- struct{}{}
		o.mu.Lock()
		same := o.rooms[room] == q
		o.mu.Unlock()
		if same {
			return q
		}
		<-q.turn // emptied meanwhile; a new queue may have begun
	}
}

func (o *outbox) unlock(q *outQueue) { <-q.turn }

// flush journals room's waiting deliveries (flushLocked) in its turn.
func (o *outbox) flush(ctx context.Context, room string) error {
	q := o.lock(room)
	if q == nil {
		return nil
	}
	defer o.unlock(q)
	return o.flushLocked(ctx, room, q)
}

// flushLocked journals the deliveries of q, room's locked queue, oldest
// first, and reports the first failure (the rest keep waiting).
// Deliveries past MaxAge are dropped.
func (o *outbox) flushLocked(ctx context.Context, room string, q *outQueue) error {
	for {
		o.mu.Lock()
		if len(q.entries) == 0 {
			if o.rooms[room] == q {
				delete(o.rooms, room)
			}
			o.mu.Unlock()
			return nil
		}
		k := q.entries[0]
		o.mu.Unlock()
		var err error
		if time.Since(k.at) > o.opts.MaxAge() {
			o.dropped.Add(1)
		} else if err = o.store(ctx, k); err != nil {
			o.failed(err)
			return err
		} else {
			o.journaled.Add(1)
		}
		o.forget(k)
		o.mu.Lock()
		q.entries = q.entries[1:]
		o.total--
		o.waiting.Store(int64(o.total))
		if o.total == 0 {
			o.caughtUp()
		}
		o.mu.Unlock()
	}
}

// caughtUp logs what the outage that just ended left; callers hold o.mu.
func (o *outbox) caughtUp() {
	j, d, a := o.journaled.Load(), o.dropped.Load(), o.already.Load()
	o.log.Info("journal back: alerts this node delivered alone while Redis was away are journaled and sent to every node",
		"journaled", j-o.caught[0], "dropped", d-o.caught[1], "already_journaled", a-o.caught[2])
	o.caught = [3]uint64{j, d, a}
}

// retry flushes every room with deliveries waiting, every outboxRetry,
// until ctx ends: once the node hears Redis again (keeps is false). While
// it does not, a flush would only wait for the journal's timeout (a Redis
// that stalled answers nothing), holding the room's turn: the room's live
// deliveries would wait behind it.
func (o *outbox) retry(ctx context.Context) {
	t := time.NewTicker(outboxRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if o.waiting.Load() == 0 || o.keeps() {
			continue
		}
		o.mu.Lock()
		rooms := make([]string, 0, len(o.rooms))
		for room := range o.rooms {
			rooms = append(rooms, room)
		}
		o.mu.Unlock()
		for _, room := range rooms {
			if err := o.flush(ctx, room); err != nil {
				break // still away: every room would fail the same way
			}
		}
	}
}

// status reports the outbox's counters.
func (o *outbox) status() *OutboxStatus {
	if o == nil {
		return nil
	}
	return &OutboxStatus{Waiting: int(o.waiting.Load()), Journaled: o.journaled.Load(), Dropped: o.dropped.Load(),
		OnDisk: o.opts.Store != nil}
}
