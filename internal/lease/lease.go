// Package lease elects one holder among herald nodes for something only
// one of them may do at a time: hold the Twitch EventSub WebSocket session
// (Twitch sends every event to every session, so two nodes holding one
// would each publish it), keep webhook subscriptions in step.
//
// A lease is a Redis key set with SET NX PX to the holder's id and renewed
// with a compare-and-extend script (only the holder extends it). A holder
// that dies stops renewing; the key expires after TTL and another node
// takes it on its next try, a third of the TTL later at most: with the
// default TTL of 5 s, a dead holder is replaced within about 7 s. A holder
// that cannot reach Redis keeps the lease only while it would still be
// valid in Redis (its last renewal plus TTL, minus a try), then steps
// down, so two nodes never both believe they hold it for longer than
// clocks drift. A holder whose key Redis lost (restarted empty) takes it
// back at its next renewal, unless another node took it first.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultTTL is how long a lease outlives its holder's last renewal.
const DefaultTTL = 5 * time.Second

// Holder is what a singleton asks before (and while) it runs: may this
// node hold it now? Both methods are safe for concurrent use.
type Holder interface {
	// Held reports whether this node holds the lease now.
	Held() bool
	// Changed returns a channel that is closed at the next change of
	// Held; call it again for the change after that.
	Changed() <-chan struct{}
}

// Options configures a Lease.
type Options struct {
	// Owner names this node in the key; "" is a random id.
	Owner string
	// TTL is the key's expiry; 0 is DefaultTTL. Renewals happen every
	// TTL/3.
	TTL time.Duration
	// Log receives acquisitions and losses; nil discards.
	Log *slog.Logger
}

// Lease is one named lease. Create it with New and call Run.
type Lease struct {
	c     goredis.UniversalClient
	key   string
	owner string
	ttl   time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	held    bool
	changed chan struct{}
}

var _ Holder = (*Lease)(nil)

// renewScript extends the key only while it still names the caller, and
// takes it back when it is gone (2): Redis lost it (restarted empty, a
// failover to a replica that had not got it), and nobody else took it
// meanwhile, so the holder never stopped being the only one.
var renewScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`)

// releaseScript deletes the key only while it still names the caller.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// New builds a lease on key. It does nothing until Run.
func New(c goredis.UniversalClient, key string, opts Options) *Lease {
	if opts.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.Owner = hex.EncodeToString(b[:])
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Lease{c: c, key: key, owner: opts.Owner, ttl: opts.TTL, log: opts.Log, changed: make(chan struct{})}
}

// Owner is this node's id in the key.
func (l *Lease) Owner() string { return l.owner }

// Held reports whether this node holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Changed returns a channel closed at the next change of Held.
func (l *Lease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *Lease) set(held bool, why string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == held {
		return
	}
	l.held = held
	close(l.changed)
	l.changed = make(chan struct{})
	switch {
	case held:
		l.log.Info("lease acquired", "lease", l.key, "owner", l.owner)
	case err == nil && why == "released":
		l.log.Info("lease released", "lease", l.key, "owner", l.owner)
	default:
		l.log.Warn("lease lost", "lease", l.key, "owner", l.owner, "why", why, "err", err)
	}
}

// Run tries to take the lease, and renews it while held, until ctx ends;
// then it releases the lease (so another node takes over at once).
func (l *Lease) Run(ctx context.Context) {
	every := l.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	var validUntil time.Time
	for {
		start := time.Now()
		held := l.Held()
		op := l.tryAcquire
		if held {
			op = l.renew
		}
		ok, err := op(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil && held && time.Now().Add(every).Before(validUntil):
			// Redis did not answer; the key is still ours until validUntil.
		case err != nil && held:
			l.set(false, "redis unreachable past the lease's expiry", err)
		case ok:
			validUntil = start.Add(l.ttl)
			l.set(true, "", nil)
		case held:
			l.set(false, "another node holds it", nil)
		}
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
	}
}

func (l *Lease) tryAcquire(ctx context.Context) (bool, error) {
	ok, err := l.c.SetNX(ctx, l.key, l.owner, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("lease %s: acquire: %w", l.key, err)
	}
	return ok, nil
}

func (l *Lease) renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.c, []string{l.key}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: renew: %w", l.key, err)
	}
	if n == 2 {
		// Stepping down here would stop the singleton for a moment for
		// nothing: Twitch's WebSocket session, say, and its events then.
		l.log.Info("lease kept: its key was gone from Redis (restarted empty?) and nobody else had taken it", "lease", l.key, "owner", l.owner)
	}
	return n >= 1, nil
}

// release gives the lease up if held, so another node need not wait for
// the expiry.
func (l *Lease) release() {
	if !l.Held() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := releaseScript.Run(ctx, l.c, []string{l.key}, l.owner).Err(); err != nil {
		l.log.Warn("lease not released; it expires on its own", "lease", l.key, "err", err)
	}
	l.set(false, "released", nil)
}

// RunWhileHeld runs fn whenever h is held, with a context cancelled as
// soon as it is not, until ctx ends. It is how a singleton (a Runner's
// Run) is made cluster-safe without knowing about leases: fn returning an
// error is logged and retried at the next acquisition or after a pause.
func RunWhileHeld(ctx context.Context, h Holder, log *slog.Logger, fn func(context.Context) error) error {
	for {
		changed := h.Changed()
		if !h.Held() {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- fn(runCtx) }()
		select {
		case <-changed:
			cancel()
			<-done
			continue
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case err := <-done:
			cancel()
			// It stopped on its own while held: pause, then run it again.
			if err != nil && !errors.Is(err, context.Canceled) && log != nil {
				log.Error("singleton stopped; retrying", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// Always is the Holder of a node that is alone (no --redis): it always
// holds.
type Always struct{}

// Held is true.
func (Always) Held() bool { return true }

// Changed never fires.
func (Always) Changed() <-chan struct{} { return nil }
