package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/rediswire"
)

// Backoff bounds between reconnect attempts.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
	// healthEvery is how long the subscription may stay silent before it
	// is pinged: a dead TCP peer is noticed within about this long.
	healthEvery = 2 * time.Second
	// resyncLimit bounds what one room may recover after a reconnect.
	resyncLimit = 1000
	// resyncPatience bounds how long a re-sync retries a journal that
	// does not answer while the subscription does (a Redis that restarted
	// answers SUBSCRIBE before it has loaded its data and answers reads).
	// Deliveries to this node's pages wait meanwhile: the re-sync keeps
	// its place in the order.
	resyncPatience = 10 * time.Second
)

// inbound is what the reading goroutine hands the delivering one, in
// channel order: a message, or (resync) the subscription is back.
type inbound struct {
	msg    *goredis.Message
	resync bool
}

// maxInbound bounds the messages handed to the pages in one go.
const maxInbound = 256

// receive reads the channel until ctx ends and hands what it read, in
// order, to deliver (its own goroutine): deliveries go to the local
// subscribers; a broken subscription flips the state, is retried with
// backoff, and a restored one triggers a re-sync. Reading goes on while
// pages are written to, so what piles up meanwhile is handed over at once
// (deliverAll).
func (b *Broker) receive(ctx context.Context, ps *goredis.PubSub) {
	defer func() { _ = ps.Close() }() // ps is replaced after a silent loss
	in := make(chan inbound, 4*maxInbound)
	delivered := make(chan struct{})
	go func() { defer close(delivered); b.deliverInbound(ctx, in) }()
	defer func() { <-delivered }()
	defer close(in)
	hand := func(x inbound) bool {
		select {
		case in <- x:
			return true
		case <-ctx.Done():
			return false
		}
	}
	backoff := minBackoff
	pinged := false     // a ping for silence is waiting for its pong
	heard := time.Now() // when the subscription last carried anything
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, healthEvery)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout()
			if timeout && b.connected.Load() && !pinged {
				// Silence: ask the server, so a dead peer shows as an error,
				// or as a pong that does not come.
				if perr := ps.Ping(ctx); perr == nil {
					pinged = true
					continue
				}
			}
			if timeout && pinged {
				// No pong: the network drops what it carries without
				// closing anything. A timeout does not make the client
				// reconnect, so start a new subscription.
				err = fmt.Errorf("no answer to a ping within %v", healthEvery)
				_ = ps.Close()
				ps = b.c.Subscribe(ctx, b.channel)
			}
			pinged = false
			b.setLost(err, heard)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			// The next Receive reconnects and subscribes again; ping so a
			// restored connection answers even on a silent channel.
			_ = ps.Ping(ctx)
			continue
		}
		backoff, pinged, heard = minBackoff, false, time.Now()
		switch m := msg.(type) {
		case *goredis.Message:
			if !hand(inbound{msg: m}) {
				return
			}
		case *goredis.Subscription, *goredis.Pong:
			// A confirmation or a pong after a reconnect: we are back.
			if !b.connected.Load() {
				b.returns.Add(1)
				b.setConnected()
				// The re-sync runs in order: after what arrived before,
				// before anything new is handed over.
				if !hand(inbound{resync: true}) {
					return
				}
			}
		}
	}
}

// maxHeldInbound bounds the messages held behind a re-sync that Redis
// interrupted; beyond it they go to the pages at once (in order among
// themselves; the re-sync's fill of the gap before them then comes late).
const maxHeldInbound = 16 * maxInbound

// deliverInbound hands messages to the pages in channel order, all those
// waiting at once (up to maxInbound), and runs re-syncs in their place.
// What arrived behind a re-sync that Redis interrupted (lost again before
// the journal answered) is held until the next re-sync has filled the
// gap before it.
func (b *Broker) deliverInbound(ctx context.Context, in <-chan inbound) {
	batch := make([]decoded, 0, maxInbound)
	var held []decoded
	holding := false
	release := func() {
		for len(held) > 0 {
			n := min(len(held), maxInbound)
			b.deliverAll(ctx, held[:n])
			held = held[n:]
		}
		held = nil
	}
	defer release() // the channel closed (shutdown) with some held
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if holding && len(held)+len(batch) <= maxHeldInbound {
			held = append(held, batch...)
		} else {
			release()
			b.deliverAll(ctx, batch)
		}
		clear(batch)
		batch = batch[:0]
	}
	for x := range in {
		for {
			if x.resync {
				flush()
				if holding = !b.resync(ctx); !holding {
					release()
				}
			} else if d, epoch, err := rediswire.Decode([]byte(x.msg.Payload)); err != nil {
				b.log.Warn("redis broker: undecodable message on the channel", "err", err)
			} else {
				batch = append(batch, decoded{d, epoch})
			}
			if len(batch) == maxInbound {
				break
			}
			var ok bool
			select {
			case x, ok = <-in:
				if !ok {
					flush()
					return
				}
				continue
			default:
			}
			break
		}
		flush()
	}
}

// epochRefresher is the optional capability of a journal that can re-read
// its epoch on demand (journal/redis): after a reconnect the epoch may
// have changed (Redis restarted empty) and the re-sync must know it.
type epochRefresher interface {
	RefreshEpoch(ctx context.Context) (string, error)
}

// resync runs in the receive loop once the subscription is back, before
// any new message is handed over: presence is rewritten, and each room
// with pages here gets from the journal what other nodes published while
// this one was not listening (resyncRooms). A journal that fails is tried
// again, for up to resyncPatience while the subscription holds; if it is
// lost again first, the next comeback's re-sync starts from this loss
// still (setLost), so nothing sent meanwhile is skipped. It reports
// false only then: the gap is still owed.
func (b *Broker) resync(ctx context.Context) (done bool) {
	upTo := b.returns.Load()
	if err := b.pres.sync(ctx, true); err != nil {
		b.log.Warn("redis broker: presence not rewritten after reconnect", "err", err)
	}
	if b.opts.Journal == nil || b.opts.Rooms == nil {
		b.synced.Store(upTo)
		return true
	}
	giveUp := time.Now().Add(b.patience)
	backoff, recovered := minBackoff, 0
	for tries := 1; ; tries++ {
		n, err := b.resyncRooms(ctx)
		b.resynced.Add(uint64(n))
		recovered += n
		if err == nil {
			b.synced.Store(upTo)
			b.log.Info("redis broker: re-synced after reconnect", "recovered", recovered, "tries", tries)
			return true
		}
		b.log.Debug("redis broker: re-sync failed", "err", err, "tries", tries)
		switch {
		case ctx.Err() != nil:
			return true
		case !b.connected.Load():
			b.log.Warn("redis broker: re-sync interrupted, Redis lost again; it runs once Redis is back", "err", err)
			return false
		case time.Now().After(giveUp):
			// Given up, not owed: a later loss must not re-sync from this
			// one, hours later perhaps, into rooms whose pages came since.
			b.synced.Store(upTo)
			b.log.Error("redis broker: re-sync gave up; alerts other nodes sent while this node was away may not reach its pages",
				"err", err, "tries", tries)
			return true
		case tries == 1:
			b.log.Warn("redis broker: re-sync failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return true
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// resyncRooms hands each room with pages here what was appended after the
// last offset this node delivered, or, for a room it delivered none of,
// what was appended since the subscription last carried anything: what
// was appended before reached this node (the channel keeps order), and
// would reach a page that joined since as an alert from before it came.
// (The entries' times are Redis's, compared with this node's clock: they
// are taken to agree, as NTP keeps them.) Of what was appended before the
// loss was noticed, only what reached a page elsewhere. Entries that did
// arrive are dropped by the dedupe set, and by each page's offset; so a
// retry after an error hands over only what the failed try did not.
func (b *Broker) resyncRooms(ctx context.Context) (recovered int, err error) {
	j := b.opts.Journal
	epoch := j.Epoch()
	if r, ok := j.(epochRefresher); ok {
		if epoch, err = r.RefreshEpoch(ctx); err != nil {
			return 0, fmt.Errorf("epoch unknown: %w", err)
		}
	}
	var lost loss
	if l := b.lost.Load(); l != nil {
		lost = *l
	}
	for room, pages := range b.opts.Rooms() {
		if pages <= 0 {
			continue
		}
		var after, last uint64
		since, noticed := lost.heard, lost.noticed
		if e, floor, ok := b.seen.floor(room); ok && e == epoch {
			after, since, noticed = floor, time.Time{}, time.Time{}
		}
		for {
			es, err := j.After(ctx, room, after, resyncLimit)
			if err != nil {
				return recovered, fmt.Errorf("read a room: %w", err) // a room's name is its secret code
			}
			if len(es) > 0 && es[0].Offset > after+1 {
				// Retention trimmed the hole: it will never fill.
				b.seen.lift(room, epoch, es[0].Offset-1)
			}
			for _, e := range es {
				last = max(last, e.Offset)
				// Before the loss was noticed, an alert that reached no page
				// was for no page here either: a page that joined since gets
				// it as the pending alert it is (recovery), not as live.
				if e.At.Before(since) || e.At.Before(noticed) && e.Reached == 0 {
					continue
				}
				if _, fresh := b.deliverLocal(ctx, e.Delivery, epoch); fresh {
					recovered++
				}
			}
			if len(es) < resyncLimit {
				break
			}
			after = es[len(es)-1].Offset
		}
		b.seen.settle(room, epoch, last)
	}
	return recovered, nil
}
