package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/internal/recent"
	"github.com/heraldhq/herald/internal/rediswire"
	"github.com/heraldhq/herald/journal"
)

// ErrClosed is returned by Publish once Close was called.
var ErrClosed = broker.Closed("redis broker: closed")

// Defaults.
const (
	DefaultPresenceTTL      = 15 * time.Second
	DefaultPresenceInterval = 250 * time.Millisecond
	DefaultDedupeWindow     = 2 * time.Minute
)

// Options configures a Broker.
type Options struct {
	// Prefix starts every key and the channel; "" is "herald:". It must
	// match the journal's.
	Prefix string
	// NodeID names this node in presence records; "" is a random id.
	NodeID string
	// Log receives state changes (Redis lost, back, re-synced); nil
	// discards.
	Log *slog.Logger
	// Journal is read to re-sync a node's pages after its subscription was
	// down; nil turns re-sync off.
	Journal journal.Journal
	// JournalPublishes says the journal's Append already published every
	// delivery it stored (journal/redis with Options.Publish): Publish then
	// publishes only deliveries without an offset and replays.
	JournalPublishes bool
	// Counts is where the journal's append script leaves the pages it
	// counted in the room's presence hash (journal/redis Options.Counts,
	// the same value): Publish of a journaled delivery then costs no round
	// trip. Deliveries without a count there are counted by a presence
	// read, as without Counts.
	Counts *rediswire.Counts
	// Rooms reports this node's pages per room, for presence; nil means
	// this node has no pages.
	Rooms func() map[string]int
	// LocalPages, when set, reports this node's pages in one room now:
	// Publish then counts this node exactly and the others from presence
	// (which lags a page's arrival by up to PresenceInterval).
	LocalPages func(room string) int
	// Listing reports this node's pages as a JSON array, for the admin
	// listing across nodes; nil lists none.
	Listing func() []byte
	// PresenceTTL is how long a node's presence outlives its last renewal;
	// 0 is DefaultPresenceTTL.
	PresenceTTL time.Duration
	// PresenceInterval is how often Rooms is polled for changes; 0 is
	// DefaultPresenceInterval.
	PresenceInterval time.Duration
	// DedupeWindow is how long a node remembers what it handed its pages;
	// 0 is DefaultDedupeWindow.
	DedupeWindow time.Duration
	// HeldFor is how long Held remembers a room whose count found pages;
	// 0 is DefaultHeldFor.
	HeldFor time.Duration
}

// DefaultHeldFor is Options.HeldFor's default, egress.HeldFor's value.
const DefaultHeldFor = 10 * time.Minute

// maxHeld bounds the rooms Held remembers (internal/recent).
const maxHeld = 10_000

// State is the broker's health, for status and metrics.
type State struct {
	NodeID string `json:"node_id"`
	// Connected is true while the node's subscription is up.
	Connected bool `json:"connected"`
	// Since is when Connected last changed.
	Since time.Time `json:"since"`
	// LastError is why the subscription or the last publish failed.
	LastError string `json:"last_error,omitempty"`
	// Disconnects counts subscription losses since start.
	Disconnects uint64 `json:"disconnects"`
	// LocalOnly counts deliveries handed only to this node's pages because
	// Redis was unreachable.
	LocalOnly uint64 `json:"local_only"`
	// Resynced counts deliveries recovered from the journal after a
	// reconnect.
	Resynced uint64 `json:"resynced"`
	// Duplicates counts second copies dropped before reaching a page.
	Duplicates uint64 `json:"duplicates"`
	// Published counts deliveries handed to Redis; RoundTrips the
	// pipelines that carried them (and their presence reads).
	Published  uint64 `json:"published"`
	RoundTrips uint64 `json:"round_trips"`
	// CountedOnAppend counts journaled deliveries whose pages the
	// journal's append script counted (Options.Counts): no round trip
	// of the broker's own.
	CountedOnAppend uint64 `json:"counted_on_append"`
}

// Broker is the Redis broker. Create it with New, Subscribe the node's
// sinks, then Start.
type Broker struct {
	c       goredis.UniversalClient
	opts    Options
	log     *slog.Logger
	channel string
	subs    []broker.Subscriber

	connected   atomic.Bool
	since       atomic.Pointer[time.Time]
	lastErr     atomic.Pointer[string]
	disconnects atomic.Uint64
	localOnly   atomic.Uint64
	resynced    atomic.Uint64
	published   atomic.Uint64
	roundTrips  atomic.Uint64
	counted     atomic.Uint64

	seen    *dedupe
	held    *recent.Set          // rooms whose count found pages, on any node
	deliver sync.Mutex           // hands deliveries to subs one at a time, in order
	lost    atomic.Pointer[loss] // the subscription's last break
	// returns counts the subscription's comebacks, synced those whose
	// re-sync ran to the end: while synced is behind, what other nodes
	// sent since the loss is still owed to this node's pages, and a
	// second loss does not move where the re-sync starts (setLost).
	returns, synced atomic.Uint64
	patience        time.Duration // resyncPatience; tests shorten it

	batch chan *request
	// stopped is closed when the publisher stops: a request queued after
	// it drained the queue would wait for ever.
	stopped chan struct{}
	pres    *presence

	closed  atomic.Bool
	stop    context.CancelFunc
	running sync.WaitGroup
}

var _ broker.Broker = (*Broker)(nil)

// New builds a Broker on c. It starts nothing; the client stays the
// caller's.
func New(c goredis.UniversalClient, opts Options) *Broker {
	if opts.Prefix == "" {
		opts.Prefix = rediswire.DefaultPrefix
	}
	if opts.NodeID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		opts.NodeID = hex.EncodeToString(b[:])
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.PresenceTTL <= 0 {
		opts.PresenceTTL = DefaultPresenceTTL
	}
	if opts.PresenceInterval <= 0 {
		opts.PresenceInterval = DefaultPresenceInterval
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	if opts.HeldFor <= 0 {
		opts.HeldFor = DefaultHeldFor
	}
	b := &Broker{c: c, opts: opts, log: opts.Log, channel: rediswire.Channel(opts.Prefix),
		seen: newDedupe(opts.DedupeWindow), held: recent.New(opts.HeldFor, maxHeld),
		batch: make(chan *request, 4096), stopped: make(chan struct{}), patience: resyncPatience}
	b.pres = newPresence(b)
	now := time.Now()
	b.since.Store(&now)
	return b
}

// NodeID is this node's name in presence records.
func (b *Broker) NodeID() string { return b.opts.NodeID }

// Subscribe adds a node-local subscriber; call it before Start.
func (b *Broker) Subscribe(s broker.Subscriber) { b.subs = append(b.subs, s) }

// Start subscribes to the channel and starts presence and the publisher.
// It fails when Redis does not answer: cluster mode was asked for, and a
// node that cannot reach Redis would serve only its own pages.
func (b *Broker) Start(ctx context.Context) error {
	ps := b.c.Subscribe(ctx, b.channel)
	// The first answer is the subscription's confirmation.
	msg, err := ps.Receive(ctx)
	if err != nil {
		_ = ps.Close()
		return fmt.Errorf("redis broker: subscribe: %w", err)
	}
	if _, ok := msg.(*goredis.Subscription); !ok {
		_ = ps.Close()
		return fmt.Errorf("redis broker: subscribe answered %v", msg)
	}
	b.setConnected()
	if err := b.pres.sync(ctx, true); err != nil {
		_ = ps.Close()
		return fmt.Errorf("redis broker: presence: %w", err)
	}
	bg, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.running.Add(3)
	go func() { defer b.running.Done(); b.receive(bg, ps) }()
	go func() { defer b.running.Done(); b.publisher(bg) }()
	go func() { defer b.running.Done(); b.pres.run(bg) }()
	return nil
}

// Publish hands d to the pages of every node and reports the pages in its
// room across nodes (presence). With Redis unreachable, d goes to this
// node's pages only and Publish reports those (with broker.ErrLocalOnly
// when d has no offset): the node keeps serving what it can, and State
// says so.
func (b *Broker) Publish(ctx context.Context, d herald.Delivery) (int, error) {
	n, err := b.publish(ctx, d)
	if n > 0 {
		b.held.Note(d.Room, time.Now())
	}
	return n, err
}

// PublishLocal implements broker.LocalPublisher: d goes to this node's
// pages alone, as while Redis is away.
func (b *Broker) PublishLocal(ctx context.Context, d herald.Delivery) (int, error) {
	if b.closed.Load() {
		return 0, ErrClosed
	}
	n := b.localOnlyDelivery(ctx, d)
	if n > 0 {
		b.held.Note(d.Room, time.Now())
	}
	return n, localOnlyErr(d)
}

// Held reports whether a delivery this node published to room found a
// page, on any node, within Options.HeldFor. It is the cluster's side of
// egress.Holder: a page that left another node, or that Redis being down
// hides, was there lately, so a trigger for it is no guess at a code.
func (b *Broker) Held(room string) bool { return b.held.Within(room, time.Now()) }

func (b *Broker) publish(ctx context.Context, d herald.Delivery) (int, error) {
	if b.closed.Load() {
		return 0, ErrClosed
	}
	journaled := b.opts.JournalPublishes && d.Offset != 0 && !d.Replayed
	var counted rediswire.Count
	var known bool
	if journaled && b.opts.Counts != nil {
		counted, known = b.opts.Counts.Take(d.Room, d.Offset)
	}
	if !b.connected.Load() {
		return b.localOnlyDelivery(ctx, d), localOnlyErr(d)
	}
	if journaled {
		// The journal's append script published it: only count pages,
		// with what the script read if it did.
		if known {
			b.counted.Add(1)
			if b.opts.LocalPages != nil {
				return counted.Others + b.opts.LocalPages(d.Room), nil
			}
			return counted.Others + counted.Own, nil
		}
		return b.count(ctx, d.Room)
	}
	msg, err := rediswire.Encode(d, b.epochOf(d))
	if err != nil {
		return 0, fmt.Errorf("redis broker: %w", err)
	}
	req := &request{room: d.Room, msg: msg, done: make(chan struct{})}
	if err := b.wait(ctx, req); err != nil {
		return 0, err
	}
	if req.err != nil {
		// Maybe it reached Redis before the error: the dedupe set drops the
		// copy that may still arrive.
		b.fail(req.err)
		return b.localOnlyDelivery(ctx, d), localOnlyErr(d)
	}
	return req.pages, nil
}

// count reports the pages in room across nodes, through the publisher
// (so it shares round trips under load).
func (b *Broker) count(ctx context.Context, room string) (int, error) {
	req := &request{room: room, done: make(chan struct{})}
	if err := b.wait(ctx, req); err != nil {
		return 0, err
	}
	if req.err != nil {
		b.fail(req.err)
		return b.localPages(room), nil
	}
	return req.pages, nil
}

// wait queues req for the publisher and waits for its round trip.
func (b *Broker) wait(ctx context.Context, req *request) error {
	select {
	case b.batch <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stopped:
		return ErrClosed
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		// The publisher still sends it; the caller stops waiting.
		return ctx.Err()
	case <-b.stopped:
		select {
		case <-req.done: // sent (or drained) as it stopped
			return nil
		default:
			return ErrClosed // it drained the queue before req joined it
		}
	}
}

// epochOf is the journal epoch a delivery's offset belongs to ("" when it
// has none).
func (b *Broker) epochOf(d herald.Delivery) string {
	if d.Offset == 0 || d.Replayed || b.opts.Journal == nil {
		return ""
	}
	return b.opts.Journal.Epoch()
}

// localOnlyErr is what Publish returns for d delivered to this node's
// pages alone: broker.ErrLocalOnly for a live delivery without an offset,
// which the router keeps to journal and send to the other nodes once
// Redis is back. A journaled one is on the channel already (the append
// script put it there), and a replay is not kept.
func localOnlyErr(d herald.Delivery) error {
	if d.Offset == 0 && !d.Replayed {
		return broker.ErrLocalOnly
	}
	return nil
}

// localOnlyDelivery hands d to this node's pages alone (Redis is down).
// Only deliveries handed over count as local-only: the journaled copy of
// one the pages already had live is not another, even when it is handed
// over for a page that came since.
func (b *Broker) localOnlyDelivery(ctx context.Context, d herald.Delivery) int {
	again := d.Offset != 0 && b.seen.handedLive(d)
	n, fresh := b.deliverLocal(ctx, d, b.epochOf(d))
	if fresh && !again {
		b.localOnly.Add(1)
	}
	return n
}

// localPages is this node's page count in room.
func (b *Broker) localPages(room string) int {
	switch {
	case b.opts.LocalPages != nil:
		return b.opts.LocalPages(room)
	case b.opts.Rooms != nil:
		return b.opts.Rooms()[room]
	}
	return 0
}

// deliverLocal hands d to every local subscriber, unless it was handed
// over already (fresh is then false), and reports the pages reached.
func (b *Broker) deliverLocal(ctx context.Context, d herald.Delivery, epoch string) (pages int, fresh bool) {
	b.deliver.Lock()
	defer b.deliver.Unlock()
	fresh, late := b.seen.add(d, epoch, !b.connected.Load())
	if !fresh {
		return 0, false
	}
	if late {
		// A hole filled after later offsets went out (this node served its
		// own deliveries while Redis was away): send it as a replay
		// without a position (herald.Delivery.Late), so a page's recovery
		// position does not move back and re-fetch what it has.
		d.Late, d.Replayed = true, true
	}
	for _, s := range b.subs {
		n, err := s.Deliver(ctx, d)
		if err != nil {
			b.log.Debug("redis broker: subscriber refused a delivery", "err", err)
			continue
		}
		pages += n
	}
	return pages, true
}

// decoded is a delivery read off the channel, with the epoch of its
// offset.
type decoded struct {
	d     herald.Delivery
	epoch string
}

// batchSubscriber is the optional capability of a subscriber that takes
// several deliveries at once (egress/socketio's Sink: a page gets the
// deliveries of its room that piled up in one write).
type batchSubscriber interface {
	DeliverAll(ctx context.Context, ds []herald.Delivery) (pages []int, err error)
}

// deliverAll is deliverLocal for what piled up on the channel, in order:
// the same de-duplication, one hand-over per subscriber.
func (b *Broker) deliverAll(ctx context.Context, in []decoded) {
	if len(in) == 1 {
		b.deliverLocal(ctx, in[0].d, in[0].epoch)
		return
	}
	b.deliver.Lock()
	defer b.deliver.Unlock()
	ds := make([]herald.Delivery, 0, len(in))
	for _, x := range in {
		fresh, late := b.seen.add(x.d, x.epoch, !b.connected.Load())
		if !fresh {
			continue
		}
		if late {
			x.d.Late, x.d.Replayed = true, true // as in deliverLocal
		}
		ds = append(ds, x.d)
	}
	for _, s := range b.subs {
		if bs, ok := s.(batchSubscriber); ok {
			if _, err := bs.DeliverAll(ctx, ds); err != nil {
				b.log.Debug("redis broker: subscriber refused a delivery", "err", err)
			}
			continue
		}
		for _, d := range ds {
			if _, err := s.Deliver(ctx, d); err != nil {
				b.log.Debug("redis broker: subscriber refused a delivery", "err", err)
			}
		}
	}
}

// setConnected records that the subscription is up, logging it once.
func (b *Broker) setConnected() {
	if b.connected.Swap(true) {
		return
	}
	now := time.Now()
	b.since.Store(&now)
	b.lastErr.Store(nil)
	b.log.Info("redis broker: subscribed; deliveries reach every node", "node", b.opts.NodeID)
}

// loss is when the subscription broke: when it last carried anything,
// and when that was noticed (at once for a closed connection, a ping later
// for a network that drops everything).
type loss struct{ heard, noticed time.Time }

// setLost records that the subscription broke with err, logging it once.
// heard is when it last carried anything: what other nodes published
// since may not have reached this one (the re-sync reads from then, a
// network that drops everything is only noticed a ping later).
func (b *Broker) setLost(err error, heard time.Time) {
	msg := err.Error()
	b.lastErr.Store(&msg)
	if !b.connected.Swap(false) {
		return
	}
	now := time.Now()
	b.since.Store(&now)
	b.disconnects.Add(1)
	if prev := b.lost.Load(); prev == nil || b.synced.Load() == b.returns.Load() {
		b.lost.Store(&loss{heard: heard, noticed: now})
	} // else the last loss's re-sync has not run to the end: it starts there still
	b.log.Error("redis broker: Redis lost; this node delivers to its own pages only until it is back", "node", b.opts.NodeID, "err", err)
}

// fail records a publish failure without changing the subscription state.
func (b *Broker) fail(err error) {
	msg := err.Error()
	b.lastErr.Store(&msg)
}

// Connected reports whether the node's subscription is up: while it is
// not, Publish reaches this node's pages only.
func (b *Broker) Connected() bool { return b.connected.Load() }

// State reports the broker's health.
func (b *Broker) State() State {
	st := State{NodeID: b.opts.NodeID, Connected: b.connected.Load(), Since: *b.since.Load(),
		Disconnects: b.disconnects.Load(), LocalOnly: b.localOnly.Load(), Resynced: b.resynced.Load(),
		Duplicates: b.seen.duplicates.Load(), Published: b.published.Load(), RoundTrips: b.roundTrips.Load(),
		CountedOnAppend: b.counted.Load()}
	if e := b.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Close stops receiving and publishing and withdraws this node's
// presence, so its pages stop counting at once.
func (b *Broker) Close(ctx context.Context) error {
	if b.closed.Swap(true) {
		return nil
	}
	if b.stop == nil {
		return nil
	}
	b.stop()
	done := make(chan struct{})
	go func() { b.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.pres.withdraw(ctx)
}
