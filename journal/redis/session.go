package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/journal"
)

// SaveSession stores the session until s.Expires (Redis expires it then,
// on every node at once). A session already expired is not stored.
func (s *Store) SaveSession(ctx context.Context, ss journal.Session) error {
	if s.closed.Load() {
		return journal.ErrClosed
	}
	if !ss.Expires.After(s.now()) {
		return s.forget(ctx, s.sessionKey(ss.PID), "drop an expired session")
	}
	data, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("redis journal: encode session: %w", err)
	}
	ttl := ss.Expires.Sub(s.now())
	if err := s.c.Set(ctx, s.sessionKey(ss.PID), data, ceilMillis(ttl)).Err(); err != nil {
		s.fail(err)
		return fmt.Errorf("redis journal: save session: %w", err)
	}
	s.ok()
	return nil
}

// Session looks a private session id up.
func (s *Store) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	if s.closed.Load() {
		return journal.Session{}, false, journal.ErrClosed
	}
	data, err := s.c.Get(ctx, s.sessionKey(pid)).Bytes()
	if errors.Is(err, goredis.Nil) {
		s.ok()
		return journal.Session{}, false, nil
	}
	if err != nil {
		s.fail(err)
		return journal.Session{}, false, fmt.Errorf("redis journal: read session: %w", err)
	}
	s.ok()
	var ss journal.Session
	if err := json.Unmarshal(data, &ss); err != nil {
		return journal.Session{}, false, fmt.Errorf("redis journal: decode session: %w", err)
	}
	// Redis expires keys on its own clock; ours decides for the caller.
	if !ss.Expires.After(s.now()) {
		return journal.Session{}, false, nil
	}
	return ss, true, nil
}

// Seen records key for ttl with SET NX PX, one round trip, atomic across
// nodes: of two nodes receiving the same webhook retry at once, exactly
// one hears dup == false.
func (s *Store) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, journal.ErrClosed
	}
	set, err := s.c.SetNX(ctx, s.seenKey(key), 1, ceilMillis(ttl)).Result()
	if err != nil {
		s.fail(err)
		return false, fmt.Errorf("redis journal: record a message id: %w", err)
	}
	s.ok()
	return !set, nil
}

// Forget removes key, so the platform's retry is accepted.
func (s *Store) Forget(ctx context.Context, key string) error {
	if s.closed.Load() {
		return journal.ErrClosed
	}
	return s.forget(ctx, s.seenKey(key), "forget a message id")
}

func (s *Store) forget(ctx context.Context, key, what string) error {
	if err := s.c.Del(ctx, key).Err(); err != nil {
		s.fail(err)
		return fmt.Errorf("redis journal: %s: %w", what, err)
	}
	s.ok()
	return nil
}

// ceilMillis rounds d up to a whole millisecond, at least one: Redis
// refuses a zero expiry, and rounding down would expire early.
func ceilMillis(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return time.Millisecond
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// slicesSortStableByAt orders entries oldest first, keeping the order of
// entries appended in the same millisecond.
func slicesSortStableByAt(es []journal.Entry) {
	slices.SortStableFunc(es, func(a, b journal.Entry) int { return cmp.Compare(a.At.UnixMilli(), b.At.UnixMilli()) })
}
