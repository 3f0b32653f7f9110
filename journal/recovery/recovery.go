// Package recovery decides what a page that connects gets from the
// journal before its first live alert: the alerts it missed while away
// (Socket.IO connection state recovery, or a reloaded page that kept its
// last offset), or, for a page that is new, the alerts that reached no
// page at all (pending delivery). It is the page model's one call into the
// journal at connect time, written once for every transport.
//
// The seam with live alerts is the page model's: it must put the page in
// its room (so live deliveries queue for it) before it calls Connect, send
// Result.Missed first, then the queued live deliveries whose offset is
// greater than the last one sent. That way nothing falls between history
// and live, and nothing is sent twice.
package recovery

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/journal"
)

// Defaults for Options.
const (
	DefaultWindow        = 10 * time.Minute
	DefaultPendingWindow = 10 * time.Minute
	DefaultMaxMissed     = 1000
)

// Options tune a Keeper.
type Options struct {
	// Window is how long a page may be away and still recover
	// (recovery_window); 0 means DefaultWindow.
	Window time.Duration
	// PendingWindow is how old an alert that reached no page may be and
	// still go to the first page that registers (pending_window); 0 means
	// DefaultPendingWindow, PendingOff turns pending delivery off.
	PendingWindow time.Duration
	PendingOff    bool
	// RulePending are the rules' own pending windows, by rule name (what
	// herald.Delivery.Rule holds): an alert of a rule listed here is
	// pending for that long instead, and never when it is 0, whatever
	// PendingOff says. Alerts of other rules (one renamed or removed since
	// they were journaled, the default route) follow PendingWindow and
	// PendingOff. It must not change once given.
	RulePending map[string]time.Duration
	// MaxMissed is how many entries one journal read takes (a recovering
	// page gets all of them after its offset, read by read; pending alerts
	// beyond it, the oldest, are not sent); 0 means DefaultMaxMissed.
	MaxMissed int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	longestPending time.Duration // the longest window in force, 0 when none is
}

// pendingWindow is how long the alerts of rule stay pending, 0 for never.
func (o *Options) pendingWindow(rule string) time.Duration {
	if w, ok := o.RulePending[rule]; ok {
		return max(w, 0)
	}
	if o.PendingOff {
		return 0
	}
	return o.PendingWindow
}

// Keeper answers connecting pages from a journal. It is safe for
// concurrent use.
type Keeper struct {
	j   journal.Journal
	cur atomic.Pointer[Options] // swapped whole by SetOptions
	// onAck is told of every acknowledgement (OnAck); nil when unset.
	onAck atomic.Pointer[func(code string, offset uint64)]

	mu    sync.Mutex
	rooms map[string]*claim // one pending claim at a time per room
}

type claim struct {
	sync.Mutex
	users int
}

// New returns a Keeper over j.
func New(j journal.Journal, opts Options) *Keeper {
	k := &Keeper{j: j, rooms: map[string]*claim{}}
	k.SetOptions(opts)
	return k
}

// SetOptions changes the windows (a reloaded rules file); calls in flight
// finish with the options they started with.
func (k *Keeper) SetOptions(opts Options) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.PendingWindow <= 0 {
		opts.PendingWindow = DefaultPendingWindow
	}
	if opts.MaxMissed <= 0 {
		opts.MaxMissed = DefaultMaxMissed
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.longestPending = 0
	if !opts.PendingOff {
		opts.longestPending = opts.PendingWindow
	}
	for _, w := range opts.RulePending {
		opts.longestPending = max(opts.longestPending, w)
	}
	k.cur.Store(&opts)
}

func (k *Keeper) opts() *Options { return k.cur.Load() }

// Request is what a page sent in its CONNECT auth.
type Request struct {
	// PID is the private session id herald gave the page on an earlier
	// connect (socket.io-client sends it back on its own).
	PID string
	// Offset is the last offset the page received, as it received it
	// ("<epoch>-<offset>"); "" when it has none.
	Offset string
	// Code is the page's code from its handshake or auth, "" when it has
	// none yet (it will REGISTER).
	Code string
	// Acked is what the page model knows the session of PID resumes
	// after in room AckedCode, newer than the journal may hold yet: the
	// page's acknowledgements move it, and the session is saved when the
	// page leaves, in the background, or not at all while its old
	// connection is still open. A session of that room resumes after it
	// at the earliest. 0 and "" when nothing is known.
	Acked     uint64
	AckedCode string
	// ClaimToken is the token of the claim an earlier call made of the
	// room's pending alerts for this page and did not finish
	// (Result.ClaimToken): Owed claims with it again, so what that claim
	// marked reaches the page even when its answer was lost.
	ClaimToken string
}

// Result is what the page gets.
type Result struct {
	// PID is the session id to answer the CONNECT with: the page's own
	// when Recovered, a new one otherwise.
	PID string
	// Code is the page's code: restored from the session when Recovered,
	// else the request's.
	Code string
	// Recovered is true when the pid was known and its session resumed:
	// the client's socket.recovered. An offset of another history is not
	// resumed from; such a page resumes after its session's start.
	Recovered bool
	// Missed are the entries to send before any live alert, oldest first.
	Missed []journal.Entry
	// Pending is true when Missed are alerts that reached no page (sent
	// with meta replayed: true); they are already marked as reached.
	Pending bool
	// Claimed are the offsets this call marked reached for the page: the
	// pending alerts, and the missed alerts that reached no page before
	// it. The page model counts no other page for them, and gives back
	// (Unclaim) those it could not send, so they stay pending.
	Claimed []uint64
	// ClaimToken names the claim this call made, or tried to make, of the
	// room's pending alerts (journal.Claim): a page owed them after an
	// error gives it back to Owed in Request.ClaimToken.
	ClaimToken string
	// From is the offset the page resumed after, when Resumed: with
	// Missed, where the page model's catch-up read starts.
	From    uint64
	Resumed bool
	// Since is what the page's session starts after, for Keep: where it
	// resumes if it comes back with its pid but without an offset.
	Since uint64
	// Formerly is the recovered session's Session.Formerly, for Keep and
	// for the page model, which does not send the page what went live to
	// either session.
	Formerly string
	// SID is the recovered session's socket id (Session.SID), "" when it
	// has none: the page model gives it back to the page, as Node's
	// server restores socket.id, unless a page connected here holds it.
	SID string
}

// Connect decides what a connecting page gets. A journal error is
// returned with a usable Result (a new session, nothing missed): history
// never stops a page from connecting.
func (k *Keeper) Connect(ctx context.Context, req Request) (Result, error) {
	fresh := Result{PID: newPID(), Code: req.Code}
	code, after, session, err := k.resume(ctx, req)
	if err != nil {
		return fresh, err
	}
	recovered := session != nil
	if code == "" {
		return fresh, nil // no code yet: pending delivery happens at Register
	}
	fresh.Code = code
	if after == nil { // a new page of a known room
		return k.pending(ctx, fresh)
	}
	// Only a page resuming from an offset it received (in this history)
	// is sure of what it missed; any other start is checked against the
	// window.
	windowed := !recovered || req.Offset == "" || !k.ours(req.Offset)
	res, resumed, err := k.resumeAfter(ctx, code, *after, session, windowed)
	if err == nil && !resumed { // away longer than the window: a new page
		return k.pending(ctx, fresh)
	}
	res.PID = fresh.PID
	if res.Recovered {
		res.PID = req.PID
	}
	return res, err
}

// resumeAfter reads what a page that resumes after an offset missed.
// A recovered session was alive within the window, so everything after
// the offset it received is what it missed. With windowed, a first missed
// alert older than the recovery window means the page is not resumed but
// new: a reloaded page away longer than that (no partial history with a
// gap at its start), or a session whose start is not known for sure (a
// session saved when the journal could not be read, or by a build that
// did not record it), which must not replay the room's whole history.
//
// session is the recovered one (nil for a page that is not): entries it
// received live before they were journaled are not sent again.
func (k *Keeper) resumeAfter(ctx context.Context, code string, after uint64, session *journal.Session, windowed bool) (res Result, resumed bool, err error) {
	c := k.claim(code)
	defer k.release(code, c)
	es, err := k.j.After(ctx, code, after, k.opts().MaxMissed)
	if err != nil {
		return Result{Code: code}, false, fmt.Errorf("recovery: %w", err)
	}
	if windowed && len(es) > 0 && es[0].At.Before(k.opts().Now().Add(-k.opts().Window)) {
		return Result{Code: code}, false, nil
	}
	res = Result{Code: code, Missed: es, From: after, Resumed: true, Since: after}
	if session != nil {
		res.Recovered, res.Formerly, res.SID = true, session.Formerly, session.SID
		res.Missed = notLiveTo(es, session.PID, session.Formerly)
	}
	// What reached nobody live reaches this page now: no longer pending.
	for _, e := range res.Missed {
		if e.Reached == 0 {
			if err := k.j.Mark(ctx, code, e.Offset, 1, 0); err != nil {
				return res, true, fmt.Errorf("recovery: mark: %w", err)
			}
			res.Claimed = append(res.Claimed, e.Offset)
		}
	}
	if !res.Recovered {
		res.markClaimedReplayed()
	}
	return res, true, nil
}

// NotRecovered is r for a page that was not given its session back after
// all (the Socket.IO library answered it with a new pid): its client
// greets the server as a new page, so it is one, and takes what it missed
// as a reloaded page does.
func (r Result) NotRecovered() Result {
	r.Recovered = false
	r.Missed = slices.Clone(r.Missed)
	r.markClaimedReplayed()
	return r
}

// markClaimedReplayed marks the missed alerts this page claimed (no page
// had them) as replayed, for a page that is not a recovered session: a
// reloaded page is a page registering, and takes the pending alerts as
// the pending path gives them (replayed: late, no page had them). A
// recovered session gets what it missed unmarked, as Socket.IO's recovery
// sends it. An entry that went live before it was journaled (LiveTo) did
// reach pages, whose count may not be in yet: a page that reloads may
// have shown it, so it is not marked (notificationservice.js shows a
// replayed alert again).
func (r *Result) markClaimedReplayed() {
	for i, e := range r.Missed {
		if slices.Contains(r.Claimed, e.Offset) && len(e.Delivery.LiveTo) == 0 {
			r.Missed[i].Delivery.Replayed = true
		}
	}
}

// Register is Connect for a page that named its code after connecting
// (REGISTER): it gets the room's pending alerts, if any.
func (k *Keeper) Register(ctx context.Context, code string) (Result, error) {
	return k.pending(ctx, Result{Code: code})
}

// Owed is Register for a page that joined code's room while the journal
// did not answer (its Connect or Register failed), called once it
// answers again: the room's pending alerts are claimed for it, under the
// room's claim, as for Register. req is what the page sent at CONNECT.
// A page that came back holding an offset of this room and history is
// not new: what is at or below it was sent to it (its delivery may only
// have gone uncounted, a mark lost with Redis), or came before it
// joined; those are claimed (they reached it) but left out of Missed, as
// are those it received live before they were journaled (LiveTo).
// Since is that offset, 0 when it holds none.
func (k *Keeper) Owed(ctx context.Context, code string, req Request) (Result, error) {
	var held uint64
	if pos, err := journal.ParsePosition(req.Offset); err == nil && pos.Epoch == k.j.Epoch() {
		same := req.Code == code
		if req.PID != "" {
			s, ok, err := k.j.Session(ctx, req.PID)
			if err != nil {
				return Result{Code: code}, fmt.Errorf("recovery: session: %w", err)
			}
			if ok {
				same = s.Code == code // the offset is of the room it was in
			}
		}
		if same {
			held = pos.Offset
		}
	}
	res, err := k.pending(ctx, Result{Code: code, ClaimToken: req.ClaimToken})
	res.Since = held
	res.Missed = notLiveTo(res.Missed, req.PID)
	if held > 0 {
		res.Missed = slices.DeleteFunc(res.Missed, func(e journal.Entry) bool { return e.Offset <= held })
	}
	res.Pending = len(res.Missed) > 0
	return res, err
}

// resume reads the request: the code (restored from a known pid), the
// offset to resume after (nil when there is none to resume from), and,
// when it is a Socket.IO recovery, the session (nil otherwise).
//
// A known pid without an offset is a page that received nothing in its
// session (socket.io-client sends the offset of the last alert it got):
// it resumes after what the session started after, so it recovers like
// any other page instead of losing what it missed while away. Nor does a
// recovering page resume from before its session started: an offset that
// low is another room's (the page REGISTERed a new code since, and got no
// alert in it), as every alert it got in this room is past Since.
func (k *Keeper) resume(ctx context.Context, req Request) (code string, after *uint64, session *journal.Session, err error) {
	code = req.Code
	if req.PID != "" {
		s, ok, err := k.j.Session(ctx, req.PID)
		if err != nil {
			return code, nil, nil, fmt.Errorf("recovery: session: %w", err)
		}
		if !ok {
			// Unknown or expired: a new page, whatever offset it sends;
			// only a page without a pid (a reload) resumes from one.
			return code, nil, nil, nil
		}
		if req.AckedCode == s.Code && req.Acked > s.Since {
			s.Since = req.Acked // what it acknowledged was shown
		}
		if req.Offset == "" {
			return s.Code, &s.Since, &s, nil
		}
		code, session = s.Code, &s
	}
	if req.Offset == "" || code == "" {
		return code, nil, nil, nil
	}
	pos, err := journal.ParsePosition(req.Offset)
	if err != nil || pos.Epoch != k.j.Epoch() {
		// Another history (a lost file, a flushed Redis) or junk: replaying
		// from a foreign offset would skip or repeat. A session this
		// history knows was saved since it began (a lost history loses its
		// sessions with it): its page stayed connected while the history
		// changed, and its node saved its session again (Sink's refresh on
		// an epoch change). It resumes after the session's start, as a page
		// that received nothing in it: a Since from the old history is
		// below every offset of the new one (journal/redis's epoch base),
		// so it gets all the room's new history, which it missed if it
		// holds no offset of it. Any other page is new.
		if session != nil {
			return code, &session.Since, session, nil
		}
		return code, nil, nil, nil
	}
	after = &pos.Offset
	if session != nil && session.Since > pos.Offset {
		after = &session.Since
	}
	return code, after, session, nil
}

// ours reports whether offset is a position of this journal's history.
func (k *Keeper) ours(offset string) bool {
	pos, err := journal.ParsePosition(offset)
	return err == nil && pos.Epoch == k.j.Epoch()
}

// pending hands the room's unreached alerts to this page, claimed in the
// journal (journal.Claim), so a second page registering at the same
// moment, on this node or another, does not get them again. An alert is pending for its rule's
// pending window (Options.RulePending), else the global one: the journal
// is read back to the longest window in force, and each entry kept only
// if its own window covers its age.
//
// The page's session starts after the room's newest entry, read before
// the page joins the room (so nothing falls between), or before the
// pending alerts it gets, which it has not received until it has.
func (k *Keeper) pending(ctx context.Context, res Result) (Result, error) {
	if res.Code == "" {
		return res, nil
	}
	again := res.ClaimToken != "" // an earlier claim of this page failed
	if !again {
		res.ClaimToken = newPID()
	}
	c := k.claim(res.Code)
	defer k.release(res.Code, c)
	last, err := k.j.Last(ctx, res.Code, 1)
	if err != nil {
		return res, fmt.Errorf("recovery: newest entry: %w", err)
	}
	if len(last) == 1 {
		res.Since = last[0].Offset
	}
	o := k.opts()
	if o.longestPending <= 0 {
		return res, nil
	}
	now := o.Now()
	var es []journal.Entry
	if again {
		// What the earlier claim marked, if it ran after all, is no longer
		// pending: the window is read whole, and Claim takes what is
		// nobody's or that claim's.
		es, err = k.j.Last(ctx, res.Code, o.MaxMissed)
		es = slices.DeleteFunc(es, func(e journal.Entry) bool { return e.At.Before(now.Add(-o.longestPending)) })
	} else {
		es, err = k.j.Pending(ctx, res.Code, now.Add(-o.longestPending))
	}
	if err != nil {
		return res, err
	}
	es = slices.DeleteFunc(es, func(e journal.Entry) bool {
		w := o.pendingWindow(e.Delivery.Rule)
		// An acknowledged alert was shown, though its reach may have been
		// given back (a page that left without acking others, whose give
		// back landed after its recovery counted them again).
		return w <= 0 || e.At.Before(now.Add(-w)) || e.Acked > 0
	})
	if len(es) == 0 {
		return res, nil
	}
	if len(es) > o.MaxMissed {
		es = es[len(es)-o.MaxMissed:]
	}
	// Another node's page may be claiming them at this moment: each
	// entry goes to the page whose claim marks it first.
	won, err := k.j.Claim(ctx, res.Code, res.ClaimToken, journal.Offsets(es))
	if err != nil {
		// The page is owed them and claims them again later.
		return res, fmt.Errorf("recovery: claim pending: %w", err)
	}
	es = slices.DeleteFunc(es, func(e journal.Entry) bool { return !slices.Contains(won, e.Offset) })
	if len(es) == 0 {
		return res, nil
	}
	res.Since = min(res.Since, es[0].Offset-1)
	res.Claimed = won
	for i := range es {
		es[i].Delivery.Replayed = true
	}
	res.Missed, res.Pending = es, true
	return res, nil
}

func (k *Keeper) claim(room string) *claim {
	k.mu.Lock()
	c := k.rooms[room]
	if c == nil {
		c = &claim{}
		k.rooms[room] = c
	}
	c.users++
	k.mu.Unlock()
	c.Lock()
	return c
}

func (k *Keeper) release(room string, c *claim) {
	c.Unlock()
	k.mu.Lock()
	if c.users--; c.users == 0 {
		delete(k.rooms, room)
	}
	k.mu.Unlock()
}

// Known reports whether pid is a live session, and its socket id (for a
// Socket.IO library that asks before it restores one). A journal error
// is "no".
func (k *Keeper) Known(ctx context.Context, pid string) (sid string, known bool) {
	s, ok, err := k.j.Session(ctx, pid)
	return s.SID, err == nil && ok
}

// Reached counts one more page reached for each of code's entries at
// offsets: a page that got them by recovery.
func (k *Keeper) Reached(ctx context.Context, code string, offsets []uint64) error {
	for _, off := range offsets {
		if err := k.j.Mark(ctx, code, off, 1, 0); err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
	}
	return nil
}

// Unclaim makes code's entries at offsets pending again: they were
// claimed for a page (Register, Connect, Owed) that left, or whose
// connection refused them, before they were sent. The next page to
// register gets them, within their pending window.
func (k *Keeper) Unclaim(ctx context.Context, code string, offsets []uint64) error {
	for _, off := range offsets {
		if err := k.j.Mark(ctx, code, off, -1, 0); err != nil {
			return fmt.Errorf("recovery: unclaim: %w", err)
		}
	}
	return nil
}

// Acked counts a page's acknowledgement of the entry at offset in code,
// and tells the function given to OnAck (the dashboard).
func (k *Keeper) Acked(ctx context.Context, code string, offset uint64) error {
	if fn := k.onAck.Load(); fn != nil {
		(*fn)(code, offset)
	}
	return k.j.Mark(ctx, code, offset, 0, 1)
}

// OnAck makes fn hear of every acknowledgement, before it is journaled.
// fn must not block: it runs on the page's connection.
func (k *Keeper) OnAck(fn func(code string, offset uint64)) { k.onAck.Store(&fn) }

// Catchup reads the entries of code after offset: the page model's second
// read, under its room lock, for what was published between Connect and
// the page joining its room, and for what Connect's read left for it (a
// page away for more than MaxMissed alerts): everything the journal
// holds after offset, so recovery never leaves a gap that retention did
// not make. pids are the page's recovered session's id and Formerly, as
// for Connect.
func (k *Keeper) Catchup(ctx context.Context, code string, after uint64, pids ...string) ([]journal.Entry, error) {
	var all []journal.Entry
	for {
		es, err := k.j.After(ctx, code, after, k.opts().MaxMissed)
		if err != nil {
			return notLiveTo(all, pids...), err
		}
		all = append(all, es...)
		if len(es) < k.opts().MaxMissed {
			return notLiveTo(all, pids...), nil
		}
		after = es[len(es)-1].Offset
	}
}

// notLiveTo leaves out of es the entries the page of the sessions pids
// received live before they were journaled (herald.Delivery.LiveTo: in
// cluster mode, its node delivered them while Redis was away). An empty
// pid stands for no session.
func notLiveTo(es []journal.Entry, pids ...string) []journal.Entry {
	live := func(e journal.Entry) bool {
		return slices.ContainsFunc(pids, func(pid string) bool { return pid != "" && slices.Contains(e.Delivery.LiveTo, pid) })
	}
	if !slices.ContainsFunc(es, live) {
		return es
	}
	return slices.DeleteFunc(slices.Clone(es), live)
}

// Keep records (or extends) a page's session: call it when a page
// connects and when it disconnects, so its pid outlives it by the window
// (Keep sets s.Expires). s.Since is the Result.Since of the Connect or
// Register that put the page in its room; s.Formerly the session id the
// page came with, if it was given another.
func (k *Keeper) Keep(ctx context.Context, s journal.Session) error {
	if s.PID == "" || s.Code == "" {
		return nil
	}
	s.Expires = k.opts().Now().Add(k.opts().Window)
	return k.j.SaveSession(ctx, s)
}

// Window is the recovery window in force (recovery_window).
func (k *Keeper) Window() time.Duration { return k.opts().Window }

// Epoch names the journal's history (journal.Journal.Epoch): it changes
// when the history was lost, and with it the sessions saved in it.
func (k *Keeper) Epoch() string { return k.j.Epoch() }

// Position is what a page receives as the last argument of an alert.
func (k *Keeper) Position(offset uint64) string {
	return journal.Position{Epoch: k.j.Epoch(), Offset: offset}.String()
}

// newPID returns a private session id: 128 random bits, URL-safe.
func newPID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
