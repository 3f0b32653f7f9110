package socketio

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
)

// Deliver emits d.Name with d.Payload and d.Meta() to every page registered
// under d.Room and returns how many pages it handed the delivery to.
//
// The delivery is encoded once per transport, and only for the transports
// the room's pages use (outgoing). Each page gets it under the slow-page
// policy (conn.send): a native page's frame is written inline when its
// socket has room and queued to its writer otherwise, a library page's
// packet is buffered by the library; neither waits for a slow page.
// Deliver is safe for concurrent use.
func (s *Sink) Deliver(ctx context.Context, d herald.Delivery) (int, error) {
	s.delivering.RLock()
	defer s.delivering.RUnlock()
	if s.closed.Load() {
		return 0, ErrClosed
	}
	if err := herald.CheckName(d.Name); err != nil {
		return 0, fmt.Errorf("socketio: cannot emit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("socketio: deliver: %w", err)
	}
	// The member snapshot comes from a per-Sink pool, so a delivery to a
	// busy room does not allocate a slice per call.
	bufp := s.snapshots.Get().(*[]*page)
	defer func() {
		clear(*bufp)
		*bufp = (*bufp)[:0]
		s.snapshots.Put(bufp)
	}()
	pages := s.rooms.members(d.Room, *bufp)
	*bufp = pages
	if len(pages) == 0 {
		return 0, nil
	}
	s.noteLiveOnly(d)
	// The shared encoding is pooled too: handed to each page's connection
	// through an interface, it would otherwise escape, one allocation per
	// delivery. No connection keeps it past send.
	e := s.outgoings.Get().(*outgoing)
	defer func() { *e = outgoing{}; s.outgoings.Put(e) }()
	*e = outgoing{d: d, pos: s.position(d), batch: s.batches.Get().(*eio.Batch)}
	n := 0
	for _, p := range pages {
		if p.deliver(e) {
			n++
		}
	}
	n -= len(e.batch.Flush(nil))
	s.batches.Put(e.batch)
	if e.native.err != nil {
		return n, e.native.err
	}
	return n, nil
}

// noteLiveOnly remembers the pages d names as getting it live without an
// offset (liveOnly), when pages can recover.
func (s *Sink) noteLiveOnly(d herald.Delivery) {
	if len(d.LiveTo) > 0 && s.recovery != nil {
		s.live.note(d, s.now(), s.recovery.Window())
	}
}

// position is the journal position pages receive as the event's last
// argument, "" for a delivery that was not journaled (Options.Position).
func (s *Sink) position(d herald.Delivery) string {
	if d.Offset == 0 || d.Late || s.positionOf == nil {
		return ""
	}
	return s.positionOf(d)
}
