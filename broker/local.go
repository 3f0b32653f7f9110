package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/heraldhq/herald"
)

// ErrClosed is returned by Publish once the broker was closed. It also
// matches (errors.Is) what a closed broker or subscriber of another kind
// returns (Closed): either way, herald is shutting down.
var ErrClosed = errors.New("broker: closed")

// Closed returns an error with message msg that matches ErrClosed: what a
// Broker or a Subscriber returns once it was closed.
func Closed(msg string) error { return closedError(msg) }

type closedError string

func (e closedError) Error() string        { return string(e) }
func (e closedError) Is(target error) bool { return target == ErrClosed }

// Local is the in-process broker, the default: Publish calls every
// subscriber's Deliver directly, on the caller's goroutine, so it costs one
// indirect call per sink and no allocation. The zero value is not usable;
// call NewLocal.
type Local struct {
	mu     sync.Mutex                   // serialises Subscribe
	subs   atomic.Pointer[[]Subscriber] // read lock-free by Publish
	closed atomic.Bool
}

var _ Broker = (*Local)(nil)

// NewLocal returns an in-process broker with no subscriber yet.
func NewLocal() *Local {
	l := &Local{}
	l.subs.Store(&[]Subscriber{})
	return l
}

// Subscribe adds s; every later Publish reaches it.
func (l *Local) Subscribe(s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.subs.Load()
	next := make([]Subscriber, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	l.subs.Store(&next)
}

// Publish hands d to every subscriber and sums the pages they reached. If
// a subscriber could not take d (it is closed), Publish still tries the
// others and then returns an error naming the failure: the sender must hear
// that the delivery was not made everywhere, so it can retry.
func (l *Local) Publish(ctx context.Context, d herald.Delivery) (int, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	pages := 0
	var errs []error
	for _, s := range *l.subs.Load() {
		n, err := s.Deliver(ctx, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pages += n
	}
	if errs != nil {
		return pages, fmt.Errorf("broker: delivery to room not handed over: %w", errors.Join(errs...))
	}
	return pages, nil
}

// Close makes every later Publish fail with ErrClosed. Subscribers are
// closed by their owner, not here.
func (l *Local) Close(context.Context) error {
	l.closed.Store(true)
	return nil
}
