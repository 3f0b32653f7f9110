package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhq/herald/journal"
)

// maxBatch bounds one group commit, so a flood of appends still commits
// (and answers) in slices instead of one huge transaction.
const maxBatch = 1024

// op is one write waiting for the committer. apply runs inside the shared
// transaction and may run more than once (when another op of its batch
// failed and the batch is retried without it); it writes its results to
// variables its caller reads after done, and what the index must learn to
// the transaction's state.
type op struct {
	ctx    context.Context
	apply  func(tx *bbolt.Tx, st *txState) error
	done   chan error
	ticket uint64 // a staged entry's place in the queue (see stager); 0 for other writes
}

// write queues apply for the next group commit and waits until that
// commit is on disk, or ctx ends. When ctx ends first the write may still
// commit later.
func (s *Store) write(ctx context.Context, apply func(tx *bbolt.Tx, st *txState) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, apply: apply, done: make(chan error, 1)}
	if err := s.enqueue(ctx, o); err != nil {
		return err
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("journal: gave up waiting for the commit: %w", ctx.Err())
	}
}

// enqueue hands o to the committer, unless the store is closed or ctx
// ends while the queue is full.
func (s *Store) enqueue(ctx context.Context, o *op) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return journal.ErrClosed
	}
	select {
	case s.ops <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatherDelay is how long the committer waits for more writes after a
// busy commit. Senders answered by one commit are still on their way back
// when the next one would start: without the pause, batches alternate at
// about half the concurrent senders (two cohorts, each paying two fsyncs).
// A quiet journal (the last batch had one write) never waits.
const gatherDelay = 500 * time.Microsecond

// markDelay is how long changed counters wait for a commit to ride with
// when no write is queued: under load they go with the appends, and a
// quiet journal writes them this long after the last mark.
const markDelay = 100 * time.Millisecond

// checkpointEvery is how long the committer keeps one bbolt transaction
// open across group commits (see wal.go). A checkpoint is two fsyncs and a
// rewrite of the pages the transaction touched, so once a second costs
// little; the write-ahead log it empties holds about a second of writes.
const checkpointEvery = time.Second

// logFill is how full bbolt packs the log's pages: appends always go to
// the end, so a split page is never written to again.
const logFill = 0.95

// commitLoop is the only writer: it takes whatever queued while the last
// group was on disk (and, after a busy group, what arrives within
// gatherDelay) and commits it as one group, with the counters marks
// changed since the last one. It checkpoints once a second while writes
// come, and a second after the last one.
func (s *Store) commitLoop() {
	defer close(s.committed)
	batch := make([]*op, 0, maxBatch)
	gather := time.NewTimer(0)
	<-gather.C
	busy := false
	for {
		o, ok := s.next(gather)
		if !ok {
			// The marks still in memory go with it.
			s.commit([]*op{s.releaseReservations()})
			s.checkpoint()
			return
		}
		batch = append(batch[:0], o...)
		waited := !busy
	fill:
		for len(batch) > 0 && len(batch) < maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
				continue
			default:
			}
			if waited {
				break fill
			}
			waited = true
			gather.Reset(gatherDelay)
			select {
			case o, ok := <-s.ops:
				if !gather.Stop() {
					<-gather.C
				}
				if !ok {
					break fill
				}
				batch = append(batch, o)
			case <-gather.C:
			}
		}
		busy = len(batch) > 1
		s.commit(batch)
		// Under load next never waits, so the checkpoint's time is
		// looked at here too.
		select {
		case <-s.checkpointDue.C:
			s.checkpoint()
		default:
			if s.open != nil && s.wal.end >= s.walLimit {
				s.checkpoint()
			}
		}
	}
}

// next waits for the first write of the next group, checkpointing when
// the open transaction's time is up. Marks alone wait up to markDelay for
// a write, then commit by themselves (no write: an empty slice). ok is
// false once the store is closing and every write is in.
func (s *Store) next(timer *time.Timer) (first []*op, ok bool) {
	for {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return nil, false
			}
			return []*op{o}, true
		case <-s.checkpointDue.C:
			s.checkpoint()
			continue
		case <-s.markKick:
		}
		break
	}
	timer.Reset(markDelay)
	select {
	case o, ok := <-s.ops:
		if !timer.Stop() {
			<-timer.C
		}
		if !ok {
			return nil, false
		}
		return []*op{o}, true
	case <-timer.C:
		return nil, true
	}
}

// commit runs batch in the open transaction with the counters marks
// changed and makes it durable with one frame of the write-ahead log.
// An op refused before it wrote (the size bound) alone gets its error;
// when anything else fails (the disk), every op gets the error, the
// counters wait for the next group, and the open transaction is rebuilt
// from the log, which holds every group answered before.
func (s *Store) commit(batch []*op) {
	var ticket uint64
	for _, o := range batch {
		ticket = max(ticket, o.ticket)
	}
	// Failed or committed, the batch's staged entries are settled.
	defer s.stager.settle(ticket)
	// A caller that gave up while queued is told so and its op dropped:
	// an append it will never publish must not be journaled behind its
	// back (it would come back as a pending alert). A staged entry whose
	// caller gave up went live unjournaled, which the caller counts.
	live := batch[:0]
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.done <- err
			continue
		}
		live = append(live, o)
	}
	counts := s.idx.takeDirty()
	if len(live) == 0 && len(counts) == 0 {
		return
	}
	st := &s.tx
	st.reset(s.nextSeq)
	applied, err := s.applyGroup(live, counts, st)
	if err == nil && len(st.wal.b) > 0 {
		err = s.wal.commit(st.wal.b)
	}
	if err != nil {
		s.noteError(err)
		s.idx.redirty(counts)
		for _, o := range applied {
			o.done <- err
		}
		s.rebuild()
		return
	}
	s.nextSeq = st.nextSeq
	s.pending += st.bytes
	s.stager.reservedUpTo(st.reserved)
	s.tail.add(&st.tail)
	if s.idx.apply(st, s.retention.Load().MaxEntries) {
		s.trimSoon()
	}
	if len(st.wal.b) > 0 { // a group that only expired keys synced nothing
		s.commits.Add(1)
		s.commitOps.Add(uint64(len(applied) + len(counts)))
	}
	for _, o := range applied {
		o.done <- nil
	}
}

// applyGroup runs the ops and the counters in the open transaction and
// returns the ops that applied. An op refused before it wrote anything
// (ErrFull) is answered here and left out; any other error, or a bbolt
// panic, leaves the transaction holding part of the group, and is
// returned for the caller to rebuild it.
func (s *Store) applyGroup(batch []*op, counts []countsWrite, st *txState) (applied []*op, err error) {
	applied = batch[:0]
	next := 0 // the op being applied: on a panic it and the rest fail
	defer func() {
		if p := recover(); p != nil {
			applied = append(applied, batch[next:]...)
			err = fmt.Errorf("journal: write failed: bbolt panicked: %v", p)
		}
	}()
	tx, err := s.openTx()
	if err != nil {
		return batch, err
	}
	for ; next < len(batch); next++ {
		o := batch[next]
		if err := o.apply(tx, st); err != nil {
			if errors.Is(err, ErrFull) {
				o.done <- err
				continue
			}
			return append(applied, batch[next:]...), err
		}
		applied = append(applied, o)
	}
	err = st.log(tx, func(w *walOps) {
		for _, c := range counts {
			w.counts(c.seq, c.reached, c.acked)
		}
	})
	return applied, err
}

// openTx is the transaction groups write into, begun when there is none.
// After a failure it is begun afresh from the write-ahead log: the frames
// of the current generation up to the last one synced are every group
// answered since the last checkpoint.
func (s *Store) openTx() (*bbolt.Tx, error) {
	if s.open != nil {
		return s.open, nil
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("journal: write: %w", err)
	}
	if s.broken {
		if _, err := replayWAL(s.wal.f, s.wal.seed, s.wal.gen, s.wal.end, func(p []byte) error { return redo(tx, p) }); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("journal: rebuilding from the write-ahead log: %w", err)
		}
		s.broken = false
	}
	// The log's keys only grow: full pages halve what a checkpoint writes.
	tx.Bucket(bucketLog).FillPercent = logFill
	s.open = tx
	s.checkpointDue.Reset(checkpointEvery)
	return tx, nil
}

// rebuild drops the open transaction after a failed group: it may hold
// part of that group, which its callers were told failed. The next group
// begins a new one from the write-ahead log. Trims the dropped transaction
// held are done again at the next start (the index forgot those records).
func (s *Store) rebuild() {
	if s.open != nil {
		_ = s.open.Rollback()
		s.open = nil
	}
	s.checkpointDue.Stop()
	s.broken = true
}

// checkpoint commits the open transaction to bbolt and moves the
// write-ahead log on to the next generation in the same commit. When the
// commit fails bbolt is left as it was and the log still holds every
// group: the next group rebuilds the transaction from it, and its
// checkpoint is tried a second after that.
func (s *Store) checkpoint() {
	if s.open == nil {
		return
	}
	tx := s.open
	s.open = nil
	s.checkpointDue.Stop()
	gen := s.wal.gen + 1
	s.tail.mu.Lock()
	err := s.commitTx(tx, gen)
	if err == nil {
		s.tail.clear()
	}
	s.tail.mu.Unlock()
	if err != nil {
		s.noteError(err)
		if tell, since := s.checkpoints.Fail(time.Now()); tell {
			args := []any{"err", err}
			if since > 0 {
				args = append(args, "failed_since_last_line", since)
			}
			s.log.Error("journal checkpoint failed; the write-ahead log keeps every answered write until one succeeds", args...)
		}
		s.broken = true
		if errors.Is(err, berrors.ErrMaxSizeReached) {
			s.trimAlone()
		}
		return
	}
	if tell, _ := s.checkpoints.Recover(time.Now()); tell {
		s.log.Info("journal checkpoint succeeded again")
	}
	s.wal.restart(gen)
	s.pending = 0
}

// trimAlone commits, in a transaction of their own, the deletes the log
// holds since the last checkpoint. A checkpoint refused for the size
// bound carries them beside the appends they are to make room for, and
// bbolt reuses a transaction's freed pages only once it has committed:
// without this a file that filled up (big alerts, whose runs of pages do
// not fit the holes of a fragmented file) stayed full whatever retention
// said. The commit is not held to the bound: a delete only copies the
// pages on the path to what it deletes, so the file grows by one of
// bbolt's growth steps at most. The log keeps its generation: the next
// checkpoint, or a restart, redoes all of it, the deletes again included
// (harmless).
func (s *Store) trimAlone() {
	tx, err := s.db.Begin(true)
	if err != nil {
		return
	}
	if _, err := replayWAL(s.wal.f, s.wal.seed, s.wal.gen, s.wal.end, func(p []byte) error { return redoDeletes(tx, p) }); err != nil {
		_ = tx.Rollback()
		return
	}
	bound := s.db.MaxSize
	s.db.MaxSize = 0
	defer func() { s.db.MaxSize = bound }()
	if err := guarded(tx, tx.Commit); err != nil {
		s.log.Warn("journal: trimming the full file failed; retried at the next checkpoint", "err", err)
	}
}

// guarded runs fn, which writes to or commits tx; a bbolt panic (a
// failing disk) rolls tx back and comes back as an error.
func guarded(tx *bbolt.Tx, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			err = fmt.Errorf("bbolt panicked: %v", p)
		}
	}()
	return fn()
}

// commitTx names the log's next generation in tx and commits it; a bbolt
// panic (a failing disk) comes back as an error.
func (s *Store) commitTx(tx *bbolt.Tx, gen uint64) error {
	err := guarded(tx, func() error {
		if err := tx.Bucket(bucketMeta).Put(keyWALGen, u64(gen)); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	return nil
}
