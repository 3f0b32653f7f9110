package router

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/internal/outage"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/rules"
)

// DefaultAppendTimeout bounds how long a delivery waits for its journal
// commit before it is sent live without an offset.
const DefaultAppendTimeout = 2 * time.Second

// Journaled is a broker.Broker that writes every delivery to a journal
// before the broker under it carries it to pages: the delivery leaves with
// its offset (Delivery.Offset), which pages send back to recover.
//
// Order of operations, per delivery:
//
//  1. Stage: the entry gets its offset. A journal.Stager (bolt) hands it
//     out at once and commits behind it; any other store appends first
//     (the entry is durable when the offset comes back).
//  2. Wait for the room's turn: appends of one room run concurrently (so
//     they share commits), but they are published in offset order, so a
//     page never sees offset 8 before 7 and recovery has no hole.
//  3. Publish to the broker under it, while the commit is on disk.
//  4. Wait until the entry is durable (a group commit): only then does
//     Publish return, so a sender answered 2xx loses nothing to a crash.
//     Then, off the caller's path, Mark the entry with the pages it
//     reached (an entry that reached none stays pending for the next
//     page that registers).
//
// A failed append never costs the live alert: the delivery is published
// without an offset, the failure is logged at ERROR and counted, and
// Status shows it. In cluster mode (KeepUnjournaled) a delivery that then
// reached only this node's pages waits in an outbox and is journaled, and
// so sent to the other nodes' pages, once Redis is back.
type Journaled struct {
	next    broker.Broker
	j       journal.Journal
	log     *slog.Logger
	timeout time.Duration
	seq     sequencer

	marks    chan mark
	stop     chan struct{}
	marked   chan struct{}
	closing  sync.Once
	failures atomic.Uint64
	outage   failLog       // paces the ERROR lines of a failing journal
	dropped  atomic.Uint64 // marks dropped because the queue was full
	lastFail atomic.Pointer[ErrorInfo]
	// waited and waits sum up how long deliveries waited for their entry
	// to be durable: the journal's lag on the alert path (JournalLag).
	waited atomic.Int64 // nanoseconds
	waits  atomic.Uint64

	out      *outbox // nil unless KeepUnjournaled
	stopOut  context.CancelFunc
	retrying sync.WaitGroup
}

type mark struct {
	room    string
	offset  uint64
	reached int
}

var _ broker.Broker = (*Journaled)(nil)

// NewJournaled wraps next. It starts the goroutine that records marks;
// Close stops it (the journal itself stays open: its owner closes it).
func NewJournaled(next broker.Broker, j journal.Journal, log *slog.Logger) *Journaled {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &Journaled{
		next: next, j: j, log: log.With("component", "journal"), timeout: DefaultAppendTimeout,
		seq:   sequencer{rooms: map[string]*seqRoom{}},
		marks: make(chan mark, 4096), stop: make(chan struct{}), marked: make(chan struct{}),
	}
	go x.markLoop()
	return x
}

// JournalSettings is the running rules file's journal: section.
func (r *Router) JournalSettings() rules.JournalSettings { return r.cur.Load().set.Journal() }

// Journal is the journal deliveries are written to.
func (x *Journaled) Journal() journal.Journal { return x.j }

// Publish implements broker.Broker.
func (x *Journaled) Publish(ctx context.Context, d herald.Delivery) (int, error) {
	n, _, err := x.PublishOffset(ctx, d)
	return n, err
}

// PublishOffset implements OffsetPublisher: Publish, and the offset the
// delivery went out with (0 when it was sent without one).
func (x *Journaled) PublishOffset(ctx context.Context, d herald.Delivery) (pages int, offset uint64, err error) {
	d.Offset, d.Replayed, d.Late, d.LiveTo = 0, false, false, nil
	// The append is the server's business, not the sender's: a sender that
	// hangs up must not leave a half-journaled alert.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), x.timeout)
	defer cancel()
	if q := x.out.lock(d.Room); q != nil {
		// Deliveries of the room that the journal could not take go
		// first, so the room's alerts reach every node in the order they
		// came. While Redis is away (the retry loop finds out when it is
		// back), d joins them at once.
		err := errJournalAway
		if !x.out.keeps() {
			err = x.out.flushLocked(actx, d.Room, q)
		}
		if err != nil {
			defer x.out.unlock(q)
			n, err := x.publishUnjournaled(ctx, x.seq.enter(d.Room), d, err, true)
			return n, 0, err
		}
		x.out.unlock(q)
	} else if x.out.away(time.Now()) {
		// Redis is away and the journal failed a moment ago: d goes to
		// this node's pages at once instead of waiting for another
		// failure.
		n, err := x.publishUnjournaled(ctx, x.seq.enter(d.Room), d, errJournalAway, false)
		return n, 0, err
	}
	start := time.Now()
	t := x.seq.enter(d.Room)
	e, durable, err := x.stage(actx, d)
	if err != nil {
		x.out.failed(err)
		n, err := x.publishUnjournaled(ctx, t, d, err, false)
		return n, 0, err
	}
	d.Offset = e.Offset
	x.seq.wait(t, e.Offset)
	n, err := x.next.Publish(ctx, d)
	x.seq.leave(t)
	// The sender is answered only once the entry is on disk; with a
	// Stager the pages got it while the commit was under way.
	if derr := durable(actx); derr != nil {
		if err == nil && n == 0 {
			x.failedLive(d, derr, "journal commit failed; the alert reached no page and is not kept")
			err = herald.ErrNotKept
		} else {
			x.failedLive(d, derr, "journal commit failed; alert sent live without history")
		}
		return n, e.Offset, err // the pages got it with its offset, and may ack it
	}
	x.waited.Add(int64(time.Since(start)))
	x.waits.Add(1)
	x.outage.ok(x.log)
	if _, volatile := x.j.(journal.Volatile); errors.Is(err, broker.ErrClosed) && !volatile {
		// Shutting down: the pages here did not get it, but the journal
		// has it, so they do when they come back (or the first page does,
		// while it is pending), and other nodes' pages had it from the
		// append. The sender must not send it again. (A journal in memory
		// goes with herald: the sender is told to send it again.)
		x.log.Info("alert journaled while shutting down; pages get it when they come back",
			"event_id", d.EventID, "rule", d.Rule, "offset", e.Offset, "err", err)
		return n, e.Offset, nil
	}
	if err == nil && n > 0 {
		x.mark(d.Room, e.Offset, n)
	}
	return n, e.Offset, err
}

// publishUnjournaled sends d live without an offset, after the
// deliveries of its room that came first: when the journal goes away, one
// append waits for its timeout while the next is refused at once. With
// the outbox on and Redis away, d is kept to be journaled once it is back.
// behind says that earlier deliveries of d's room wait in the outbox: d
// waits behind them.
func (x *Journaled) publishUnjournaled(ctx context.Context, t *ticket, d herald.Delivery, cause error, behind bool) (int, error) {
	x.seq.waitFailed(t)
	defer x.seq.leave(t)
	n, err := x.publishLive(ctx, d, cause, behind)
	if x.out != nil {
		// Who got it, now that it went out: while Redis stalls a publish
		// can take seconds, and pages come and go meanwhile.
		d.LiveTo = x.out.liveTo(d)
	}
	// Kept when it reached this node's pages only: the broker says so, or
	// knew Redis was away (a broker that delivered locally before it
	// noticed says so too).
	localOnly := errors.Is(err, broker.ErrLocalOnly)
	if localOnly {
		err = nil
	}
	// A refused delivery (herald is shutting down) is the sender's to
	// send again: keeping it too would show it twice.
	if x.out == nil || err != nil || (!localOnly && !x.out.keeps()) {
		if err == nil && n == 0 {
			// No page got it and nothing keeps it for the next one.
			x.failedLive(d, cause, "journal append failed; the alert reached no page and is not kept")
			err = herald.ErrNotKept
		} else {
			x.failedLive(d, cause, "journal append failed; alert sent live without history")
		}
		return n, err
	}
	// An outage is logged once, by its first alert (the broker has said
	// Redis is lost); the outbox logs again when it has caught up.
	level := slog.LevelDebug
	if x.out.waiting.Load() == 0 {
		level = slog.LevelError
	}
	x.failed(d, cause, level, "journal append failed; alerts go to this node's pages and are journaled and sent to the other nodes once Redis is back")
	x.out.add(kept{d: d, at: time.Now(), reached: n})
	return n, err
}

// publishLive hands d, which the journal did not take, to the broker. In
// cluster mode d goes to this node's pages alone (broker.LocalPublisher),
// and the outbox keeps it for the other nodes, as while Redis is away,
// when:
//   - the journal did not answer in time (now, or on the try that makes
//     this node skip it for a moment): the broker would wait for the same
//     Redis, one more timeout before the pages get it;
//   - the journal could not reach Redis, though the broker can: Redis is
//     back, and the journal's connections are not yet (go-redis waits
//     between dials after a run of failed ones). Sent to every node now,
//     d would have no history: a page that recovers, or the first page
//     to register, would never get it;
//   - earlier deliveries of its room wait in the outbox (behind): sent to
//     every node now, d would pass them.
func (x *Journaled) publishLive(ctx context.Context, d herald.Delivery, cause error, behind bool) (int, error) {
	skipped := errors.Is(cause, errJournalAway) && x.out.stalled() // after a timeout, the try being spared
	if lp, ok := x.next.(broker.LocalPublisher); ok && x.out != nil && (unreachable(cause) || skipped || behind) {
		return lp.PublishLocal(ctx, d)
	}
	return x.next.Publish(ctx, d)
}

// errJournalAway stands for the journal's last failure while the outbox
// spares deliveries another try.
var errJournalAway = errors.New("journal unavailable (tried again every second)")

// storeLate journals a delivery the outbox kept and publishes it, now
// with its offset, through the broker: the other nodes' pages get it; the
// pages that had it live do not again (broker/redis drops a second copy,
// and recovery skips it for the pages in LiveTo).
//
// A delivery the journal already holds is neither journaled nor published
// again: its append failed on a timeout, but reached the journal all the
// same. A Redis that stalled, rather than went away, runs what it was
// sent once it resumes; journal/redis has it refuse an append past its
// caller's deadline, but one it runs within a moment of that deadline
// (or before the node knew Redis's clock) is journaled and was published
// to every node.
func (x *Journaled) storeLate(ctx context.Context, k kept) error {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	if e, ok, err := x.findJournaled(ctx, k.d); err != nil {
		return err // the journal is still away: k keeps waiting
	} else if ok {
		// The entry lists no LiveTo (it was appended before it went
		// live): the pages this node reached live are added to it, so a
		// page that had it live and recovers from a position before it,
		// on any node, does not get it again. (Until then, and with a
		// journal that cannot add them, this node's egress skips it for
		// the pages it sent it live.) They are counted on it too, so it is
		// not handed out as pending.
		if lm, can := x.j.(journal.LiveMarker); can && len(k.d.LiveTo) > 0 {
			if err := lm.MarkLive(ctx, e.Delivery.Room, e.Offset, k.d.LiveTo); err != nil {
				return err // k waits and is found again
			}
		}
		if k.reached > 0 {
			x.mark(e.Delivery.Room, e.Offset, k.reached)
		}
		x.out.already.Add(1)
		return nil
	}
	t := x.seq.enter(k.d.Room)
	e, durable, err := x.stage(ctx, k.d)
	if err != nil {
		x.seq.leave(t)
		return err
	}
	d := k.d
	d.Offset = e.Offset
	x.seq.wait(t, e.Offset)
	n, _ := x.next.Publish(ctx, d) // the journal has it: that is what counts here
	x.seq.leave(t)
	if err := durable(ctx); err != nil {
		return err
	}
	if reached := max(n, k.reached); reached > 0 {
		x.mark(d.Room, e.Offset, reached)
	}
	return nil
}

// findJournaled looks for the journal's entry of d, a kept delivery: one
// of the same event, room, emit name and rule (an event may go to a room
// under two names, through two rules, as two entries). Replays are never
// journaled, and never taken for one.
//
// It costs a Find per kept delivery: on journal/redis one round trip for
// an event it never stored (the event index is written in the append's
// pipeline), one more to read the room's entries for one it did; on bolt
// and mem, which have no event index, a scan of the whole journal. The
// outbox only runs in cluster mode, on journal/redis.
func (x *Journaled) findJournaled(ctx context.Context, d herald.Delivery) (journal.Entry, bool, error) {
	if d.Replayed || d.EventID == "" {
		return journal.Entry{}, false, nil
	}
	es, err := x.j.Find(ctx, d.EventID)
	if err != nil {
		return journal.Entry{}, false, err
	}
	for _, e := range es {
		j := e.Delivery
		if !j.Replayed && j.EventID == d.EventID && j.Room == d.Room && j.Name == d.Name && j.Rule == d.Rule {
			return e, true, nil
		}
	}
	return journal.Entry{}, false, nil
}

// KeepUnjournaled turns on the outbox (cluster mode): while Redis is away
// a delivery reaches only this node's pages, so it is kept, in order, and
// journaled once Redis is back, which sends it to the other nodes' pages
// and gives it history. Call it once, before the first Publish.
func (x *Journaled) KeepUnjournaled(opts OutboxOptions) {
	x.out = newOutbox(opts, x.storeLate, x.log)
	ctx, stop := context.WithCancel(context.Background())
	x.stopOut = stop
	x.retrying.Add(1)
	go func() { defer x.retrying.Done(); x.out.retry(ctx) }()
}

// mark queues a "pages reached" record, off the caller's path.
func (x *Journaled) mark(room string, offset uint64, reached int) {
	select {
	case x.marks <- mark{room: room, offset: offset, reached: reached}:
	default:
		x.dropped.Add(1)
	}
}

// stage gives d its offset: at once from a journal.Stager (durable then
// waits for the commit), or after the whole append from any other store.
func (x *Journaled) stage(ctx context.Context, d herald.Delivery) (journal.Entry, func(context.Context) error, error) {
	if s, ok := x.j.(journal.Stager); ok {
		return s.Stage(ctx, d)
	}
	e, err := x.j.Append(ctx, d)
	return e, func(context.Context) error { return nil }, err
}

// failed counts and logs a delivery sent live without history yet, which
// the outbox kept (it paces its own lines: one per outage).
func (x *Journaled) failed(d herald.Delivery, err error, level slog.Level, msg string, more ...any) {
	x.failures.Add(1)
	x.lastFail.Store(&ErrorInfo{At: time.Now(), Message: err.Error()})
	// Codes are secrets: the log names the event, not the room.
	x.log.Log(context.Background(), level, msg, append([]any{"event_id", d.EventID, "rule", d.Rule, "err", err}, more...)...)
}

// failedLive counts and logs a delivery sent live without history for
// good. A failing disk fails every alert, and a line per alert would bury
// the log: x.outage paces the ERROR lines.
func (x *Journaled) failedLive(d herald.Delivery, err error, msg string) {
	level, since := x.outage.fail(time.Now())
	var more []any
	if since > 0 {
		more = []any{"failed_since_last_line", since}
	}
	x.failed(d, err, level, msg, more...)
}

// failLogEvery is how long a journal that failed counts as failing
// (Status), and how often one that keeps failing says so again.
const failLogEvery = outage.Every

// failLog paces the log of a failing journal (outage.Pacer): its first
// failure is an ERROR line at once, later ones one ERROR line a minute
// that counts them (DEBUG lines between), and the first success after an
// ERROR line an INFO line that says how many alerts went live without
// history. A disk that fails every other write costs two lines a minute.
type failLog struct {
	outage.Pacer
	lastAt atomic.Int64 // unix nanos of the last failure, for Status
}

// fail records a failure at now and returns the level to log it at and,
// for an ERROR line after untold failures, how many failed since the
// last one.
func (f *failLog) fail(now time.Time) (slog.Level, int) {
	f.lastAt.Store(now.UnixNano())
	if tell, since := f.Fail(now); tell {
		return slog.LevelError, since
	}
	return slog.LevelDebug, 0
}

// ok records a successful append and logs the end of an outage.
func (f *failLog) ok(log *slog.Logger) {
	if !f.Failing() { // every append: no lock, no clock
		return
	}
	if tell, failed := f.Recover(time.Now()); tell {
		log.Info("journal appends work again", "alerts_sent_without_history", failed)
	}
}

// Replay publishes journaled entries again, marked replayed and without an
// offset: a page's recovery position stays where its live alerts put it,
// so a replay is never re-sent on its next reconnect.
func (x *Journaled) Replay(ctx context.Context, es []journal.Entry) (pages int, err error) {
	for _, e := range es {
		d := e.Delivery
		// A replay is for every page, those that had it live included.
		d.Offset, d.Replayed, d.LiveTo = 0, true, nil
		n, err := x.next.Publish(ctx, d)
		if err != nil && !errors.Is(err, broker.ErrLocalOnly) {
			return pages, err
		}
		pages += n
	}
	return pages, nil
}

// Subscribe implements broker.Broker.
func (x *Journaled) Subscribe(s broker.Subscriber) { x.next.Subscribe(s) }

// Close implements broker.Broker: it closes the broker under it and
// records the marks still queued.
func (x *Journaled) Close(ctx context.Context) error {
	if x.stopOut != nil {
		x.stopOut()
		x.retrying.Wait()
		if n := x.out.waiting.Load(); n > 0 && x.out.opts.Store == nil {
			x.log.Warn("shutting down with alerts the journal never took: they reached this node's pages only", "alerts", n)
		} else if n > 0 {
			x.log.Warn("shutting down with alerts the journal never took: they are kept on disk and journaled when this node starts again", "alerts", n)
		}
	}
	err := x.next.Close(ctx)
	x.closing.Do(func() { close(x.stop) })
	select {
	case <-x.marked:
	case <-ctx.Done():
	}
	return err
}

func (x *Journaled) markLoop() {
	defer close(x.marked)
	record := func(m mark) {
		ctx, cancel := context.WithTimeout(context.Background(), x.timeout)
		defer cancel()
		if err := x.j.Mark(ctx, m.room, m.offset, m.reached, 0); err != nil {
			x.log.Warn("journal mark failed", "offset", m.offset, "err", err)
		}
	}
	// Marks are recorded a batch at a time, concurrently, so a store whose
	// Mark waits for a write (journal/redis: its pipeline) records a whole
	// batch in one go: one mark per delivery must keep up with the
	// appends, or marks would be dropped and delivered alerts would look
	// pending. (bolt's Mark returns at once: the counters go to disk with
	// its next commit.)
	// A journal whose marks cost a round trip each (journal/redis) asks
	// for a short wait after the first mark of a batch, so that even a
	// light load records several marks per round trip. Nobody waits for
	// a mark; others flush what is queued at once.
	var linger time.Duration
	if l, ok := x.j.(interface{ MarkLinger() time.Duration }); ok {
		linger = l.MarkLinger()
	}
	batch := make([]mark, 0, markBatch)
	flush := func() {
		var wg sync.WaitGroup
		for _, m := range batch {
			wg.Go(func() { record(m) })
		}
		wg.Wait()
		batch = batch[:0]
	}
	for {
		select {
		case m := <-x.marks:
			batch = append(batch, m)
		case <-x.stop:
			for {
				select {
				case m := <-x.marks:
					batch = append(batch, m)
					if len(batch) == markBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
		x.gather(&batch, linger)
		flush()
	}
}

// markBatch bounds the marks recorded at once.
const markBatch = 256

// gather adds the marks queued meanwhile to batch, up to markBatch,
// waiting up to linger for more (not at all when linger is 0) unless
// Close was called.
func (x *Journaled) gather(batch *[]mark, linger time.Duration) {
	var timeout <-chan time.Time
	if linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		timeout = t.C
	}
	for len(*batch) < markBatch {
		select {
		case m := <-x.marks:
			*batch = append(*batch, m)
			continue
		default:
		}
		if timeout == nil {
			return
		}
		select {
		case m := <-x.marks:
			*batch = append(*batch, m)
		case <-timeout:
			return
		case <-x.stop:
			return
		}
	}
}

// JournalStatus is the journal's part of the status answer.
type JournalStatus struct {
	journal.Stats
	// Failures counts deliveries sent live without being journaled.
	Failures    uint64     `json:"failures"`
	LastFailure *ErrorInfo `json:"last_failure,omitempty"`
	// MarksDropped counts "pages reached" records dropped because the
	// journal fell behind (those alerts may later count as pending).
	MarksDropped uint64 `json:"marks_dropped"`
	// Outbox is what waits for the journal (cluster mode, Redis away).
	Outbox *OutboxStatus `json:"outbox,omitempty"`
	// Lag is how far the journal runs behind the alerts.
	Lag JournalLag `json:"lag"`
	// Failing is set while alerts go out without history: an append
	// failed within the last minute (a full disk may still take a small
	// alert now and then), or (cluster mode) alerts wait in the outbox for
	// Redis.
	Failing bool `json:"failing"`
	// State sums the above up for people: one of the Journal* states. The
	// dashboard's pill and the herald_journal_healthy metric both show it.
	State string `json:"state"`
}

// JournalLag is how far the journal runs behind the alerts: how long
// deliveries waited for their entry to be on disk (the sender is answered
// after that), and the "pages reached" records not yet written (an alert
// that reached a page counts as pending until its record is in).
type JournalLag struct {
	// WaitSeconds sums the waits of Waits journaled deliveries, from the
	// append to the entry being durable (a group commit, an fsync).
	WaitSeconds float64 `json:"wait_seconds"`
	Waits       uint64  `json:"waits"`
	// MarksQueued is the "pages reached" records waiting to be written.
	MarksQueued int `json:"marks_queued"`
}

// The journal's states, from good to bad news.
const (
	// JournalOK: every alert is kept, so pages recover what they missed
	// and it can be replayed. Also with --data :memory:, which asked for
	// history in memory.
	JournalOK = "ok"
	// JournalInMemory: history is in memory because --data could not be
	// used at start (Stats.LastError says why); it ends at the next
	// restart.
	JournalInMemory = "memory"
	// JournalFailing: alerts go out live only; a page that is away will
	// not get them.
	JournalFailing = "failing"
	// JournalWaiting (cluster mode): alerts reached this node's pages only
	// and wait in the outbox for Redis.
	JournalWaiting = "waiting"
)

// Status reports the store and the failures seen here.
func (x *Journaled) Status() JournalStatus {
	st := JournalStatus{Stats: x.j.Stats(), Failures: x.failures.Load(), LastFailure: x.lastFail.Load(),
		MarksDropped: x.dropped.Load(), Outbox: x.out.status(),
		Lag: JournalLag{WaitSeconds: time.Duration(x.waited.Load()).Seconds(), Waits: x.waits.Load(), MarksQueued: len(x.marks)}}
	last := x.outage.lastAt.Load()
	failedLately := last != 0 && time.Since(time.Unix(0, last)) < failLogEvery
	waiting := st.Outbox != nil && st.Outbox.Waiting > 0
	st.Failing = failedLately || waiting
	st.State = journalState(failedLately, waiting, st.Stats)
	return st
}

// journalState is JournalStatus.State. A store's own last error alone is
// no failure: bolt keeps it after it recovered, for /api/journal to show.
// Only the memory store that stands in for an unusable --data has one.
func journalState(failedLately, waiting bool, st journal.Stats) string {
	switch {
	case waiting:
		return JournalWaiting
	case failedLately:
		return JournalFailing
	case st.Store == "memory" && st.LastError != "":
		return JournalInMemory
	default:
		return JournalOK
	}
}

// sequencer publishes a room's journaled deliveries in offset order while
// letting their appends run (and commit) together. A delivery whose
// offset is known waits only for deliveries of its room that may hold a
// smaller one: those still appending when its own append returned (later
// appends commit later, so they get larger offsets) and those with a
// smaller known offset not yet published.
//
// A delivery whose append failed has no offset and goes out live after
// the deliveries of its room that came before it; a delivery with an
// offset also waits for failed ones that came before it. So failures keep
// the order in which deliveries came in, with one exception that keeps
// the waits free of cycles: a failed delivery does not wait for an
// earlier one with an offset that is itself waiting, and may pass it (at
// the instant the journal comes or goes). Nothing waits for a failed
// delivery that came after it, and a failed one waits only for appends,
// earlier failures and deliveries free to go, so there is no cycle;
// appends are bounded by a timeout, so every wait ends.
type sequencer struct {
	mu    sync.Mutex
	rooms map[string]*seqRoom
}

type seqRoom struct {
	name    string
	cond    *sync.Cond
	members map[*ticket]struct{}
	entered uint64 // tickets handed out, for their order of arrival
}

type ticket struct {
	room    *seqRoom
	n       uint64    // order of arrival in the room
	offset  uint64    // 0 while appending, and for ever once failed
	failed  bool      // the append failed: published without an offset
	waitFor []*ticket // appending when this ticket's offset came back
}

func (s *sequencer) enter(room string) *ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil {
		r = &seqRoom{name: room, cond: sync.NewCond(&s.mu), members: map[*ticket]struct{}{}}
		s.rooms[room] = r
	}
	r.entered++
	t := &ticket{room: r, n: r.entered}
	r.members[t] = struct{}{}
	return t
}

func (s *sequencer) wait(t *ticket, offset uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.offset = offset
	for m := range t.room.members {
		if m != t && m.offset == 0 {
			t.waitFor = append(t.waitFor, m)
		}
	}
	t.room.cond.Broadcast()
	for t.blocked() {
		t.room.cond.Wait()
	}
}

// waitFailed marks t failed and waits until the deliveries of its room
// that came before it are published, except one whose offset is known
// but which is itself still waiting (for a delivery that may come after
// t: waiting for it could close a cycle).
func (s *sequencer) waitFailed(t *ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.failed = true
	t.room.cond.Broadcast()
	for t.blockedFailed() {
		t.room.cond.Wait()
	}
}

// blockedFailed reports whether failed t must still wait; callers hold
// s.mu.
func (t *ticket) blockedFailed() bool {
	for m := range t.room.members {
		if m.n < t.n && (m.offset == 0 || !m.blocked()) {
			return true
		}
	}
	return false
}

// blocked reports whether a delivery of t's room may still need to go
// before t; callers hold s.mu.
func (t *ticket) blocked() bool {
	for _, m := range t.waitFor {
		if _, in := t.room.members[m]; in && m.offset == 0 && (!m.failed || m.n < t.n) {
			return true
		}
	}
	for m := range t.room.members {
		if m != t && m.offset != 0 && m.offset < t.offset {
			return true
		}
	}
	return false
}

func (s *sequencer) leave(t *ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(t.room.members, t)
	if len(t.room.members) == 0 {
		delete(s.rooms, t.room.name)
	}
	t.room.cond.Broadcast()
}
