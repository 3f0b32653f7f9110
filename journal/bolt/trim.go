package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/journal"
)

// deletesPerTx bounds one trimming transaction, so appends queued behind
// it wait for a slice of the work, not all of it.
const deletesPerTx = 4096

// trimGap is the least time between two trims a full room asks for:
// appends never trim inline (deleting a room's oldest record would dirty a
// page of its own in every commit), so a room may hold up to a gap's worth
// of appends beyond its limit, and each trim deletes a run of old records.
const trimGap = 250 * time.Millisecond

func (s *Store) trimLoop(every time.Duration) {
	defer close(s.trimmed)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stopTrim:
			return
		case <-tick.C:
		case <-s.kick:
		}
		err := s.trim(time.Now())
		if errors.Is(err, journal.ErrClosed) {
			return // Close marks the store closed before it stops the trimmer
		}
		if err != nil {
			s.noteError(err)
			s.log.Error("journal trimming failed", "err", err)
		}
		select {
		case <-s.stopTrim:
			return
		case <-time.After(trimGap):
		}
	}
}

// trimSoon asks the trimmer to run (a room went over its limit, or the
// retention changed).
func (s *Store) trimSoon() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// trim applies retention to every room and drops expired sessions and
// de-duplication keys. A room trimmed empty keeps its reservation in the
// last bucket, so its offsets are never handed out again.
func (s *Store) trim(now time.Time) error {
	for {
		more := false
		err := s.write(context.Background(), func(tx *bbolt.Tx, st *txState) error {
			var err error
			more, err = s.trimRooms(tx, st, now)
			return err
		})
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return s.write(context.Background(), func(tx *bbolt.Tx, _ *txState) error {
		if err := expire(tx.Bucket(bucketSessions), now, func(v []byte) time.Time {
			sess, err := decodeSession("", v)
			if err != nil {
				return time.Time{}
			}
			return sess.Expires
		}); err != nil {
			return err
		}
		return expire(tx.Bucket(bucketSeen), now, func(v []byte) time.Time {
			if len(v) != 8 {
				return time.Time{}
			}
			return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		})
	})
}

// trimRooms deletes, within one transaction, the records retention no
// longer keeps (beyond MaxEntries in their room, or older than MaxAge), up
// to deletesPerTx of them, and reports whether more are left. It runs in
// the committer, which owns the index.
func (s *Store) trimRooms(tx *bbolt.Tx, st *txState, now time.Time) (more bool, err error) {
	ret := *s.retention.Load()
	cutoff := now.Add(-ret.MaxAge).UnixNano()
	budget := deletesPerTx
	for room, r := range s.idx.rooms {
		n := 0
		for n < len(r.slots) && (len(r.slots)-n > ret.MaxEntries || r.slots[n].at < cutoff) {
			n++
		}
		if n == 0 {
			continue
		}
		if n > budget {
			n, more = budget, true
		}
		if err := st.log(tx, func(w *walOps) {
			for _, sl := range r.slots[:n] {
				w.trim(sl.seq)
			}
		}); err != nil {
			return false, err
		}
		st.drops[room] = r.slots[n-1].offset
		if budget -= n; budget == 0 {
			return true, nil
		}
	}
	return more, nil
}

// expire deletes the keys of b whose expiry (read from the value) has
// passed; unreadable values count as expired.
func expire(b *bbolt.Bucket, now time.Time, expiry func(v []byte) time.Time) error {
	var dead [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if !now.Before(expiry(v)) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
