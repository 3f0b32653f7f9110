package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// maxBatch bounds how many Publish calls share one pipeline.
const maxBatch = 256

// roundTripTimeout bounds one pipeline. A Redis that stops answering
// without closing anything (a network that drops packets) would otherwise
// hold every Publish of the node for as long as the client's read
// timeouts and retries add up to (about 45 s measured), and its pages
// would wait as long for alerts that Publish then hands them locally.
const roundTripTimeout = 2 * time.Second

// request is one Publish waiting for its round trip.
type request struct {
	room  string
	msg   []byte // nil when the journal published the delivery already
	pages int
	err   error
	done  chan struct{}
}

// publisher sends queued requests, as many as are waiting (up to
// maxBatch) in one pipeline: one round trip carries the PUBLISHes and the
// presence reads of every room involved. One goroutine keeps the node's
// deliveries in the order Publish was called.
func (b *Broker) publisher(ctx context.Context) {
	reqs := make([]*request, 0, maxBatch)
	for {
		reqs = reqs[:0]
		select {
		case <-ctx.Done():
			close(b.stopped)
			b.drain(ErrClosed)
			return
		case r := <-b.batch:
			reqs = append(reqs, r)
		}
	more:
		for len(reqs) < maxBatch {
			select {
			case r := <-b.batch:
				reqs = append(reqs, r)
			default:
				break more
			}
		}
		b.send(ctx, reqs)
	}
}

func (b *Broker) send(ctx context.Context, reqs []*request) {
	pipe := b.c.Pipeline()
	counts := make(map[string]*goredis.MapStringStringCmd, len(reqs))
	published := 0
	for _, r := range reqs {
		if r.msg != nil {
			pipe.Publish(ctx, b.channel, r.msg)
			published++
		}
		if counts[r.room] == nil {
			counts[r.room] = pipe.HGetAll(ctx, b.pres.key(r.room))
		}
	}
	tctx, cancel := context.WithTimeout(ctx, roundTripTimeout)
	_, err := pipe.Exec(tctx)
	cancel()
	b.roundTrips.Add(1)
	if err == nil {
		b.published.Add(uint64(published))
	}
	now := time.Now()
	exact := b.opts.LocalPages != nil
	for _, r := range reqs {
		r.err = err
		if err == nil {
			if exact {
				r.pages = livePages(counts[r.room].Val(), now, b.opts.NodeID) + b.opts.LocalPages(r.room)
			} else {
				r.pages = livePages(counts[r.room].Val(), now, "")
			}
		}
		close(r.done)
	}
}

// drain answers the requests still queued at Close.
func (b *Broker) drain(err error) {
	for {
		select {
		case r := <-b.batch:
			r.err = err
			close(r.done)
		default:
			return
		}
	}
}

func isNil(err error) bool { return errors.Is(err, goredis.Nil) }
