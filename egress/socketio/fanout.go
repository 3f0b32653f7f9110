package socketio

import (
	"context"
	"fmt"
	"slices"

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
	// The shared encoding is pooled too: handed to each page's connection
	// through an interface, it would otherwise escape, one allocation per
	// delivery. No connection keeps it past send.
	e := s.outgoings.Get().(*outgoing)
	defer func() { *e = outgoing{}; s.outgoings.Put(e) }()
	*e = outgoing{d: d, pos: s.position(d), liveOnly: s.live.pidsOf(d), batch: s.batches.Get().(*eio.Batch)}
	n := 0
	var sent []string // pids, when s.live remembers d
	remember := s.recovery != nil && s.live.records(d)
	for _, p := range pages {
		if p.deliver(e) {
			n++
			if remember && p.pid != "" {
				sent = append(sent, p.pid)
			}
		}
	}
	failed := e.batch.Flush(nil)
	n -= len(failed)
	for _, c := range failed {
		if p := pageOf(c); p != nil {
			p.notSent(e)
		}
	}
	s.batches.Put(e.batch)
	if remember {
		s.noteSentLive(d, sent, failed)
	}
	if e.native.err != nil {
		return n, e.native.err
	}
	return n, nil
}

// noteSentLive remembers the pages (pids) that were sent d live without an
// offset (liveOnly), leaving out those whose write failed.
func (s *Sink) noteSentLive(d herald.Delivery, pids []string, failed []*eio.Conn) {
	for _, c := range failed {
		if p := pageOf(c); p != nil {
			pids = slices.DeleteFunc(pids, func(pid string) bool { return pid == p.pid })
		}
	}
	s.live.note(d, pids, s.now(), s.recovery.Window())
}

// SentLive implements egress.LiveSender: the pages this sink sent d, a
// delivery without an offset, live.
func (s *Sink) SentLive(d herald.Delivery) []string { return s.live.sent(d) }

// position is the journal position pages receive as the event's last
// argument, "" for a delivery that was not journaled (Options.Position).
func (s *Sink) position(d herald.Delivery) string {
	if d.Offset == 0 || d.Late || s.positionOf == nil {
		return ""
	}
	return s.positionOf(d)
}
