package bolt

import (
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// roomsPerTx bounds one trimming transaction, so appends waiting behind it
// wait for a slice of the work, not all of it.
const roomsPerTx = 256

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
		if err := s.trim(time.Now()); err != nil {
			s.noteError(err)
			s.log.Error("journal trimming failed", "err", err)
		}
	}
}

// trim applies retention to every room and drops expired sessions and
// de-duplication keys. A room trimmed empty loses its bucket but keeps its
// offset counter.
func (s *Store) trim(now time.Time) error {
	ret := *s.retention.Load()
	cutoff := now.Add(-ret.MaxAge)
	var rooms [][]byte
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLog).ForEachBucket(func(k []byte) error {
			rooms = append(rooms, append([]byte(nil), k...))
			return nil
		})
	}); err != nil {
		return err
	}
	drop := func(n int, at time.Time) bool { return n > ret.MaxEntries || at.Before(cutoff) }
	for len(rooms) > 0 {
		chunk := rooms[:min(roomsPerTx, len(rooms))]
		rooms = rooms[len(chunk):]
		var deleted, emptied int
		if err := s.update(func(tx *bbolt.Tx) error {
			deleted, emptied = 0, 0
			logs := tx.Bucket(bucketLog)
			for _, room := range chunk {
				rb := logs.Bucket(room)
				if rb == nil {
					continue
				}
				n, err := trimRoom(tx, rb, room, drop)
				if err != nil {
					return err
				}
				deleted += n
				if entries(rb) == 0 {
					if err := logs.DeleteBucket(room); err != nil {
						return err
					}
					if n > 0 {
						emptied++
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
		s.entries.Add(-int64(deleted))
		s.rooms.Add(-int64(emptied))
	}
	return s.update(func(tx *bbolt.Tx) error {
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
