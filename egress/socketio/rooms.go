package socketio

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/internal/recent"
)

// rooms is the code → pages membership. It is kept here rather than read
// from the library's adapter because Deliver needs the exact set it writes to
// (its count is what /notify answers), Clients needs each page's code, and a
// plain map under one RWMutex is cheaper than the adapter's nested
// concurrent maps.
//
// A page that disconnected is marked gone, so a REGISTER processed after the
// disconnect (the library runs them on different goroutines) cannot put it
// back.
//
// Rooms also remember, for egress.HeldFor, when their last page left
// (emptied), so that a trigger for a page that is away for a moment is not
// taken for a guess at a code (egress.Holder).
type rooms struct {
	mu      sync.RWMutex
	byCode  map[string]map[*page]struct{}
	pages   map[*page]struct{}
	ids     map[string]*page // socket id → page, so a recovered id is given back only while free
	pids    map[string]*page // private session id → the page that connected last with it (holdSessionLocked)
	emptied *recent.Set      // code → when its last page left
}

// maxEmptied bounds the rooms remembered as emptied: a page can register
// code after code, and each leaves a room behind. Beyond it, rooms that
// empty are not remembered until old ones expire, which only makes their
// triggers count as misses again (the behaviour without this memory).
const maxEmptied = 10_000

func newRooms() *rooms {
	return &rooms{byCode: map[string]map[*page]struct{}{}, pages: map[*page]struct{}{},
		ids: map[string]*page{}, pids: map[string]*page{}, emptied: recent.New(egress.HeldFor, maxEmptied)}
}

// add tracks p as connected. It reports false if p already left.
func (r *rooms) add(p *page) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return false
	}
	r.pages[p] = struct{}{}
	if r.ids[p.id] == nil { // a page that claimed its id (claimID) holds it already
		r.ids[p.id] = p
	}
	return true
}

// idFree reports whether no connected page has socket id id.
func (r *rooms) idFree(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.ids[id] == nil
}

// claimID gives p socket id id if no page holds it, and reports whether
// it did: checked and taken in one step, so two pages that recover the
// same session at once cannot both get it. p must not be in the rooms
// yet (nothing else reads its id); add keeps the claim, remove ends it.
func (r *rooms) claimID(p *page, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == "" || r.ids[id] != nil || p.gone {
		return false
	}
	r.ids[id] = p
	p.id = id
	return true
}

// holdSessionLocked makes p the page of its pid's session, unless a page
// that connected later has it already: an older connection with the same
// pid is one its client gave up (it came back before herald saw it
// close), and must not take the session back. Called under mu, with
// p.pid set.
func (r *rooms) holdSessionLocked(p *page) {
	if p.gone || p.pid == "" {
		return
	}
	if cur := r.pids[p.pid]; cur == nil || !p.connected.Before(cur.connected) {
		r.pids[p.pid] = p
	}
}

// holdsSessionLocked reports whether p is the page of its pid's session.
// Called under mu (read or write).
func (r *rooms) holdsSessionLocked(p *page) bool { return p.pid != "" && r.pids[p.pid] == p }

// join moves p into room code, leaving the room it was in. It returns the
// previous code and false if p already left.
//
// If then is not nil it runs under the lock after the join: whatever it
// queues to the page is queued before any delivery to the new room (Deliver
// snapshots the members under the read lock). It must not block.
func (r *rooms) join(p *page, code string, then func()) (old string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return "", false
	}
	if then != nil {
		defer then()
	}
	old = p.code
	if old == code {
		return old, true
	}
	r.leaveLocked(p)
	members := r.byCode[code]
	if members == nil {
		members = map[*page]struct{}{}
		r.byCode[code] = members
		r.emptied.Forget(code)
	}
	members[p] = struct{}{}
	p.code = code
	p.offset.Store(0) // offsets are per room
	p.first.Store(0)
	p.late.Store(nil)
	return old, true
}

// remove forgets p for good and reports whether it left a room. It is
// idempotent.
func (r *rooms) remove(p *page) (left bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.gone = true
	left = p.code != ""
	r.leaveLocked(p)
	delete(r.pages, p)
	if r.ids[p.id] == p {
		delete(r.ids, p.id)
	}
	if r.pids[p.pid] == p {
		delete(r.pids, p.pid)
	}
	return left
}

func (r *rooms) leaveLocked(p *page) {
	if p.code == "" {
		return
	}
	if members := r.byCode[p.code]; members != nil {
		delete(members, p)
		if len(members) == 0 {
			delete(r.byCode, p.code)
			r.emptied.Note(p.code, time.Now())
		}
	}
	p.code = ""
}

// held reports whether room code has a page, or lost its last one within
// egress.HeldFor of now.
func (r *rooms) held(code string, now time.Time) bool {
	r.mu.RLock()
	n := len(r.byCode[code])
	r.mu.RUnlock()
	return n > 0 || r.emptied.Within(code, now)
}

// members appends the pages of room code to buf and returns it.
func (r *rooms) members(code string, buf []*page) []*page {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for p := range r.byCode[code] {
		buf = append(buf, p)
	}
	return buf
}

// count is the number of pages in room code.
func (r *rooms) count(code string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byCode[code])
}

// each calls fn for every connected page with its current code.
func (r *rooms) each(fn func(p *page, code string)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for p := range r.pages {
		fn(p, p.code)
	}
}

// all returns every connected page.
func (r *rooms) all() []*page {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*page, 0, len(r.pages))
	for p := range r.pages {
		out = append(out, p)
	}
	return out
}
