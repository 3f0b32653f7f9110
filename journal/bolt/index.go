package bolt

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// index maps rooms to their entries' keys in the log. It lives in memory
// and is rebuilt from the log at open, so an append writes one record at
// the log's end and nothing else: the pages a group commit dirties are a
// few contiguous ones, however many rooms the group touches. (A bucket or
// index key per room would dirty one page per room per commit, and with
// 100 busy rooms that halved the durable rate.)
//
// Only the committer adds and removes slots, after its transaction
// committed, under mu; it reads the slot lists without mu. Readers hold mu
// for reading while they copy the slots they need, then read the records
// in a bbolt read transaction: a slot they saw may have been trimmed
// meanwhile (the record is gone and skipped), never replaced.
//
// The index also holds each entry's counters (pages reached, acks), which
// are what readers report: Mark adds to them here, at once and under mu,
// and the committer writes the changed ones into their records with its
// next commit (see Store.Mark). So a mark never needs a commit of its own
// while appends are flowing, and a page that registers right after a live
// delivery already sees it as reached.
type index struct {
	mu      sync.RWMutex
	rooms   map[string]*roomIndex
	entries int
	live    int                   // rooms with at least one entry
	dirty   map[entryKey]struct{} // counters not yet written to their records
}

// entryKey names an entry by room and offset.
type entryKey struct {
	room   string
	offset uint64
}

// roomIndex is one room's entries, oldest first, and its offset counter.
type roomIndex struct {
	last  uint64 // at open: the room's newest offset or reservation, where staging starts
	slots []slot
}

// slot is one entry: its offset in the room, its key in the log, when it
// was appended (Unix nanoseconds, for age trimming and Pending) and its
// counters.
type slot struct {
	offset         uint64
	seq            uint64
	at             int64
	reached, acked uint32
}

func newIndex() *index {
	return &index{rooms: map[string]*roomIndex{}, dirty: map[entryKey]struct{}{}}
}

// slotOf finds room's entry at offset; callers hold mu.
func (x *index) slotOf(room string, offset uint64) *slot {
	r := x.rooms[room]
	if r == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(r.slots, offset, func(s slot, off uint64) int { return cmp.Compare(s.offset, off) })
	if !ok {
		return nil
	}
	return &r.slots[i]
}

// mark adds to the counters of room's entry at offset and reports whether
// the entry is still there.
func (x *index) mark(room string, offset uint64, reached, acked int) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	sl := x.slotOf(room, offset)
	if sl == nil {
		return false
	}
	sl.reached = uint32(clampCount(int(sl.reached) + reached))
	sl.acked = uint32(clampCount(int(sl.acked) + acked))
	x.dirty[entryKey{room, offset}] = struct{}{}
	return true
}

// claim marks room's entry at offset reached by one page if no page has
// reached it, and reports whether it did.
func (x *index) claim(room string, offset uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	sl := x.slotOf(room, offset)
	if sl == nil || sl.reached > 0 {
		return false
	}
	sl.reached = 1
	x.dirty[entryKey{room, offset}] = struct{}{}
	return true
}

// countsWrite is a changed entry's counters on their way to its record.
type countsWrite struct {
	key            entryKey
	seq            uint64
	reached, acked int
}

// takeDirty hands the committer the counters changed since its last
// commit; those of entries trimmed meanwhile are gone with them.
func (x *index) takeDirty() []countsWrite {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.dirty) == 0 {
		return nil
	}
	out := make([]countsWrite, 0, len(x.dirty))
	for k := range x.dirty {
		if sl := x.slotOf(k.room, k.offset); sl != nil {
			out = append(out, countsWrite{key: k, seq: sl.seq, reached: int(sl.reached), acked: int(sl.acked)})
		}
	}
	clear(x.dirty)
	return out
}

// redirty gives back counters whose commit failed, for the next one.
func (x *index) redirty(ws []countsWrite) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, w := range ws {
		x.dirty[w.key] = struct{}{}
	}
}

// after returns up to limit slots of room with an offset above after.
func (x *index) after(room string, after uint64, limit int) []slot {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r := x.rooms[room]
	if r == nil || limit <= 0 {
		return nil
	}
	i := sort.Search(len(r.slots), func(i int) bool { return r.slots[i].offset > after })
	return slices.Clone(r.slots[i:min(len(r.slots), i+limit)])
}

// last returns the newest n slots of room, oldest first.
func (x *index) last(room string, n int) []slot {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r := x.rooms[room]
	if r == nil || n <= 0 {
		return nil
	}
	return slices.Clone(r.slots[max(0, len(r.slots)-n):])
}

// since returns the slots of room appended at or after t, oldest first.
func (x *index) since(room string, t time.Time) []slot {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r := x.rooms[room]
	if r == nil {
		return nil
	}
	ns := t.UnixNano()
	i := sort.Search(len(r.slots), func(i int) bool { return r.slots[i].at >= ns })
	return slices.Clone(r.slots[i:])
}

// countsOf returns the counters of room's entry at offset.
func (x *index) countsOf(room string, offset uint64) (reached, acked int, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	sl := x.slotOf(room, offset)
	if sl == nil {
		return 0, 0, false
	}
	return int(sl.reached), int(sl.acked), true
}

// counts reports the entries and the rooms that have any.
func (x *index) counts() (entries, rooms int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entries, x.live
}

// txState is what one commit attempt adds to and removes from the index,
// and the reservations it writes; it takes effect only once the
// transaction committed. The committer owns it.
type txState struct {
	nextSeq  uint64
	adds     []addedSlot
	drops    map[string]uint64 // room → entries at or below this offset are gone
	reserved map[string]uint64 // room → reservation written
	bytes    int64             // record bytes the group added
	wal      walOps            // the group's frame (see wal.go)
	tail     tailPuts          // what readers find outside bbolt until the checkpoint
}

type addedSlot struct {
	room string
	slot slot
}

func (t *txState) reset(nextSeq uint64) {
	t.nextSeq = nextSeq
	t.adds = t.adds[:0]
	clear(t.drops)
	clear(t.reserved)
	t.bytes = 0
	t.wal.b = t.wal.b[:0]
	t.tail.records = t.tail.records[:0]
	t.tail.sessions = t.tail.sessions[:0]
}

// apply moves a committed transaction's changes into the index and
// reports the rooms now holding more than maxEntries.
func (x *index) apply(t *txState, maxEntries int) (over bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for room, through := range t.drops {
		r := x.rooms[room]
		if r == nil {
			continue
		}
		n := sort.Search(len(r.slots), func(i int) bool { return r.slots[i].offset > through })
		if n == 0 {
			continue
		}
		// Copy down, so a room's slots do not pin a growing array.
		r.slots = append(r.slots[:0:0], r.slots[n:]...)
		x.entries -= n
		if len(r.slots) == 0 {
			x.live--
		}
	}
	for _, a := range t.adds {
		r := x.rooms[a.room]
		if r == nil {
			r = &roomIndex{}
			x.rooms[a.room] = r
		}
		if len(r.slots) == 0 {
			x.live++
		}
		r.slots = append(r.slots, a.slot)
		x.entries++
		over = over || len(r.slots) > maxEntries
	}
	return over
}

// loadIndex rebuilds the index from the log and the counters of rooms
// trimmed empty, and returns the next log key. Records it cannot read are
// returned for deletion: without a room they can never be found again.
func loadIndex(tx *bbolt.Tx) (x *index, nextSeq uint64, bad [][]byte, err error) {
	x = newIndex()
	c := tx.Bucket(bucketLog).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			bad = append(bad, slices.Clone(k))
			continue
		}
		seq := binary.BigEndian.Uint64(k)
		nextSeq = seq + 1
		p, err := peekRecord(v)
		if err != nil {
			bad = append(bad, slices.Clone(k))
			continue
		}
		r := x.rooms[p.room]
		if r == nil {
			r = &roomIndex{}
			x.rooms[p.room] = r
		}
		if p.offset <= r.last {
			return nil, 0, nil, fmt.Errorf("log key %d: room offset %d after %d", seq, p.offset, r.last)
		}
		if len(r.slots) == 0 {
			x.live++
		}
		r.slots = append(r.slots, slot{offset: p.offset, seq: seq, at: p.at.UnixNano(),
			reached: uint32(p.reached), acked: uint32(p.acked)})
		r.last = p.offset
		x.entries++
	}
	err = tx.Bucket(bucketLast).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return nil
		}
		r := x.rooms[string(k)]
		if r == nil {
			r = &roomIndex{}
			x.rooms[string(k)] = r
		}
		r.last = max(r.last, binary.BigEndian.Uint64(v))
		return nil
	})
	return x, max(nextSeq, 1), bad, err
}
