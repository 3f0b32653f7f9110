package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// Append implements journal.Journal. The record is encoded before it joins
// a commit; the offset is taken inside the commit, from the room's counter
// written in the same transaction.
func (s *Store) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	if err := ctx.Err(); err != nil {
		return journal.Entry{}, err
	}
	e, err := s.append(ctx, d)
	if err != nil && !errors.Is(err, journal.ErrClosed) {
		s.appendErrors.Add(1)
		s.noteError(err)
	}
	return e, err
}

func (s *Store) append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	if d.Room == "" || len(d.Room) > maxKey || len(d.EventID) > maxKey {
		return journal.Entry{}, fmt.Errorf("journal: room %.40q / event id %.40q: empty or too long", d.Room, d.EventID)
	}
	d.Offset, d.Replayed = 0, false
	body, err := encodeBody(d)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("journal: %w", err)
	}
	room := []byte(d.Room)
	maxEntries := s.retention.Load().MaxEntries
	var (
		e       journal.Entry
		created bool
		trimmed int
	)
	err = s.write(ctx, func(tx *bbolt.Tx) error {
		last := tx.Bucket(bucketLast)
		off := uint64(1)
		if v := last.Get(room); len(v) == 8 {
			off = binary.BigEndian.Uint64(v) + 1
		}
		if err := last.Put(room, u64(off)); err != nil {
			return err
		}
		logs := tx.Bucket(bucketLog)
		rb := logs.Bucket(room)
		created = rb == nil
		if !created {
			k, _ := rb.Cursor().First()
			created = k == nil
		}
		if rb == nil {
			var err error
			if rb, err = logs.CreateBucket(room); err != nil {
				return err
			}
		}
		at := time.Now().UTC()
		rec := append(encodeHead(make([]byte, 0, 32+len(body)), off, at, 0, 0), body...)
		if err := s.roomFor(tx, len(rec)); err != nil {
			return err
		}
		if err := rb.Put(u64(off), rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEvents).Put(eventKey(d.EventID, d.Room, off), nil); err != nil {
			return err
		}
		e = journal.Entry{Offset: off, Delivery: d, At: at}
		e.Delivery.Offset = off
		var err error
		trimmed, err = trimRoom(tx, rb, room, func(n int, _ time.Time) bool { return n > maxEntries })
		return err
	})
	if err != nil {
		return journal.Entry{}, err
	}
	s.entries.Add(int64(1 - trimmed))
	if created {
		s.rooms.Add(1)
	}
	return e, nil
}

// eventKey indexes an entry under its event id. Both strings are
// length-prefixed so one id is never a prefix match of another.
func eventKey(eventID, room string, off uint64) []byte {
	k := appendString(make([]byte, 0, len(eventID)+len(room)+12), eventID)
	k = appendString(k, room)
	return binary.BigEndian.AppendUint64(k, off)
}

// trimRoom deletes the oldest entries of rb while drop(entries left, the
// oldest's append time) holds, with their event index keys, and reports
// how many went.
func trimRoom(tx *bbolt.Tx, rb *bbolt.Bucket, room []byte, drop func(n int, at time.Time) bool) (int, error) {
	n := entries(rb)
	events := tx.Bucket(bucketEvents)
	deleted := 0
	c := rb.Cursor()
	// Re-seek after every delete: a bbolt cursor may skip a key when
	// deleting under it.
	for k, v := c.First(); k != nil; k, v = c.First() {
		at, eventID, err := peekRecord(v)
		if err == nil && !drop(n, at) {
			break
		}
		// An unreadable record is dropped with the oldest: it can never
		// be replayed anyway.
		if err := events.Delete(eventKey(eventID, string(room), binary.BigEndian.Uint64(k))); err != nil {
			return deleted, err
		}
		if err := c.Delete(); err != nil {
			return deleted, err
		}
		n--
		deleted++
	}
	return deleted, nil
}

// Mark implements journal.Journal.
func (s *Store) Mark(ctx context.Context, room string, offset uint64, reached, acked int) error {
	return s.write(ctx, func(tx *bbolt.Tx) error {
		rb := tx.Bucket(bucketLog).Bucket([]byte(room))
		if rb == nil {
			return nil
		}
		k := u64(offset)
		v := rb.Get(k)
		if v == nil {
			return nil
		}
		rec, err := addCounts(v, reached, acked)
		if err != nil {
			return fmt.Errorf("journal: mark %d: %w", offset, err)
		}
		return rb.Put(k, rec)
	})
}

// SaveSession implements journal.Journal.
func (s *Store) SaveSession(ctx context.Context, sess journal.Session) error {
	if sess.PID == "" || len(sess.PID) > maxKey {
		return fmt.Errorf("journal: session id empty or too long")
	}
	return s.write(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Put([]byte(sess.PID), encodeSession(sess))
	})
}

// Seen implements journal.Journal. The check and the record are one
// operation of the committer, so concurrent callers see exactly one first.
func (s *Store) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || len(key) > maxKey {
		return false, fmt.Errorf("journal: de-duplication key empty or too long")
	}
	var dup bool
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSeen)
		now := time.Now()
		if v := b.Get([]byte(key)); len(v) == 8 && now.UnixNano() < int64(binary.BigEndian.Uint64(v)) {
			dup = true
			return nil
		}
		dup = false
		return b.Put([]byte(key), u64(uint64(now.Add(ttl).UnixNano())))
	})
	return dup, err
}

// Forget implements journal.Journal.
func (s *Store) Forget(ctx context.Context, key string) error {
	if key == "" || len(key) > maxKey {
		return nil
	}
	return s.write(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSeen).Delete([]byte(key))
	})
}

// entries counts a room's entries. A room's offsets have no gaps (the
// counter and the entry commit together, and trimming takes the oldest),
// so the count is last minus first plus one; bbolt's Stats would not see
// the writes of the transaction in progress.
func entries(rb *bbolt.Bucket) int {
	c := rb.Cursor()
	first, _ := c.First()
	if first == nil {
		return 0
	}
	last, _ := c.Last()
	return int(binary.BigEndian.Uint64(last) - binary.BigEndian.Uint64(first) + 1)
}

// ErrFull is returned by Append when the file is at its bound
// (Options.MaxBytes) and has no free pages: until trimming frees some,
// alerts are delivered live but not journaled.
var ErrFull = errors.New("full: the file is at its size bound (max bytes) until trimming frees room")

// roomFor refuses an append once the file is within its headroom of the
// bound and its free pages would not hold the record. The headroom is what
// trimming needs to commit (bbolt copies every page it changes), so a full
// journal can always trim itself back to health.
func (s *Store) roomFor(tx *bbolt.Tx, n int) error {
	if tx.Size() < s.softLimit {
		return nil
	}
	free := int64(s.db.Stats().FreePageN) * int64(s.db.Info().PageSize)
	if free < int64(n)*2+64<<10 {
		return ErrFull
	}
	return nil
}
