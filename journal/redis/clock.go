package redis

import (
	"context"
	"sync"
	"time"
)

// An append that Redis runs after its caller gave up must not run at all.
// A Redis that stalls (busy, frozen, a slow fork) keeps what it was sent
// and runs it when it resumes; by then the router has sent the alert to
// this node's pages alone, and its outbox journals it later naming them
// (LiveTo), so no page gets it twice. The stalled append, run late, would
// journal and publish it without those names: a page that had it live
// here and moved to another node meanwhile would get it again there.
//
// So each append carries its caller's deadline, in Redis's clock (the
// script reads TIME), and the script refuses to run past it. The node
// knows Redis's clock from what earlier appends answered (lateClock). One
// estimate serves every server: on a Redis Cluster whose machines' clocks
// are further apart than an append's timeout, an append to the one ahead
// is answered "late" in time, corrects the estimate and goes again.

// lateMargin is how far past its caller's deadline an append still runs:
// it absorbs the error of the clock estimate (half a round trip of the
// best recent sample), so an append in time is never refused for it.
const lateMargin = 100 * time.Millisecond

// clockWindow is how long a sample of Redis's clock is the one used when
// a later sample took longer: clocks drift, and a new primary after a
// failover has a clock of its own.
const clockWindow = time.Minute

// lateClock estimates Redis's clock from this node's: Redis time minus
// local time, from the sample with the shortest round trip recently.
type lateClock struct {
	mu     sync.Mutex
	offset time.Duration
	rtt    time.Duration
	at     time.Time // when the sample was taken; zero: none yet
}

// sample records that Redis read redisMs (Unix milliseconds) while a call
// sent at sent was answered at got. force takes it whatever its round
// trip: Redis said the estimate was wrong.
func (c *lateClock) sample(sent, got time.Time, redisMs int64, force bool) {
	rtt := got.Sub(sent)
	offset := time.UnixMilli(redisMs).Sub(sent.Add(rtt / 2))
	c.mu.Lock()
	defer c.mu.Unlock()
	// Past clockWindow a slower sample replaces the best one only while
	// its error (half its round trip) stays within lateMargin: a sample
	// taken across a stall would put Redis ahead by half the stall.
	if force || c.at.IsZero() || rtt <= c.rtt || (got.Sub(c.at) > clockWindow && rtt <= 2*lateMargin) {
		c.offset, c.rtt, c.at = offset, rtt, got
	}
}

// deadline is ctx's deadline in Redis's clock (Unix milliseconds), with
// lateMargin; 0 when ctx has none or Redis's clock is not known yet.
func (c *lateClock) deadline(ctx context.Context) int64 {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return 0
	}
	return d.Add(lateMargin + c.offset).UnixMilli()
}
