package socketio

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/recovery"
)

// journalTimeout bounds each journal call made for one page: a slow disk
// delays that page's catch-up, never its connection for good.
const journalTimeout = 5 * time.Second

// Session implements eio.Sessioner: on the native path recovery is decided
// before the CONNECT answer, so the answer can carry the page's pid (the
// same one when recovered: the client's socket.recovered) and, when
// recovered, its socket id of that session.
func (h nativeHandler) Session(c *eio.Conn, auth map[string]any) (pid, sid string) {
	p := h.s.newNativePage(c)
	if h.s.recovery == nil {
		return "", ""
	}
	res, err := h.s.lookup(handshake{auth: auth, query: c.Query()})
	p.resumed, p.resumeFailed = &res, err != nil
	// A page connected here may still hold the id: the page's old
	// connection, not yet seen to close. The page gets a new id then,
	// rather than two pages one.
	if res.Recovered && h.s.rooms.claimID(p, res.SID) {
		return res.PID, res.SID
	}
	return res.PID, ""
}

// lookup asks the journal what a connecting page gets. On an error the
// page is new, with nothing missed, and the error is returned: a page
// with a code is then owed its room's pending alerts (owePending).
func (s *Sink) lookup(h handshake) (recovery.Result, error) {
	code, _ := handshakeCode(h)
	pid, _ := h.auth["pid"].(string)
	offset, _ := h.auth["offset"].(string)
	if offset == noOffset {
		offset = "" // pidParser's stand-in
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	ackedCode, acked := s.ackedFloor(pid)
	res, err := s.recovery.Connect(ctx, recovery.Request{PID: pid, Offset: offset, Code: code, AckedCode: ackedCode, Acked: acked})
	if err != nil {
		s.log.Warn("recovery: journal unavailable; page treated as new", "err", err)
	}
	return res, err
}

// recover puts a page that recovery knows into its room, with what it
// missed queued before any live delivery, and reports whether it did. A
// recovered page is not greeted again (its client never left the
// session); any other page with a code gets WELCOME first.
//
// The seam: the missed entries were read before the join and are queued
// under the room lock (join's then); from the join on, live deliveries to
// the page are held (page.held) while a second read, outside the lock,
// takes what was published in between (catchUp); then the held ones go,
// and the page's offset makes them skip what catch-up sent.
func (s *Sink) recover(p *page, h handshake) bool {
	if s.recovery == nil {
		return false
	}
	res, failed := p.resumed, p.resumeFailed
	if res == nil { // the library path decides here
		r, err := s.lookup(h)
		res, failed = &r, err != nil
	}
	p.resumed, p.resumeFailed = nil, false
	p.acks = h.auth["acks"] == true
	pid := res.PID
	if lc, ok := p.c.(*libConn); ok {
		pid = libraryPID(lc.sock) // the one the library answered with
		// The client is recovered only if the library answered with its
		// old pid; if it did not, greet it as the new page it thinks it
		// is (what it missed is still sent, as to a reloaded page).
		if res.Recovered && pid != res.PID {
			r := res.NotRecovered()
			res = &r
		}
	}
	offset, _ := h.auth["offset"].(string)
	if offset == noOffset {
		offset = ""
	}
	code, _ := handshakeCode(h)
	s.rooms.mu.Lock() // refreshSessions reads it
	p.pid = pid
	s.rooms.holdSessionLocked(p)
	p.cameOffset, p.cameCode = offset, code
	if claimed, _ := h.auth["pid"].(string); claimed != pid {
		p.claimedPID = claimed
	} else if res.Recovered {
		p.claimedPID = res.Formerly // the session this one replaced
	}
	s.rooms.mu.Unlock()
	if res.Code == "" {
		return false
	}
	via := "handshake"
	if res.Recovered {
		via = "recovery"
	}
	joined := s.join(p, res.Code, via, func() {
		p.since = res.Since
		if !res.Recovered {
			p.c.emit(eventWelcome, welcome)
		}
		s.settle(res.Code, res.Claimed, s.send(p, res.Missed))
		if res.Resumed {
			p.held.Store(&held{}) // until catchUp has read the rest
		}
	})
	if !joined { // it left meanwhile: what was claimed for it is pending again
		s.unclaim(res.Code, res.Claimed)
	} else if res.Resumed {
		s.catchUp(p, res)
	}
	if failed {
		s.owePending(p, res.Code, res.ClaimToken)
	}
	s.keepSession(p)
	s.log.Debug("page connected", "sid", p.id, "transport", p.c.transport(), "recovered", res.Recovered, "missed", len(res.Missed))
	return true
}

// livePIDs are the sessions whose live deliveries recovery leaves out:
// the page's, when it recovered it, and the one that session replaced.
func livePIDs(res *recovery.Result) []string {
	if res.Recovered {
		return []string{res.PID, res.Formerly}
	}
	return nil
}

// sendResult is what send did with a page's journal entries: the offsets
// it sent and those the page's connection refused (it is closing, or was
// cut off as too slow). Entries the page already had, or that no page
// can take, are in neither.
type sendResult struct {
	sent, refused []uint64
}

// send queues journal entries to p, in order, as live deliveries would be.
// An entry under a name pages cannot take (journaled by an older herald
// whose rules let one through) is left out: sent, it would drop the page,
// which would recover it again, in a loop.
func (s *Sink) send(p *page, es []journal.Entry) (r sendResult) {
	for _, e := range es {
		if err := herald.CheckName(e.Delivery.Name); err != nil {
			s.log.Warn("recovery: journaled alert left out", "room", e.Delivery.Room, "offset", e.Offset, "err", err)
			continue
		}
		o := outgoing{d: e.Delivery, pos: s.position(e.Delivery), liveOnly: s.live.pidsOf(e.Delivery)}
		if p.alreadySent(&o) {
			continue // it has it (liveOnly: live, before the entry could say so)
		}
		if p.send(&o) {
			r.sent = append(r.sent, e.Offset)
		} else {
			r.refused = append(r.refused, e.Offset)
		}
	}
	return r
}

// settle brings the history up to date with what send did for a page in
// room code. The alerts sent were reached, as if they had gone live; the
// claimed ones (recovery.Result.Claimed: marked reached for this page
// already) are not counted again. A claimed alert the page's connection
// refused is given back: it is still pending, for the next page.
//
// Counting the others also keeps an alert that went live to no page while
// the page was joining its room (it got it by catch-up) from being
// handed, as pending, to the next page.
func (s *Sink) settle(code string, claimed []uint64, r sendResult) {
	var reached, back []uint64
	for _, off := range r.sent {
		if !slices.Contains(claimed, off) {
			reached = append(reached, off)
		}
	}
	for _, off := range r.refused {
		if slices.Contains(claimed, off) {
			back = append(back, off)
		}
	}
	if len(reached) > 0 {
		s.journalWrite(func() {
			ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
			defer cancel()
			if err := s.recovery.Reached(ctx, code, reached); err != nil {
				s.log.Warn("recovery: catch-up not counted", "err", err)
			}
		})
	}
	s.unclaim(code, back)
}

// unclaim gives back alerts claimed for a page that did not get them
// (Keeper.Unclaim): they are pending again.
func (s *Sink) unclaim(code string, offsets []uint64) {
	if len(offsets) == 0 {
		return
	}
	s.log.Info("recovery: alerts claimed for a page that left before they were sent are pending again", "code", logCode(code), "alerts", len(offsets))
	s.journalWrite(func() {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		if err := s.recovery.Unclaim(ctx, code, offsets); err != nil {
			s.log.Warn("recovery: alerts not given back; the next page will not get them", "code", logCode(code), "alerts", len(offsets), "err", err)
		}
	})
}

// pendingFor claims the alerts of code that reached no page yet, for the
// page registering now, and tells where its session starts. On a journal
// error it returns the error with an empty result: the page is owed its
// pending alerts (owePending).
func (s *Sink) pendingFor(code string) (recovery.Result, error) {
	if s.recovery == nil {
		return recovery.Result{}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	res, err := s.recovery.Register(ctx, code)
	if err != nil {
		s.log.Warn("recovery: pending alerts unavailable; they are claimed once the journal answers", "err", err)
	}
	return res, err
}

// keepSession records the page's pid → code, so it can recover within the
// window after it leaves (or after herald restarts). It does not wait for
// the disk.
func (s *Sink) keepSession(p *page) {
	if s.recovery == nil {
		return
	}
	if sess, ok := s.sessionOf(p); ok {
		s.savingMu.Lock()
		if s.saving == nil {
			s.saving = map[string]journal.Session{}
		}
		s.saving[sess.PID] = sess
		s.savingMu.Unlock()
		s.journalWrite(func() {
			if err := s.saveSession(sess); err != nil {
				s.sessionsUnsaved.Store(true) // refreshSessions tries again
				s.log.Warn("recovery: session not saved", "err", err)
			}
			s.savingMu.Lock()
			if s.saving[sess.PID] == sess {
				delete(s.saving, sess.PID)
			}
			s.savingMu.Unlock()
		})
	}
}

// ackedFloor is what this node knows session pid resumes after (the
// page's acknowledgements move it: Sink.acked) that the journal may not
// hold yet: from its page still connected here (its old connection, not
// yet seen to close; the journal has its session as of its connect or
// last refresh), or from one that left and whose session is being saved.
// code is the room it is of; "" when nothing is known.
func (s *Sink) ackedFloor(pid string) (code string, since uint64) {
	if pid == "" {
		return "", 0
	}
	s.rooms.mu.RLock()
	if p := s.rooms.pids[pid]; p != nil {
		code, since = p.code, p.since
	}
	s.rooms.mu.RUnlock()
	if code != "" {
		return code, since
	}
	s.savingMu.Lock()
	defer s.savingMu.Unlock()
	sess := s.saving[pid]
	return sess.Code, sess.Since
}

// journalWrite runs write, a journal write a page caused, on its own
// goroutine and reports true, unless Close has already waited for the last
// ones (the journal may be closed by now).
func (s *Sink) journalWrite(write func()) bool {
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	if s.writesSealed {
		return false
	}
	s.writes.Go(write)
	return true
}

// sessionOf is what keepSession saves for p; ok is false for a page with
// no pid or no room, and for one whose session a newer connection has
// (its page came back before this one was seen to close): saving it would
// take the session back to this connection's start and socket id.
func (s *Sink) sessionOf(p *page) (sess journal.Session, ok bool) {
	s.rooms.mu.RLock()
	defer s.rooms.mu.RUnlock()
	sess = journal.Session{PID: p.pid, Code: p.code, Since: p.since, Formerly: p.claimedPID, SID: p.id}
	return sess, sess.Code != "" && s.rooms.holdsSessionLocked(p)
}

func (s *Sink) saveSession(sess journal.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	return s.recovery.Keep(ctx, sess)
}

// refreshSessions saves the sessions of connected pages again every third
// of the recovery window, until the sink closes. A session is saved when
// its page connects and when it leaves; a page connected for longer than
// the window whose herald dies under it (kill -9, a cluster node lost)
// never left, and without this its session would have expired by the
// time it comes back, so it would not recover.
//
// It also saves them again, without waiting for the third of the window,
// once the journal's history changed (its epoch: Redis restarted empty
// and lost every session with it), and after a save failed (the journal
// did not answer), retrying with backoff: a page whose node dies in the
// meantime then still recovers on another node. The epoch is checked every
// epochCheck, an atomic read.
func (s *Sink) refreshSessions() {
	tick := time.NewTicker(epochCheck)
	defer tick.Stop()
	epoch := s.recovery.Epoch()
	due := time.Now().Add(s.recovery.Window() / 3)
	var backoff time.Duration
	var retryAt time.Time
	for {
		select {
		case <-s.stopping:
			return
		case <-tick.C:
		}
		now := time.Now()
		e := s.recovery.Epoch()
		changed := e != epoch
		retry := s.sessionsUnsaved.Load() && !now.Before(retryAt)
		if !changed && !retry && now.Before(due) {
			continue
		}
		if changed {
			s.log.Info("recovery: journal history changed; saving the sessions of connected pages again", "epoch", e)
		}
		epoch = e
		s.sessionsUnsaved.Store(false)
		if n, err := s.saveSessions(); err == nil {
			backoff = 0
		} else {
			level := slog.LevelWarn
			if backoff > 0 {
				level = slog.LevelDebug // said once for the outage
			}
			s.log.Log(context.Background(), level, "recovery: sessions of connected pages not saved; retrying", "pages", n, "err", err)
			s.sessionsUnsaved.Store(true)
			backoff = min(max(2*backoff, epochCheck), maxRefreshBackoff)
			retryAt = time.Now().Add(backoff)
		}
		due = time.Now().Add(s.recovery.Window() / 3)
	}
}

// saveSessions saves the session of every connected page; on failure it
// reports how many saves failed and the last error. It stops at the first
// failure: the journal is not answering, and the whole refresh is tried
// again.
func (s *Sink) saveSessions() (failedSaves int64, err error) {
	var failed atomic.Int64
	var lastErr atomic.Pointer[error]
	var wg sync.WaitGroup
	sem := make(chan struct{}, refreshWorkers)
	for _, p := range s.rooms.all() {
		sess, ok := s.sessionOf(p)
		if !ok {
			continue
		}
		sem <- struct{}{}
		if failed.Load() > 0 {
			<-sem
			break
		}
		wg.Add(1)
		started := s.journalWrite(func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.saveSession(sess); err != nil {
				failed.Add(1)
				lastErr.Store(&err)
			}
		})
		if !started { // the sink is closing
			wg.Done()
			<-sem
			break
		}
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return n, *lastErr.Load()
	}
	return 0, nil
}

const (
	// refreshWorkers bounds the session saves in flight during a refresh:
	// enough for the journal to group them into few commits.
	refreshWorkers = 16
	// epochCheck is how often refreshSessions looks at the journal's
	// epoch, and the first backoff after a failed refresh.
	epochCheck = time.Second
	// maxRefreshBackoff bounds the backoff between failed refreshes.
	maxRefreshBackoff = 10 * time.Second
)
