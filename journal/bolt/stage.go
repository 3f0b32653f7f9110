package bolt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// reserveBlock is how many offsets a room reserves on disk at a time. An
// offset is handed out before its entry commits (Stage), so the room's
// counter on disk must already cover it: the last bucket holds each
// room's reservation, and the first append of a room after a start, and
// then one in every reserveBlock, waits for the commit that extends it.
// After a crash a room's offsets continue past its reservation (a gap, as
// the journal allows) because nobody can tell which reserved offsets
// pages had seen.
const reserveBlock = 1024

// stager hands out offsets and tracks which staged entries are settled
// (committed or failed), for readers that must not miss one.
type stager struct {
	mu      sync.Mutex        // held while an entry is queued, so queue order is offset order
	next    map[string]uint64 // the last offset handed out, per room
	tickets uint64            // the last ticket handed out

	// resMu guards reserved on its own: the committer updates it after a
	// commit and must never wait for mu, which a stager may hold while the
	// queue is full.
	resMu    sync.Mutex
	reserved map[string]uint64 // the reservation on disk, per room

	settleMu sync.Mutex
	settled  uint64        // every ticket up to this one is settled
	settling chan struct{} // closed when settled moves
}

func newStager() *stager {
	return &stager{next: map[string]uint64{}, reserved: map[string]uint64{}, settling: make(chan struct{})}
}

// Stage implements journal.Stager.
func (s *Store) Stage(ctx context.Context, d herald.Delivery) (journal.Entry, func(context.Context) error, error) {
	e, durable, err := s.stage(ctx, d)
	if err != nil {
		s.countAppendError(err)
		return journal.Entry{}, nil, err
	}
	return e, func(ctx context.Context) error {
		err := durable(ctx)
		s.countAppendError(err)
		return err
	}, nil
}

// Append implements journal.Journal: a staged entry, waited for.
func (s *Store) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	e, durable, err := s.Stage(ctx, d)
	if err != nil {
		return journal.Entry{}, err
	}
	if err := durable(ctx); err != nil {
		return journal.Entry{}, err
	}
	return e, nil
}

func (s *Store) countAppendError(err error) {
	if err != nil && !errors.Is(err, journal.ErrClosed) {
		s.appendErrors.Add(1)
		s.noteError(err)
	}
}

// stage encodes d, gives it the room's next offset and queues its write.
// When the offset is past the room's reservation the write extends the
// reservation too, and stage waits for its commit before returning: an
// offset leaves the store only once the disk covers it.
func (s *Store) stage(ctx context.Context, d herald.Delivery) (journal.Entry, func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return journal.Entry{}, nil, err
	}
	if d.Room == "" || len(d.Room) > maxKey || len(d.EventID) > maxKey {
		return journal.Entry{}, nil, fmt.Errorf("journal: room %.40q / event id %.40q: empty or too long", d.Room, d.EventID)
	}
	d.Offset, d.Replayed = 0, false
	body, err := encodeBody(d)
	if err != nil {
		return journal.Entry{}, nil, fmt.Errorf("journal: %w", err)
	}
	st := s.stager
	st.mu.Lock()
	// Taken under the lock, so a room's times follow its offsets (the
	// index searches them by time).
	at := time.Now().UTC()
	off := st.offsetAfter(s.idx, d.Room) + 1
	var reserveTo uint64
	if off > st.reservation(d.Room) {
		reserveTo = off + reserveBlock
	}
	rec := append(encodeHead(make([]byte, 0, 32+len(body)), off, at, 0, 0), body...)
	room := d.Room
	o := &op{ctx: ctx, done: make(chan error, 1), ticket: st.tickets + 1}
	o.apply = func(tx *bbolt.Tx, ts *txState) error {
		if err := s.roomFor(tx, ts, len(rec)); err != nil {
			return err
		}
		seq := ts.nextSeq
		if err := ts.log(tx, func(w *walOps) {
			if reserveTo > 0 {
				w.reserve(room, reserveTo)
			}
			w.record(seq, rec)
		}); err != nil {
			return err
		}
		ts.nextSeq++
		ts.bytes += int64(len(rec))
		ts.adds = append(ts.adds, addedSlot{room: room, slot: slot{offset: off, seq: seq, at: at.UnixNano()}})
		ts.tail.records = append(ts.tail.records, tailRecord{seq: seq, rec: rec})
		if reserveTo > 0 {
			ts.reserved[room] = reserveTo
		}
		return nil
	}
	err = s.enqueue(ctx, o)
	if err == nil {
		st.tickets++
		st.next[room] = off
	}
	st.mu.Unlock()
	if err != nil {
		return journal.Entry{}, nil, err
	}

	e := journal.Entry{Offset: off, Delivery: d, At: at}
	e.Delivery.Offset = off
	var once sync.Once
	var result error
	durable := func(ctx context.Context) error {
		once.Do(func() {
			select {
			case result = <-o.done:
			case <-ctx.Done():
				result = fmt.Errorf("journal: gave up waiting for the commit: %w", ctx.Err())
			}
		})
		return result
	}
	if reserveTo > 0 {
		if err := durable(ctx); err != nil {
			return journal.Entry{}, nil, err
		}
	}
	return e, durable, nil
}

// releaseReservations is the last write of a closing store: it brings
// each room's reservation on disk back to the last offset this process
// handed out. Nothing is staged after Close, so a clean restart continues
// a room's offsets where they stopped, without the gap a crash leaves.
func (s *Store) releaseReservations() *op {
	st := s.stager
	st.mu.Lock()
	last := maps.Clone(st.next)
	st.mu.Unlock()
	return &op{ctx: context.Background(), done: make(chan error, 1), apply: func(tx *bbolt.Tx, ts *txState) error {
		return ts.log(tx, func(w *walOps) {
			for room, off := range last {
				if st.reservation(room) > off {
					w.reserve(room, off)
				}
			}
		})
	}}
}

// offsetAfter is the last offset handed out in room; the first time a room
// is staged in this process it starts from the index (the room's newest
// entry, or its reservation when that is higher) and so does the
// reservation. Callers hold st.mu.
func (st *stager) offsetAfter(x *index, room string) uint64 {
	if off, ok := st.next[room]; ok {
		return off
	}
	x.mu.RLock()
	var last uint64
	if r := x.rooms[room]; r != nil {
		last = r.last
	}
	x.mu.RUnlock()
	st.next[room] = last
	st.resMu.Lock()
	st.reserved[room] = max(st.reserved[room], last)
	st.resMu.Unlock()
	return last
}

// reservation is room's reservation on disk.
func (st *stager) reservation(room string) uint64 {
	st.resMu.Lock()
	defer st.resMu.Unlock()
	return st.reserved[room]
}

// reservedUpTo records reservations their commit made durable.
func (st *stager) reservedUpTo(rs map[string]uint64) {
	if len(rs) == 0 {
		return
	}
	st.resMu.Lock()
	defer st.resMu.Unlock()
	for room, to := range rs {
		st.reserved[room] = max(st.reserved[room], to)
	}
}

// settle records that every ticket up to t is settled.
func (st *stager) settle(t uint64) {
	st.settleMu.Lock()
	defer st.settleMu.Unlock()
	if t <= st.settled {
		return
	}
	st.settled = t
	close(st.settling)
	st.settling = make(chan struct{})
}

// wait returns once every entry staged before the call is settled, so a
// reader sees every entry whose delivery may already have gone live.
func (st *stager) wait(ctx context.Context) error {
	st.mu.Lock()
	t := st.tickets
	st.mu.Unlock()
	for {
		st.settleMu.Lock()
		done, ch := st.settled >= t, st.settling
		st.settleMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
