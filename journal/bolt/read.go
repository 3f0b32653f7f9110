package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/journal"
)

// After implements journal.Journal: one range scan from after+1.
func (s *Store) After(ctx context.Context, room string, after uint64, limit int) ([]journal.Entry, error) {
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rb := tx.Bucket(bucketLog).Bucket([]byte(room))
		if rb == nil || limit <= 0 || after == ^uint64(0) {
			return nil
		}
		c := rb.Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Last implements journal.Journal.
func (s *Store) Last(ctx context.Context, room string, n int) ([]journal.Entry, error) {
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rb := tx.Bucket(bucketLog).Bucket([]byte(room))
		if rb == nil || n <= 0 {
			return nil
		}
		c := rb.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// Find implements journal.Journal: a prefix scan of the event index.
func (s *Store) Find(ctx context.Context, eventID string) ([]journal.Entry, error) {
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		prefix := appendString(nil, eventID)
		logs := tx.Bucket(bucketLog)
		c := tx.Bucket(bucketEvents).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r := reader{b: k[len(prefix):]}
			room := r.string()
			if r.err != nil || len(r.b) != 8 {
				return fmt.Errorf("journal: bad event index key %q", k)
			}
			rb := logs.Bucket([]byte(room))
			if rb == nil {
				continue
			}
			v := rb.Get(r.b)
			if v == nil {
				continue
			}
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, binary.BigEndian.Uint64(r.b), err)
			}
			out = append(out, e)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b journal.Entry) int { return a.At.Compare(b.At) })
	return out, err
}

// Pending implements journal.Journal: a backward scan from the newest
// entry that stops at the first one appended before since.
func (s *Store) Pending(ctx context.Context, room string, since time.Time) ([]journal.Entry, error) {
	var out []journal.Entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rb := tx.Bucket(bucketLog).Bucket([]byte(room))
		if rb == nil {
			return nil
		}
		c := rb.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			at, _, err := peekRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, binary.BigEndian.Uint64(k), err)
			}
			if at.Before(since) {
				break
			}
			e, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("journal: %s offset %d: %w", room, binary.BigEndian.Uint64(k), err)
			}
			if e.Reached == 0 {
				out = append(out, e)
			}
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// Session implements journal.Journal.
func (s *Store) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	var (
		sess journal.Session
		ok   bool
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(pid))
		if v == nil {
			return nil
		}
		var err error
		if sess, err = decodeSession(pid, v); err != nil {
			return err
		}
		ok = time.Now().Before(sess.Expires)
		return nil
	})
	if err != nil || !ok {
		return journal.Session{}, false, err
	}
	return sess, true, nil
}
