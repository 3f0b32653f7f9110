package bolt

import (
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

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

// commitLoop is the only writer: it takes whatever queued while the last
// commit was on disk (and, after a busy commit, what arrives within
// gatherDelay) and commits it as one transaction, with the counters marks
// changed since the last one.
func (s *Store) commitLoop() {
	defer close(s.committed)
	batch := make([]*op, 0, maxBatch)
	gather := time.NewTimer(0)
	<-gather.C
	busy := false
	for {
		o, ok := s.next(gather)
		if !ok {
			s.commit(nil) // the marks still in memory
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
	}
}

// next waits for the first write of the next commit. Marks alone wait up
// to markDelay for one, then commit by themselves (no write: an empty
// slice). ok is false once the store is closing and every write is in.
func (s *Store) next(timer *time.Timer) (first []*op, ok bool) {
	select {
	case o, ok := <-s.ops:
		if !ok {
			return nil, false
		}
		return []*op{o}, true
	case <-s.markKick:
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

// commit runs batch in one transaction with the counters marks changed.
// When one op fails, that op alone gets its error and the rest is
// committed without it; when the commit itself fails (the disk), every op
// gets the error and the counters wait for the next commit.
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
	s.commitWith(live, counts)
}

func (s *Store) commitWith(batch []*op, counts []countsWrite) {
	failed := -1
	st := &s.tx
	err := s.update(func(tx *bbolt.Tx) error {
		st.reset(s.nextSeq)
		for i, o := range batch {
			if err := o.apply(tx, st); err != nil {
				failed = i
				return err
			}
		}
		return writeCounts(tx, counts)
	})
	if err == nil {
		s.nextSeq = st.nextSeq
		s.stager.reservedUpTo(st.reserved)
		if s.idx.apply(st, s.retention.Load().MaxEntries) {
			s.trimSoon()
		}
		s.commits.Add(1)
		s.commitOps.Add(uint64(len(batch) + len(counts)))
		for _, o := range batch {
			o.done <- nil
		}
		return
	}
	if failed < 0 {
		s.noteError(err)
		s.idx.redirty(counts)
		for _, o := range batch {
			o.done <- err
		}
		return
	}
	batch[failed].done <- err
	rest := make([]*op, 0, len(batch)-1)
	rest = append(append(rest, batch[:failed]...), batch[failed+1:]...)
	s.commitWith(rest, counts)
}

// update is db.Update that turns a panic inside bbolt into an error: a
// failing disk must not take herald down.
func (s *Store) update(fn func(tx *bbolt.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("journal: write failed: bbolt panicked: %v", p)
		}
	}()
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	return nil
}
