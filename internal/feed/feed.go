// Package feed keeps a bounded history of recent items and hands every new
// one to live subscribers without ever waiting for them: the dashboard's
// event list is one. Adding costs a lock and a copy into a ring; it
// allocates nothing, whether anyone watches or not. A subscriber that does
// not keep up misses items (they are counted) instead of slowing the
// publisher, which is on the alert path.
package feed

import (
	"sync"
	"sync/atomic"
)

// Feed is a ring of the last items plus subscribers. The zero value is not
// usable; create one with New. Safe for concurrent use.
type Feed[T any] struct {
	mu    sync.Mutex
	ring  []T
	next  int // where the next item goes
	full  bool
	subs  map[*Sub[T]]struct{}
	count atomic.Int64 // subscribers, read without the lock
}

// New returns a feed that remembers the last size items (at least 1).
func New[T any](size int) *Feed[T] {
	return &Feed[T]{ring: make([]T, max(size, 1)), subs: map[*Sub[T]]struct{}{}}
}

// Add appends v to the history and offers it to every subscriber. It never
// blocks: a subscriber whose buffer is full misses v.
func (f *Feed[T]) Add(v T) {
	f.mu.Lock()
	f.ring[f.next] = v
	f.next++
	if f.next == len(f.ring) {
		f.next, f.full = 0, true
	}
	if f.count.Load() > 0 {
		f.offer(v)
	}
	f.mu.Unlock()
}

// Update finds the newest item for which match returns true, lets change
// modify it in place, and offers the changed item to every subscriber
// (who replace their copy). It reports whether an item matched. Items that
// fell out of the history are not found.
func (f *Feed[T]) Update(match func(*T) bool, change func(*T)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.len()
	for i := range n {
		idx := (f.next - 1 - i + len(f.ring)) % len(f.ring)
		if match(&f.ring[idx]) {
			change(&f.ring[idx])
			if f.count.Load() > 0 {
				f.offer(f.ring[idx])
			}
			return true
		}
	}
	return false
}

// offer hands v to each subscriber that has room; called with f.mu held,
// which also keeps the order of items the same for every subscriber.
func (f *Feed[T]) offer(v T) {
	for s := range f.subs {
		select {
		case s.c <- v:
		default:
			s.dropped.Add(1)
		}
	}
}

func (f *Feed[T]) len() int {
	if f.full {
		return len(f.ring)
	}
	return f.next
}

// Recent returns the history, oldest first.
func (f *Feed[T]) Recent() []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recent()
}

func (f *Feed[T]) recent() []T {
	out := make([]T, 0, f.len())
	if f.full {
		out = append(out, f.ring[f.next:]...)
	}
	return append(out, f.ring[:f.next]...)
}

// Missed sums the items the attached subscribers missed.
func (f *Feed[T]) Missed() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n uint64
	for s := range f.subs {
		n += s.dropped.Load()
	}
	return n
}

// Subscribers reports how many subscribers are attached.
func (f *Feed[T]) Subscribers() int { return int(f.count.Load()) }

// Subscribe attaches a subscriber with room for buf items not yet taken
// and returns it with the history up to that moment, oldest first: no item
// is both in the history and sent, and none falls between them. Close the
// subscriber when done.
func (f *Feed[T]) Subscribe(buf int) (*Sub[T], []T) {
	s := &Sub[T]{f: f, c: make(chan T, max(buf, 1))}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s] = struct{}{}
	f.count.Add(1)
	return s, f.recent()
}

// Sub is one subscriber.
type Sub[T any] struct {
	f       *Feed[T]
	c       chan T
	dropped atomic.Uint64
	once    sync.Once
}

// C delivers new and updated items in the order they happened. It is
// never closed; select on your own context beside it.
func (s *Sub[T]) C() <-chan T { return s.c }

// Dropped counts the items this subscriber missed because its buffer was
// full.
func (s *Sub[T]) Dropped() uint64 { return s.dropped.Load() }

// Close detaches the subscriber; later items are not offered to it.
func (s *Sub[T]) Close() {
	s.once.Do(func() {
		s.f.mu.Lock()
		delete(s.f.subs, s)
		s.f.count.Add(-1)
		s.f.mu.Unlock()
	})
}
