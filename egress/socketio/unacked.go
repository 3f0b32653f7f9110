package socketio

import (
	"context"
	"slices"
	"sync"
)

// A page that acks (auth {acks: true}; notificationservice.js acks once
// its handlers are done, so "acked" means "shown") and goes away for good
// with alerts it was sent but never acknowledged did not show them: they
// waited their turn in its queue when OBS shut the browser source down (a
// scene switch with "Shutdown source when not visible", an OBS restart).
// Counted as reached by it, they would never be pending, and the page OBS
// starts next, a new browser context with no offset to resume from, would
// not get them. So the page model keeps, per acking page, the journaled
// alerts it was sent and counted as reached for and has not acknowledged,
// and gives them back when the page disconnects (Keeper.Unclaim): each
// one no other page reached is pending again, for the next page of its
// code within its pending window.
//
// A page that only lost its connection comes back with its session and
// is sent, as before, what it did not acknowledge; what no other page
// claimed meanwhile is counted for it again. A page that does not ack
// never has anything given back: a seed page's "reached" stays "shown".

// maxUnacked bounds what one page keeps: a page that asks for acks and
// never sends one must not hold memory without end. The oldest go first;
// they stay counted as reached.
const maxUnacked = 1024

// sentAlert is a journaled alert a page was sent, by room and offset.
type sentAlert struct {
	room   string
	offset uint64
}

// unacked is what one page was sent with an ack id and has not acked,
// oldest first.
type unacked struct {
	mu     sync.Mutex
	alerts []sentAlert
	closed bool // given back: the page is gone
}

// expect notes an alert sent with an ack id. It is noted before the send:
// the page may ack it before the send returns.
func (u *unacked) expect(room string, offset uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	if len(u.alerts) == maxUnacked {
		u.alerts = slices.Delete(u.alerts, 0, 1)
	}
	u.alerts = append(u.alerts, sentAlert{room, offset})
}

// unexpect forgets an alert whose send failed: the page was not counted
// for it.
func (u *unacked) unexpect(room string, offset uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if i := u.find(offset, room); i >= 0 {
		u.alerts = slices.Delete(u.alerts, i, i+1)
	}
}

// acked forgets the alert the page acknowledged (ack id = offset) and
// returns its room; ok is false for an alert the page was not sent (or
// one maxUnacked dropped).
func (u *unacked) acked(offset uint64) (room string, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	i := u.find(offset, "")
	if i < 0 {
		return "", false
	}
	room = u.alerts[i].room
	u.alerts = slices.Delete(u.alerts, i, i+1)
	return room, true
}

// find is the index of the newest alert at offset (in room, unless room
// is ""), or -1. Offsets are per room: after a change of code an offset
// may stand for two alerts, and an ack most likely answers the newer.
func (u *unacked) find(offset uint64, room string) int {
	for i := len(u.alerts) - 1; i >= 0; i-- {
		if a := u.alerts[i]; a.offset == offset && (room == "" || a.room == room) {
			return i
		}
	}
	return -1
}

// take returns what the page never acked, by room, and keeps nothing from
// then on.
func (u *unacked) take() map[string][]uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	if len(u.alerts) == 0 {
		return nil
	}
	byRoom := map[string][]uint64{}
	for _, a := range u.alerts {
		byRoom[a.room] = append(byRoom[a.room], a.offset)
	}
	u.alerts = nil
	return byRoom
}

// send hands e to p's connection (conn.send), asking for an ack where p
// acks, and keeps such an alert as unacknowledged until p acks it. A late
// delivery (journaled after it went live elsewhere) is asked for an ack
// but not kept: whether it was counted as reached for p is not known.
func (p *page) send(e *outgoing) bool {
	ack := p.asksAck(e)
	keep := ack && !e.d.Late
	if keep {
		p.unacked.expect(e.d.Room, e.d.Offset)
	}
	ok := p.c.send(e, ack)
	if keep && !ok {
		p.unacked.unexpect(e.d.Room, e.d.Offset)
	}
	return ok
}

// notSent forgets e for p, whose write of it failed after send took it
// (eio.Batch): p was not counted as reached.
func (p *page) notSent(e *outgoing) {
	if p.asksAck(e) && !e.d.Late {
		p.unacked.unexpect(e.d.Room, e.d.Offset)
	}
}

// giveBack makes what p was sent and never acknowledged pending again,
// once p is gone (see the top of this file).
func (s *Sink) giveBack(p *page) {
	byRoom := p.unacked.take()
	if s.recovery == nil {
		return
	}
	for room, offsets := range byRoom {
		s.log.Info("recovery: alerts a page left without acknowledging are pending again, for the next page",
			"code", logCode(room), "alerts", len(offsets))
		s.journalWrite(func() {
			ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
			defer cancel()
			if err := s.recovery.Unclaim(ctx, room, offsets); err != nil {
				s.log.Warn("recovery: alerts a page never acknowledged not given back; the next page will not get them",
					"code", logCode(room), "alerts", len(offsets), "err", err)
			}
		})
	}
}
