package redis

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// maxRecent bounds the set of unjournaled deliveries remembered: they only
// exist while the journal fails, and a second copy can only come from a
// publish that timed out after reaching Redis.
const maxRecent = 100_000

// maxAbove bounds the offsets remembered above a room's floor.
const maxAbove = 4096

// journaledRing is how many of a room's latest journaled deliveries are
// remembered by event and name: an unjournaled copy of one only comes
// right after it, when a stalled Redis resumes.
const journaledRing = 32

// dedupe remembers what this node handed its pages, so no page gets a
// delivery twice (a publish retried locally, a re-sync that overlaps the
// live stream).
//
// Journaled deliveries are tracked by position, per room: a floor (every
// offset at or below it was handed over, or predates this node's interest
// in the room) and the offsets handed over above it, which only exist
// when deliveries arrived out of order (this node delivered its own while
// Redis was away, and the re-sync brings the others'). Offsets of a room
// have no gaps within an epoch (journal/redis), so the floor climbs back
// as the holes fill. That costs one small entry per room. Deliveries
// without an offset are tracked by (event, room, name) for a time window.
// A journaled copy of one of them (the router's outbox journals what a
// node delivered while Redis was away; a stalled Redis runs an append that
// timed out) is handed over all the same: pages that came since need it,
// and the pages that had it live skip it (egress/socketio: the copy's
// LiveTo, or what the node's pages were sent without an offset). The other
// way round, an unjournaled copy of one of a room's latest journaled
// deliveries is dropped (a stalled Redis runs a timed-out append and its
// node's unjournaled PUBLISH, in either order). Replays are meant to be
// sent again and are never dropped.
type dedupe struct {
	mu     sync.Mutex
	rooms  map[string]*roomSeen
	recent map[string]time.Time
	order  []string // recent keys, oldest first
	window time.Duration
	now    func() time.Time

	duplicates atomic.Uint64
}

type roomSeen struct {
	epoch string
	floor uint64
	top   uint64 // the highest offset handed over
	above map[uint64]struct{}
	// blind is set for a room first seen in its epoch while the node's
	// subscription was down: what came before in that epoch is unknown
	// (another node may have appended it meanwhile), so the floor starts
	// at 0 and the re-sync reads the room since the outage and settles it.
	blind bool
	// journaled holds the event and name of the room's latest journaled
	// deliveries handed over (a ring; next is where the next one goes).
	// When Redis stalls, a node whose append timed out publishes the
	// delivery unjournaled; on resuming Redis runs both, and the
	// unjournaled copy may come after the journaled one.
	journaled [journaledRing]eventName
	next      int
}

type eventName struct{ event, name string }

// noteJournaled remembers d, a journaled delivery handed over.
func (r *roomSeen) noteJournaled(d herald.Delivery) {
	if d.EventID == "" {
		return
	}
	r.journaled[r.next] = eventName{d.EventID, d.Name}
	r.next = (r.next + 1) % journaledRing
}

// sawJournaled reports whether a journaled copy of d was handed over
// lately.
func (r *roomSeen) sawJournaled(d herald.Delivery) bool {
	return d.EventID != "" && slices.Contains(r.journaled[:], eventName{d.EventID, d.Name})
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{rooms: map[string]*roomSeen{}, recent: map[string]time.Time{}, window: window, now: time.Now}
}

// add reports whether d is new, recording it, and whether its offset is
// below one already handed over (late: a re-sync filling a hole). blind
// says the node's subscription is down (d is its own delivery, handed to
// its pages alone). Callers serialise add with the hand-over to pages.
func (s *dedupe) add(d herald.Delivery, epoch string, blind bool) (fresh, late bool) {
	if d.Replayed {
		return true, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Offset != 0 && epoch != "" {
		r := s.rooms[d.Room]
		if r == nil || r.epoch != epoch {
			r = &roomSeen{epoch: epoch, floor: d.Offset - 1, top: d.Offset - 1}
			if blind {
				r.floor, r.blind = 0, true
			}
			s.rooms[d.Room] = r
		}
		if _, dup := r.above[d.Offset]; dup || d.Offset <= r.floor {
			s.duplicates.Add(1)
			return false, false
		}
		late = d.Offset < r.top
		r.top = max(r.top, d.Offset)
		if d.Offset == r.floor+1 {
			r.floor++
			for {
				if _, ok := r.above[r.floor+1]; !ok {
					break
				}
				delete(r.above, r.floor+1)
				r.floor++
			}
		} else {
			if r.above == nil {
				r.above = map[uint64]struct{}{}
			}
			r.above[d.Offset] = struct{}{}
			if len(r.above) > maxAbove {
				// A hole that never fills (an entry trimmed before it
				// arrived): give up on it.
				r.floor, r.above = r.top, nil
			}
		}
		r.noteJournaled(d)
		// Handed over unjournaled before or not, it goes to the pages: a
		// page that came since (one that moved here from a node it could
		// not hear while Redis was away) gets it, and those that had it
		// live skip it (egress).
		return true, late
	}
	if d.EventID == "" {
		return true, false
	}
	if r := s.rooms[d.Room]; r != nil && r.sawJournaled(d) {
		// The unjournaled copy of a delivery handed over journaled.
		s.duplicates.Add(1)
		return false, false
	}
	now := s.now()
	for len(s.order) > 0 && (len(s.order) >= maxRecent || now.Sub(s.recent[s.order[0]]) > s.window) {
		delete(s.recent, s.order[0])
		s.order = s.order[1:]
	}
	key := d.EventID + "\x00" + d.Room + "\x00" + d.Name
	if at, ok := s.recent[key]; ok && now.Sub(at) <= s.window {
		s.duplicates.Add(1)
		return false, false
	}
	s.recent[key] = now
	s.order = append(s.order, key)
	return true, false
}

// handedUnjournaled reports whether d was handed over before without an
// offset; callers hold s.mu. Outside an outage nothing is remembered and
// this costs a length check.
func (s *dedupe) handedUnjournaled(d herald.Delivery) bool {
	if len(s.recent) == 0 || d.EventID == "" {
		return false
	}
	at, ok := s.recent[d.EventID+"\x00"+d.Room+"\x00"+d.Name]
	return ok && s.now().Sub(at) <= s.window
}

// handedLive reports whether d was handed over before without an offset.
func (s *dedupe) handedLive(d herald.Delivery) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handedUnjournaled(d)
}

// floor is where a re-sync of room starts: every offset at or below it
// was handed over. A blind room has none (ok is false).
func (s *dedupe) floor(room string) (epoch string, floor uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || r.blind {
		return "", 0, false
	}
	return r.epoch, r.floor, true
}

// settle records that a re-sync read room's entries up to last: every one
// of them was handed over, predates the outage, or was left to the pending
// path on purpose, so none is handed over later (a retry of the re-sync,
// the next one); a blind room is blind no more.
func (s *dedupe) settle(room, epoch string, last uint64) {
	s.mu.Lock()
	r := s.rooms[room]
	if r == nil || r.epoch != epoch {
		s.mu.Unlock()
		return
	}
	r.blind = false
	s.mu.Unlock()
	s.lift(room, epoch, last)
}

// lift raises room's floor to at least floor (offsets below it are gone
// from the journal and will never arrive).
func (s *dedupe) lift(room, epoch string, floor uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || r.epoch != epoch || r.floor >= floor {
		return
	}
	r.floor = floor
	r.top = max(r.top, floor)
	for off := range r.above {
		if off <= floor {
			delete(r.above, off)
		}
	}
	for {
		if _, ok := r.above[r.floor+1]; !ok {
			break
		}
		delete(r.above, r.floor+1)
		r.floor++
	}
}

// keep forgets the rooms not in keep (rooms with no page here any more).
func (s *dedupe) keep(keep map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for room := range s.rooms {
		if keep[room] == 0 {
			delete(s.rooms, room)
		}
	}
}
