package socketio

import (
	"context"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal/recovery"
)

// held keeps the live deliveries of a page that is catching up: it is in
// its room (so nothing published from then on passes it by), but what the
// journal holds past what recovery read is still being read, outside any
// lock the fan-out takes. Once that is sent, the deliveries held are, in
// order, and the page is live.
type held struct {
	mu       sync.Mutex
	ds       []herald.Delivery
	over     bool // more than maxHeld came: the page recovers them by reconnecting
	released bool
}

// maxHeld bounds what waits for one page during its catch-up read (at
// most journalTimeout): far more than any room gets in that time.
const maxHeld = 4096

// keep holds d for the page and reports held, unless the page is live
// again (release has run): then the caller sends d itself. A caller that
// comes while release runs waits for it, so it cannot pass what is held.
// Beyond maxHeld, d is held back but not kept (stored is false): the page
// is closed at release and recovers it.
func (h *held) keep(d herald.Delivery) (held, stored bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return false, false
	}
	if len(h.ds) == maxHeld {
		h.over = true
		return true, false
	}
	h.ds = append(h.ds, d)
	return true, true
}

// hold reports whether e waits for p's catch-up (held.keep), and whether
// the fan-out counts p as reached now: only for a delivery without an
// offset, which recovery can never give the page again. A journaled one
// counts when it is sent (catchUp settles it): until then it is pending if
// no other page had it, and it stays so if the page never gets it.
func (p *page) hold(e *outgoing) (held, counted bool) {
	h := p.held.Load()
	if h == nil {
		return false, false
	}
	held, stored := h.keep(e.d)
	return held, stored && e.d.Offset == 0
}

// catchUp reads what the journal holds for a recovering page past what
// recovery read before it joined its room (published in between), sends
// it, then what was held meanwhile, and makes the page live. If the read
// fails the page cannot be sent what came after the gap without losing
// the gap: it gets only what was never journaled, and is closed; its
// client comes back with the offset of the last alert it got, and
// recovers the rest.
func (s *Sink) catchUp(p *page, res *recovery.Result) {
	h := p.held.Load()
	from := max(res.From, p.offset.Load())
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	more, err := s.recovery.Catchup(ctx, res.Code, from, livePIDs(res)...)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	var r sendResult // what the read found, then the journaled ones held: reached once sent
	if err == nil {
		r = s.send(p, more)
	} else {
		s.log.Warn("recovery: catch-up read failed; the page is closed to recover the rest", "err", err)
	}
	for _, d := range h.ds {
		if err != nil && d.Offset != 0 {
			continue // it comes back with its recovery, after the gap
		}
		o := outgoing{d: d, pos: s.position(d), liveOnly: s.live.pidsOf(d)}
		if !p.alreadySent(&o) && p.send(&o) && d.Offset != 0 {
			r.sent = append(r.sent, d.Offset)
		}
	}
	s.settle(res.Code, nil, r)
	if err != nil || h.over {
		p.c.close("catch-up incomplete")
	}
	h.ds, h.released = nil, true
	p.held.Store(nil) // last: a delivery that finds no hold comes after these
}
