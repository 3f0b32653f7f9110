package socketio

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/recovery"
)

// Pages owed their pending alerts.
//
// A page that joins a room while the journal does not answer (cluster
// mode with Redis away: Register or Connect fails) joins with nothing:
// the alerts that reached no page before (a donation while OBS was
// closed) are still pending in the journal. The sink remembers it as
// owed them, and once the journal answers again retryPending claims them
// for the owed pages in the order they came (Keeper.Owed: Register's
// semantics, under the room's claim, marked reached, so a second page
// does not get them too; but a page that came back holding an offset of
// the room is not handed what it holds), and sends them as late replays
// (sendLate).

const (
	// pendingRetry is how often owed pages are tried again.
	pendingRetry = time.Second
	// maxOwed bounds the pages remembered as owed; beyond it, a page that
	// registers while the journal is away does not get its pending
	// alerts late (a room's next page still does).
	maxOwed = 10_000
)

// owing is what an owed page is owed: the pending alerts of code, as
// Keeper.Owed decides for the request the page came with. seq orders the
// owed pages as they came: the first page of a room gets its pending
// alerts, as when the journal answers (retryPending).
type owing struct {
	code string
	req  recovery.Request
	seq  uint64
}

// owePending remembers p, in room code, as owed its room's pending
// alerts, and starts the retry if it is not running. token is the claim
// the failed call made (recovery.Result.ClaimToken): the retries claim
// with it, so what that claim marked, if Redis ran it after all, still
// reaches p.
func (s *Sink) owePending(p *page, code, token string) {
	if s.recovery == nil || code == "" {
		return
	}
	s.owedMu.Lock()
	defer s.owedMu.Unlock()
	prev, ok := s.owed[p]
	if !ok && len(s.owed) >= maxOwed {
		s.log.Warn("recovery: too many pages waiting for pending alerts; this one will not get them", "code", logCode(code))
		return
	}
	if s.owed == nil {
		s.owed = map[*page]owing{}
	}
	s.rooms.mu.RLock()
	req := recovery.Request{PID: p.claimedPID, Offset: p.cameOffset, Code: p.cameCode, ClaimToken: token}
	s.rooms.mu.RUnlock()
	if !ok || prev.code != code {
		s.owedSeq++
		prev.seq = s.owedSeq
	} else if prev.req.ClaimToken != "" {
		req.ClaimToken = prev.req.ClaimToken // the first failed claim's, which may yet run
	}
	s.owed[p] = owing{code: code, req: req, seq: prev.seq}
	if !s.owedRetrying {
		s.owedRetrying = true
		go s.retryPending()
	}
}

// forgetOwed drops p from the owed pages (it left, or got its room's
// pending alerts another way). With code, only if it is owed those of
// that room.
func (s *Sink) forgetOwed(p *page, code string) {
	s.owedMu.Lock()
	defer s.owedMu.Unlock()
	if o, ok := s.owed[p]; ok && (code == "" || o.code == code) {
		delete(s.owed, p)
	}
}

// retryPending tries the owed pages every pendingRetry until none is
// left or the sink closes. A round stops at the first journal error:
// the journal is still away.
func (s *Sink) retryPending() {
	t := time.NewTicker(pendingRetry)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
		s.owedMu.Lock()
		if len(s.owed) == 0 {
			s.owedRetrying = false
			s.owedMu.Unlock()
			return
		}
		type owedPage struct {
			p *page
			owing
		}
		owed := make([]owedPage, 0, len(s.owed))
		for p, o := range s.owed {
			owed = append(owed, owedPage{p, o})
		}
		s.owedMu.Unlock()
		slices.SortFunc(owed, func(a, b owedPage) int { return cmp.Compare(a.seq, b.seq) })
		done := make(chan struct{})
		// Journal calls made for pages end before the journal is closed.
		if !s.journalWrite(func() {
			defer close(done)
			for _, o := range owed {
				if !s.claimLate(o.p, o.owing) {
					return
				}
			}
		}) {
			return
		}
		<-done
	}
}

// claimLate claims the pending alerts of o.code for p (Keeper.Owed),
// sends them (sendLate) and reports whether the journal answered.
func (s *Sink) claimLate(p *page, o owing) bool {
	code := o.code
	if !s.inRoom(p, code) {
		s.forgetOwed(p, code)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	res, err := s.recovery.Owed(ctx, code, o.req)
	if err != nil {
		s.log.Debug("recovery: pending alerts still unavailable", "err", err)
		return false
	}
	s.forgetOwed(p, code)
	r, ok := s.sendLate(p, code, res.Since, res.Missed)
	if !ok { // it left: every alert claimed for it and not sent
		r.refused = journal.Offsets(res.Missed)
	}
	// Claimed also names what the page held already (res.Since, LiveTo):
	// those reached it, and only the refused are given back.
	s.settle(code, res.Claimed, sendResult{refused: r.refused})
	if len(r.sent) > 0 {
		s.log.Info("recovery: pending alerts delivered late (claimed once the journal answered again)",
			"sid", p.id, "code", logCode(code), "alerts", len(r.sent), "offsets", r.sent)
	}
	if ok {
		s.keepSession(p)
	}
	return true
}

func (s *Sink) inRoom(p *page, code string) bool {
	s.rooms.mu.RLock()
	defer s.rooms.mu.RUnlock()
	return !p.gone && p.code == code
}

// sendLate sends p, still in room code, the pending alerts es claimed for
// it late, and returns what it sent and what p's connection refused; ok is
// false when p is no longer in the room.
//
// The page has had live alerts since it joined, with higher offsets, so
// these go without a position (socket.io-client keeps the last argument
// of an alert as its offset: an older one would move it back, and its
// next recovery would replay what it has), marked replayed as pending
// alerts are. Nothing is sent twice: an alert the page already got live
// is left out (its offset is within the span it got live, first to
// offset: the broker's re-sync after Redis came back may have delivered
// an alert that was still pending, before its delivery was counted), and
// the offsets sent are noted (page.late) so a live copy that comes after
// (that re-sync, still under way) is not sent either. Live deliveries
// wait meanwhile (delivering), so none is between the check and the
// send. The page's session now starts after the alerts it was sent (and
// after held, the offset it holds of the room): its recovery does not
// replay them.
func (s *Sink) sendLate(p *page, code string, held uint64, es []journal.Entry) (r sendResult, ok bool) {
	s.delivering.Lock()
	defer s.delivering.Unlock()
	s.rooms.mu.Lock()
	defer s.rooms.mu.Unlock()
	if p.gone || p.code != code {
		return r, false
	}
	p.since = max(p.since, held)
	first, last := p.first.Load(), p.offset.Load()
	for _, e := range es {
		off := e.Offset
		switch {
		case first != 0 && off >= first && off <= last, p.sentLate(off), p.hadLive(e.Delivery.LiveTo), p.hadLive(s.live.pidsOf(e.Delivery)):
			continue // the page has it (or a late copy of a hole in its span is on its way)
		}
		if err := herald.CheckName(e.Delivery.Name); err != nil {
			s.log.Warn("recovery: journaled alert left out", "room", e.Delivery.Room, "offset", off, "err", err)
			continue
		}
		e.Delivery.Replayed = true
		o := outgoing{d: e.Delivery} // no position
		p.noteLate(off)
		if p.send(&o) {
			r.sent = append(r.sent, off)
			p.since = max(p.since, off)
		} else {
			r.refused = append(r.refused, off)
		}
	}
	return r, true
}
