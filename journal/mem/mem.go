// Package mem is the in-memory journal store: for tests and throwaway runs
// (herald --data :memory:). It gives every guarantee of package journal
// except surviving the process: offsets never repeat within one Store, and
// a new Store is a new epoch, so pages that come back after a restart are
// told their history is gone instead of being handed the wrong entries.
package mem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// trimEvery is how often the background trimmer drops entries past their
// age and expired sessions and keys.
const trimEvery = time.Minute

// Store is an in-memory journal.Journal.
type Store struct {
	epoch string
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}

	mu        sync.Mutex
	closed    bool
	retention journal.Retention
	rooms     map[string]*room
	sessions  map[string]journal.Session
	seen      map[string]time.Time // key → expiry
	entries   int
}

type room struct {
	last    uint64          // last offset handed out; never goes back
	entries []journal.Entry // oldest first
}

var _ journal.Journal = (*Store)(nil)

// New returns an empty store with default retention and starts its
// background trimmer; Close stops it.
func New() *Store {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &Store{
		epoch:     "m" + hex.EncodeToString(b[:]),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		retention: journal.Retention{}.WithDefaults(),
		rooms:     map[string]*room{},
		sessions:  map[string]journal.Session{},
		seen:      map[string]time.Time{},
	}
	go s.trimLoop()
	return s
}

// live checks ctx and the store's state; callers hold s.mu.
func (s *Store) live(ctx context.Context) error {
	if s.closed {
		return journal.ErrClosed
	}
	return ctx.Err()
}

// Append implements journal.Journal.
func (s *Store) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return journal.Entry{}, err
	}
	r := s.rooms[d.Room]
	if r == nil {
		r = &room{}
		s.rooms[d.Room] = r
	}
	r.last++
	d.Offset = r.last
	d.Replayed = false
	e := journal.Entry{Offset: r.last, Delivery: d, At: time.Now()}
	r.entries = append(r.entries, e)
	s.entries++
	if over := len(r.entries) - s.retention.MaxEntries; over > 0 {
		s.dropOldest(r, over)
	}
	return e, nil
}

// dropOldest removes the n oldest entries of r; callers hold s.mu.
func (s *Store) dropOldest(r *room, n int) {
	clear(r.entries[:n])
	r.entries = append(r.entries[:0], r.entries[n:]...)
	s.entries -= n
}

// index returns the position of the first entry of r with an offset
// greater than after.
func (r *room) index(after uint64) int {
	return sort.Search(len(r.entries), func(i int) bool { return r.entries[i].Offset > after })
}

// After implements journal.Journal.
func (s *Store) After(ctx context.Context, roomName string, after uint64, limit int) ([]journal.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	r := s.rooms[roomName]
	if r == nil || limit <= 0 {
		return nil, nil
	}
	es := r.entries[r.index(after):]
	return clone(es[:min(limit, len(es))]), nil
}

// Last implements journal.Journal.
func (s *Store) Last(ctx context.Context, roomName string, n int) ([]journal.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	r := s.rooms[roomName]
	if r == nil || n <= 0 {
		return nil, nil
	}
	return clone(r.entries[max(0, len(r.entries)-n):]), nil
}

func clone(es []journal.Entry) []journal.Entry {
	if len(es) == 0 {
		return nil
	}
	return append([]journal.Entry(nil), es...)
}

// Find implements journal.Journal.
func (s *Store) Find(ctx context.Context, eventID string) ([]journal.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	var out []journal.Entry
	for _, r := range s.rooms {
		for _, e := range r.entries {
			if e.Delivery.EventID == eventID {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// Mark implements journal.Journal.
func (s *Store) Mark(ctx context.Context, roomName string, offset uint64, reached, acked int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return err
	}
	if e := s.entry(roomName, offset); e != nil {
		e.Reached, e.Acked = max(0, e.Reached+reached), max(0, e.Acked+acked)
	}
	return nil
}

// Claim implements journal.Journal. A failed claim marks nothing here, so
// its token is not kept.
func (s *Store) Claim(ctx context.Context, roomName, _ string, offsets []uint64) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	var won []uint64
	for _, off := range offsets {
		if e := s.entry(roomName, off); e != nil && e.Reached == 0 {
			e.Reached = 1
			won = append(won, off)
		}
	}
	return won, nil
}

// entry is room's entry at offset, nil when there is none; callers hold
// s.mu.
func (s *Store) entry(roomName string, offset uint64) *journal.Entry {
	r := s.rooms[roomName]
	if r == nil {
		return nil
	}
	if i := r.index(offset - 1); i < len(r.entries) && r.entries[i].Offset == offset {
		return &r.entries[i]
	}
	return nil
}

// MarkLive implements journal.LiveMarker.
func (s *Store) MarkLive(ctx context.Context, roomName string, offset uint64, pids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return err
	}
	if e := s.entry(roomName, offset); e != nil {
		live := slices.Clone(e.Delivery.LiveTo) // readers hold the old slice
		for _, pid := range pids {
			if !slices.Contains(live, pid) {
				live = append(live, pid)
			}
		}
		e.Delivery.LiveTo = live
	}
	return nil
}

// Pending implements journal.Journal.
func (s *Store) Pending(ctx context.Context, roomName string, since time.Time) ([]journal.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return nil, err
	}
	r := s.rooms[roomName]
	if r == nil {
		return nil, nil
	}
	var out []journal.Entry
	for _, e := range r.entries {
		if e.Reached == 0 && !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Volatile implements journal.Volatile: the history ends with the process.
func (*Store) Volatile() {}

// SaveSession implements journal.Journal.
func (s *Store) SaveSession(ctx context.Context, sess journal.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return err
	}
	s.sessions[sess.PID] = sess
	return nil
}

// Session implements journal.Journal.
func (s *Store) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return journal.Session{}, false, err
	}
	sess, ok := s.sessions[pid]
	if !ok || !time.Now().Before(sess.Expires) {
		return journal.Session{}, false, nil
	}
	return sess, true, nil
}

// Seen implements journal.Journal.
func (s *Store) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return false, err
	}
	now := time.Now()
	if exp, ok := s.seen[key]; ok && now.Before(exp) {
		return true, nil
	}
	s.seen[key] = now.Add(ttl)
	return false, nil
}

// Forget implements journal.Journal.
func (s *Store) Forget(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.live(ctx); err != nil {
		return err
	}
	delete(s.seen, key)
	return nil
}

// SetRetention implements journal.Journal; it trims at once in the
// background.
func (s *Store) SetRetention(r journal.Retention) {
	s.mu.Lock()
	s.retention = r.WithDefaults()
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Epoch implements journal.Journal.
func (s *Store) Epoch() string { return s.epoch }

// Stats implements journal.Journal. Bytes is not tracked in memory.
func (s *Store) Stats() journal.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := 0
	for _, r := range s.rooms {
		if len(r.entries) > 0 {
			rooms++
		}
	}
	return journal.Stats{Store: "memory", Epoch: s.epoch, Rooms: rooms, Entries: s.entries}
}

// Close implements journal.Journal: it stops the trimmer and drops
// nothing (the memory goes with the Store).
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	return nil
}

func (s *Store) trimLoop() {
	defer close(s.done)
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.kick:
		}
		s.trim(time.Now())
	}
}

// trim applies retention to every room and drops expired sessions and
// keys. Rooms keep their last offset even when emptied, so offsets are
// never handed out twice.
func (s *Store) trim(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := now.Add(-s.retention.MaxAge)
	for _, r := range s.rooms {
		n := max(0, len(r.entries)-s.retention.MaxEntries)
		for n < len(r.entries) && r.entries[n].At.Before(cutoff) {
			n++
		}
		if n > 0 {
			s.dropOldest(r, n)
		}
	}
	for pid, sess := range s.sessions {
		if !now.Before(sess.Expires) {
			delete(s.sessions, pid)
		}
	}
	for key, exp := range s.seen {
		if !now.Before(exp) {
			delete(s.seen, key)
		}
	}
}
