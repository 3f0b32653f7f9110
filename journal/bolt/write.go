package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/journal"
)

// Mark implements journal.Journal. The counters change in the index at
// once (every read reports them from there) and reach the entry's record
// with the next commit: the appends' commit under load, or one of the
// marks' own markDelay after the last mark when the journal is quiet. A
// crash may lose the marks of that last moment; their entries then look
// pending after the restart, which errs on the side of showing an alert
// again rather than never.
//
// A page gets an alert while its entry's commit is on disk (Stage), so
// its ack can come before the entry is in the index: a mark that finds no
// entry waits for the entries staged before it and tries once more.
func (s *Store) Mark(ctx context.Context, room string, offset uint64, reached, acked int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if found, err := s.mark(room, offset, reached, acked); found || err != nil {
		return err
	}
	if err := s.stager.wait(ctx); err != nil {
		return err
	}
	_, err := s.mark(room, offset, reached, acked)
	return err
}

// Claim implements journal.Journal. Pending entries are committed (Pending
// waits for those staged before it), so none is still on its way to the
// index; a failed claim marks nothing, so its token is not kept.
func (s *Store) Claim(ctx context.Context, room, _ string, offsets []uint64) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Held across the claims so Close, which waits for it, commits them.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, journal.ErrClosed
	}
	var won []uint64
	for _, off := range offsets {
		if s.idx.claim(room, off) {
			won = append(won, off)
		}
	}
	if len(won) > 0 {
		s.kickMarks()
	}
	return won, nil
}

// kickMarks asks the committer for a commit of the changed counters.
func (s *Store) kickMarks() {
	select {
	case s.markKick <- struct{}{}:
	default:
	}
}

// mark changes the counters of room's entry at offset, if the index has
// it, and asks for their commit.
func (s *Store) mark(room string, offset uint64, reached, acked int) (found bool, err error) {
	// Held across the mark so Close, which waits for it, commits it.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, journal.ErrClosed
	}
	if !s.idx.mark(room, offset, reached, acked) {
		return false, nil
	}
	s.kickMarks()
	return true, nil
}

// writeCounts puts changed counters into their records. A record that is
// gone (trimmed) or unreadable is skipped: it must not fail the appends
// sharing the commit.
func writeCounts(tx *bbolt.Tx, ws []countsWrite) error {
	logs := tx.Bucket(bucketLog)
	for _, w := range ws {
		k := u64(w.seq)
		v := logs.Get(k)
		if v == nil {
			continue
		}
		rec, err := setCounts(v, w.reached, w.acked)
		if err != nil {
			continue
		}
		if err := logs.Put(k, rec); err != nil {
			return err
		}
	}
	return nil
}

// SaveSession implements journal.Journal.
func (s *Store) SaveSession(ctx context.Context, sess journal.Session) error {
	if sess.PID == "" || len(sess.PID) > maxKey {
		return fmt.Errorf("journal: session id empty or too long")
	}
	v := encodeSession(sess)
	return s.write(ctx, func(tx *bbolt.Tx, st *txState) error {
		if err := st.log(tx, func(w *walOps) { w.session(sess.PID, v) }); err != nil {
			return err
		}
		st.tail.sessions = append(st.tail.sessions, tailSession{pid: sess.PID, v: v})
		return nil
	})
}

// Seen implements journal.Journal. The check and the record are one
// operation of the committer, so concurrent callers see exactly one first.
func (s *Store) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || len(key) > maxKey {
		return false, fmt.Errorf("journal: de-duplication key empty or too long")
	}
	var dup bool
	err := s.write(ctx, func(tx *bbolt.Tx, st *txState) error {
		b := tx.Bucket(bucketSeen)
		now := time.Now()
		if v := b.Get([]byte(key)); len(v) == 8 && now.UnixNano() < int64(binary.BigEndian.Uint64(v)) {
			dup = true
			return nil
		}
		dup = false
		return st.log(tx, func(w *walOps) { w.seen(key, uint64(now.Add(ttl).UnixNano())) })
	})
	return dup, err
}

// Forget implements journal.Journal.
func (s *Store) Forget(ctx context.Context, key string) error {
	if key == "" || len(key) > maxKey {
		return nil
	}
	return s.write(ctx, func(tx *bbolt.Tx, st *txState) error {
		return st.log(tx, func(w *walOps) { w.forget(key) })
	})
}

// ErrFull is returned by Append when the file is at its bound
// (Options.MaxBytes) and has no free pages: until trimming frees some,
// alerts are delivered live but not journaled.
var ErrFull = errors.New("full: the file is at its size bound (max bytes) until trimming frees room")

// roomFor refuses an append once the file is within its headroom of the
// bound and its free pages would not hold the record with what the open
// transaction already holds (bbolt allocates pages only when the
// checkpoint commits). The headroom is what trimming needs to commit
// (bbolt copies every page it changes), so a full journal can always trim
// itself back to health.
func (s *Store) roomFor(tx *bbolt.Tx, st *txState, n int) error {
	// While checkpoints fail, the log is all that holds new writes: it
	// stops at twice its bound rather than fill the disk.
	if s.checkpoints.Failing() && s.wal.end >= 2*s.walLimit {
		return ErrFull
	}
	need := 2 * (s.pending + st.bytes + int64(n))
	if tx.Size()+need < s.softLimit {
		return nil
	}
	free := int64(s.db.Stats().FreePageN) * int64(s.db.Info().PageSize)
	if free < need+64<<10 {
		return ErrFull
	}
	return nil
}
