package socketio

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
)

// DeliverAll is Deliver for several deliveries at once, in order: each
// page gets the deliveries of its room in the order given, exactly as
// from successive Deliver calls, but a native page that gets several of
// them gets them in one write. broker/redis hands over what piled up on
// its channel this way, so a node that falls behind under load catches up
// with fewer writes (and the pages with fewer reads) instead of more.
// pages[i] is what Deliver would have reported for ds[i]; a delivery that
// Deliver would refuse is skipped and its error joined into err.
func (s *Sink) DeliverAll(ctx context.Context, ds []herald.Delivery) (pages []int, err error) {
	s.delivering.RLock()
	defer s.delivering.RUnlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("socketio: deliver: %w", err)
	}
	pages = make([]int, len(ds))
	// Per page, what it gets, in delivery order.
	type item struct {
		i       int
		e       *outgoing
		counted bool // pages[i] counts this page
	}
	// Native pages' writes go out together, a ring-full at a time (see
	// eio.Batch); a page whose write then fails was counted for nothing.
	batch := s.batches.Get().(*eio.Batch)
	defer s.batches.Put(batch)
	var order []*page
	byPage := map[*page][]item{}
	var errs []error
	for i, d := range ds {
		if err := herald.CheckName(d.Name); err != nil {
			errs = append(errs, fmt.Errorf("socketio: cannot emit: %w", err))
			continue
		}
		e := &outgoing{d: d, pos: s.position(d), liveOnly: s.live.pidsOf(d), batch: batch}
		for _, p := range s.rooms.members(d.Room, nil) {
			if byPage[p] == nil {
				order = append(order, p)
			}
			byPage[p] = append(byPage[p], item{i: i, e: e})
		}
	}
	var frames []*eio.Frame
	var sent []int
	for _, p := range order {
		items := byPage[p]
		nc, native := p.c.(nativeConn)
		if !native || len(items) == 1 {
			for k, it := range items {
				if p.deliver(it.e) {
					pages[it.i]++
					items[k].counted = true
				}
			}
			continue
		}
		// page.deliver's policy, for several frames at once.
		frames, sent = frames[:0], sent[:0]
		for k, it := range items {
			if held, counted := p.hold(it.e); held {
				if counted { // see page.hold
					pages[it.i]++
					items[k].counted = true
				}
				continue
			}
			if p.alreadySent(it.e) {
				pages[it.i]++
				continue
			}
			ack := p.asksAck(it.e)
			f, err := it.e.native.frameFor(it.e, ack)
			if err != nil {
				continue
			}
			if ack && !it.e.d.Late { // as page.send: noted before the page can ack it
				p.unacked.expect(it.e.d.Room, it.e.d.Offset)
			}
			frames = append(frames, f)
			sent = append(sent, k)
		}
		if len(frames) == 0 {
			continue
		}
		if !batch.SendMany(nc.c, frames) {
			for _, k := range sent {
				p.notSent(items[k].e)
			}
			continue
		}
		for _, k := range sent {
			pages[items[k].i]++
			items[k].counted = true
		}
	}
	cut := map[*page]bool{}
	for _, c := range batch.Flush(nil) {
		p := pageOf(c)
		cut[p] = true
		for _, it := range byPage[p] {
			if it.counted {
				pages[it.i]--
				p.notSent(it.e)
			}
		}
	}
	if s.recovery != nil {
		// The pages that got a delivery without an offset (liveOnly).
		sentLive := map[int][]string{}
		for _, p := range order {
			if cut[p] || p.pid == "" {
				continue
			}
			for _, it := range byPage[p] {
				if it.counted && s.live.records(ds[it.i]) {
					sentLive[it.i] = append(sentLive[it.i], p.pid)
				}
			}
		}
		for i, pids := range sentLive {
			s.live.note(ds[i], pids, s.now(), s.recovery.Window())
		}
	}
	seen := map[*outgoing]bool{}
	for _, p := range order {
		for _, it := range byPage[p] {
			if it.e.native.err != nil && !seen[it.e] {
				seen[it.e] = true
				errs = append(errs, it.e.native.err)
			}
		}
	}
	return pages, errors.Join(errs...)
}
