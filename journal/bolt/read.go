package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/journal"
)

// After implements journal.Journal.
func (s *Store) After(ctx context.Context, room string, after uint64, limit int) ([]journal.Entry, error) {
	return s.records(ctx, room, func() []slot { return s.idx.after(room, after, limit) })
}

// Last implements journal.Journal.
func (s *Store) Last(ctx context.Context, room string, n int) ([]journal.Entry, error) {
	return s.records(ctx, room, func() []slot { return s.idx.last(room, n) })
}

// Pending implements journal.Journal. The index has every entry's
// counters, so only the entries that reached no page are read and
// decoded: after a restart every page of a busy room asks once.
func (s *Store) Pending(ctx context.Context, room string, since time.Time) ([]journal.Entry, error) {
	unreached := func() []slot {
		return slices.DeleteFunc(s.idx.since(room, since), func(sl slot) bool { return sl.reached > 0 })
	}
	return s.records(ctx, room, unreached)
}

// records reads the entries of room at the slots pick chooses, oldest
// first. It first waits for the entries staged before it (see Stager):
// their deliveries may already be on pages, so a page recovering now must
// find them (at most the commit in progress and the next). A slot trimmed
// since the index gave it out is skipped.
func (s *Store) records(ctx context.Context, room string, pick func() []slot) ([]journal.Entry, error) {
	if err := s.stager.wait(ctx); err != nil {
		return nil, err
	}
	slots := pick()
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx, t *tail) error {
		logs := tx.Bucket(bucketLog)
		for _, sl := range slots {
			v := t.records[sl.seq]
			if v == nil {
				v = logs.Get(u64(sl.seq))
			}
			if v == nil {
				continue
			}
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, sl.offset, err)
			}
			// The index has the counters; the record may not have them yet.
			e.Reached, e.Acked = int(sl.reached), int(sl.acked)
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Find implements journal.Journal. It scans the whole log: replaying one
// alert by id is an operator's rare action, and an index of event ids
// would cost every append a write to a page of its own. Like records, it
// waits for the entries staged before it.
func (s *Store) Find(ctx context.Context, eventID string) ([]journal.Entry, error) {
	if err := s.stager.wait(ctx); err != nil {
		return nil, err
	}
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx, t *tail) error {
		match := func(seq uint64, v []byte) error {
			if p, err := peekRecord(v); err != nil || p.eventID != eventID {
				return nil
			}
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: log key %d: %w", seq, err)
			}
			reached, acked, ok := s.idx.countsOf(e.Delivery.Room, e.Offset)
			if !ok {
				return nil // trimmed: the checkpoint has yet to delete it
			}
			e.Reached, e.Acked = reached, acked
			out = append(out, e)
			return nil
		}
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k)
			if _, newer := t.records[seq]; newer {
				continue // found below, in log order
			}
			if err := match(seq, v); err != nil {
				return err
			}
		}
		// The tail's records are the newest: their sequence numbers
		// follow every checkpointed one.
		for _, seq := range slices.Sorted(maps.Keys(t.records)) {
			if err := match(seq, t.records[seq]); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	return out, err
}

// LiveSessions implements journal.SessionLister: every session that has
// not expired, the ones still in the write-ahead log's tail included. A
// value that does not decode is skipped (Session reports it when asked).
func (s *Store) LiveSessions(ctx context.Context) ([]journal.Session, error) {
	var out []journal.Session
	now := time.Now()
	keep := func(pid string, v []byte) {
		if sess, err := decodeSession(pid, v); err == nil && now.Before(sess.Expires) {
			out = append(out, sess)
		}
	}
	err := s.view(ctx, func(tx *bbolt.Tx, t *tail) error {
		err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			if _, newer := t.sessions[string(k)]; !newer {
				keep(string(k), v)
			}
			return ctx.Err()
		})
		for pid, v := range t.sessions {
			keep(pid, v)
		}
		return err
	})
	return out, err
}

// Session implements journal.Journal.
func (s *Store) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	var (
		sess journal.Session
		ok   bool
	)
	err := s.view(ctx, func(tx *bbolt.Tx, t *tail) error {
		v := t.sessions[pid]
		if v == nil {
			v = tx.Bucket(bucketSessions).Get([]byte(pid))
		}
		if v == nil {
			return nil
		}
		var err error
		if sess, err = decodeSession(pid, v); err != nil {
			return err
		}
		ok = time.Now().Before(sess.Expires)
		return nil
	})
	if err != nil || !ok {
		return journal.Session{}, false, err
	}
	return sess, true, nil
}
