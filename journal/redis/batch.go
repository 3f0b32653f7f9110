package redis

import (
	"context"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/journal"
)

// maxBatch bounds the calls one pipeline carries.
const maxBatch = 256

// call is one caller's commands, waiting for a shared round trip.
type call struct {
	ctx   context.Context
	queue func(goredis.Pipeliner) // adds the caller's commands; the caller reads their results once done is closed
	mark  *markCall               // or: a mark, which the mark batcher groups by room
	sent  bool                    // false when the call was dropped unsent (its context ended first, or the store closed)
	done  chan struct{}
	// state is callQueued until the batcher takes the call (callTaken) or
	// its caller gives up waiting for its turn (callAbandoned).
	state atomic.Int32
}

const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

// batcher sends, in one pipeline, every call queued while the previous
// round trip was out: under load many appends (or marks) share a round
// trip, and a lone call waits for nothing but its own. One goroutine
// sends, in queue order.
type batcher struct {
	c     goredis.UniversalClient
	calls chan *call
	// add queues the commands of the live calls of a batch (those it
	// marks sent); the default runs each call's queue.
	add     func(pipe goredis.Pipeliner, live []*call)
	after   func(live []*call) // runs once the pipeline answered; may be nil
	trips   atomic.Uint64      // pipelines sent
	sentN   atomic.Uint64      // calls they carried
	stopped chan struct{}      // closed when run has returned: nothing queued later is sent
}

func newBatcher(c goredis.UniversalClient) *batcher {
	return &batcher{c: c, calls: make(chan *call, 4*maxBatch), stopped: make(chan struct{}), add: func(pipe goredis.Pipeliner, live []*call) {
		for _, c := range live {
			c.queue(pipe)
		}
	}}
}

// do queues c (its queue func, or its mark) and waits until Redis
// answered its commands. It returns an error only when they were not sent
// (ctx ended while they waited, or the store closed): then none of them
// ran.
func (b *batcher) do(ctx context.Context, stop <-chan struct{}, c *call) error {
	c.ctx, c.done = ctx, make(chan struct{})
	select {
	case b.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return journal.ErrClosed
	}
	// A caller whose context ends before the batcher took its call gives
	// up at once (the batcher then skips it); once taken, it waits for the
	// answer, so a caller never reports a failure for commands that then
	// run.
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ctx.Err()
		}
		select {
		case <-c.done:
		case <-b.stopped:
		}
	case <-b.stopped:
		// run answered every call it took before returning (sent is
		// written before run returns); one queued later was never sent.
	}
	if !c.sent {
		if err := ctx.Err(); err != nil {
			return err
		}
		return journal.ErrClosed
	}
	return nil
}

// run sends queued calls until stop is closed, then answers the calls
// still queued without sending them.
func (b *batcher) run(stop <-chan struct{}) {
	defer close(b.stopped)
	batch := make([]*call, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-stop:
			for {
				select {
				case c := <-b.calls:
					close(c.done)
				default:
					return
				}
			}
		case c := <-b.calls:
			batch = append(batch, c)
		}
		b.collect(&batch)
		b.send(batch)
	}
}

// collect adds the calls queued meanwhile to batch, up to maxBatch.
func (b *batcher) collect(batch *[]*call) {
	for len(*batch) < maxBatch {
		select {
		case c := <-b.calls:
			*batch = append(*batch, c)
		default:
			return
		}
	}
}

// send runs one pipeline for the calls whose context is still live, bounded
// by the latest of their deadlines.
func (b *batcher) send(batch []*call) {
	var deadline time.Time
	live := make([]*call, 0, len(batch))
	for _, c := range batch {
		if !c.state.CompareAndSwap(callQueued, callTaken) || c.ctx.Err() != nil {
			continue
		}
		if d, ok := c.ctx.Deadline(); !ok {
			deadline = time.Unix(1<<62, 0)
		} else if d.After(deadline) {
			deadline = d
		}
		c.sent = true
		live = append(live, c)
	}
	b.sentN.Add(uint64(len(live)))
	if len(live) > 0 {
		pipe := b.c.Pipeline()
		b.add(pipe, live)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, _ = pipe.Exec(ctx) // each command carries its own error
		b.trips.Add(1)
		if b.after != nil {
			b.after(live)
		}
		cancel()
	}
	for _, c := range batch {
		close(c.done)
	}
}

// markLinger is how long the router waits for more marks before it
// records a batch (MarkLinger).
const markLinger = 2 * time.Millisecond

// MarkLinger tells the router (router.Journaled) to gather marks for this
// long before recording them: nobody waits for a mark, and even a light
// load then shares round trips. Marks from elsewhere (recovery, acks) go
// out at once.
func (s *Store) MarkLinger() time.Duration { return markLinger }

// markCall is one Mark waiting for its round trip.
type markCall struct {
	room           string
	offset         uint64
	reached, acked int
	err            error
}

// roomMarks is one script call: the marks of one room in a batch.
type roomMarks struct {
	keys  []string
	args  []any
	calls []*call
	cmd   *goredis.Cmd
}

// markBatcher groups a batch's marks by room: one markScript call per
// room, all rooms in one pipeline.
func (s *Store) markBatcher() *batcher {
	b := newBatcher(s.c)
	var groups []*roomMarks
	b.add = func(pipe goredis.Pipeliner, live []*call) {
		groups = groups[:0]
		byRoom := map[string]*roomMarks{}
		maxAge := s.ret().MaxAge.Milliseconds()
		for _, c := range live {
			m := c.mark
			g := byRoom[m.room]
			if g == nil {
				g = &roomMarks{keys: s.roomKeys(m.room), args: []any{maxAge}}
				byRoom[m.room] = g
				groups = append(groups, g)
			}
			g.args = append(g.args, m.offset, m.reached, m.acked)
			g.calls = append(g.calls, c)
		}
		for _, g := range groups {
			g.cmd = markScript.EvalSha(context.Background(), pipe, g.keys, g.args...)
		}
	}
	b.after = func(live []*call) {
		for _, g := range groups {
			err := g.cmd.Err()
			if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
				// Redis restarted and lost the script: Run loads it.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err = markScript.Run(ctx, s.c, g.keys, g.args...).Err()
				cancel()
			}
			for _, c := range g.calls {
				c.mark.err = err
			}
		}
	}
	return b
}
