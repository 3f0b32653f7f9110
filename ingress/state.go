package ingress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"
)

// State is the per-instance memory that must survive a rules reload, such
// as the ids already seen for de-duplication. The router owns one State per
// instance name and hands the same one to every rebuild of that instance,
// so adapters themselves stay stateless and never need closing.
type State struct {
	// counters outlive a reload too, so the admin API's figures are since
	// start, not since the last save of the rules file.
	counters Counters

	mu   sync.Mutex
	seen map[string]time.Time
	// order keeps insertion order so the oldest ids are evicted first.
	order []string

	// shared, when set, holds the ids instead of the map (cluster mode:
	// a retry that lands on another node is still recognised); key is
	// the instance name, which prefixes every id.
	shared Deduper
	key    string
	// unshared are the ids the local set took while the shared store did
	// not answer; they are shared once it answers again (shareLocal), so
	// a retry that then lands on another node is still recognised.
	// sharing is set while that runs.
	unshared []string
	sharing  bool
	ttl      time.Duration // the window of the last Seen: the instance's own
	// values is the cluster's SharedStore (nil on a single node).
	values SharedStore
}

// SharedStore holds small values every node of a cluster reads and
// writes (Redis in cluster mode: internal/redisvalues), for what an
// instance must not keep on one node only, such as a login the platform
// renews each time it is used. Each value carries a tag, a version its
// writer chooses: Swap writes only while the stored tag is the one the
// writer last saw, so nodes never overwrite each other's writes unaware.
type SharedStore interface {
	// Get returns key's value and tag; nil and "" when it holds none.
	Get(ctx context.Context, key string) (value []byte, tag string, err error)
	// Set writes value under tag, whatever key held.
	Set(ctx context.Context, key, tag string, value []byte) error
	// Swap writes value under tag if key's tag is still oldTag ("": key
	// holds nothing), and reports whether it did.
	Swap(ctx context.Context, key, oldTag, tag string, value []byte) (bool, error)
}

// Deduper is a de-duplication store shared by every node (the journal:
// journal.Journal's Seen and Forget). Seen records key for ttl and
// reports whether it was already there; it is atomic across callers.
type Deduper interface {
	Seen(ctx context.Context, key string, ttl time.Duration) (dup bool, err error)
	Forget(ctx context.Context, key string) error
}

// sharedTimeout bounds a shared store call; past it the instance falls
// back to its own memory for that id rather than hold a webhook.
const sharedTimeout = 2 * time.Second

// Counters returns the instance's traffic counters.
func (s *State) Counters() *Counters { return &s.counters }

// NewState returns an empty State.
func NewState() *State { return &State{seen: map[string]time.Time{}} }

// maxSeen bounds the memory one instance may use for de-duplication.
const maxSeen = 10000

// Seen records id at now and reports whether it was already recorded within
// ttl. The set is bounded: past maxSeen ids the oldest are forgotten.
//
// With a shared store (States.Share), the store decides; if it cannot
// answer, the local set does, so a Redis outage never refuses webhooks.
// What the local set took meanwhile still counts once the store answers
// again, here at once and on every node once it is shared.
func (s *State) Seen(id string, now time.Time, ttl time.Duration) bool {
	d, key := s.sharedStore()
	s.mu.Lock()
	s.ttl = ttl
	s.mu.Unlock()
	if d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		dup, err := d.Seen(ctx, key+":"+id, ttl)
		cancel()
		if err == nil {
			s.shareLocal(d, key)
			return dup || s.seenLocally(id, now, ttl)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.seen[id]; ok && now.Sub(at) < ttl {
		return true
	}
	s.evict(now, ttl)
	if _, ok := s.seen[id]; !ok {
		s.order = append(s.order, id)
	}
	s.seen[id] = now
	if d != nil && len(s.unshared) < maxSeen {
		s.unshared = append(s.unshared, id)
	}
	return false
}

// seenLocally reports whether the local set took id within ttl.
func (s *State) seenLocally(id string, now time.Time, ttl time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.seen[id]
	return ok && now.Sub(at) < ttl
}

// ShareUnshared records in the shared store the ids the local set took
// while it did not answer (shareLocal); a node calls it now and then, so
// they are shared even when no further request comes to this instance.
func (s *State) ShareUnshared() {
	if d, key := s.sharedStore(); d != nil {
		s.shareLocal(d, key)
	}
}

// shareLocal records in the shared store, in the background, the ids the
// local set took while it did not answer, each for what is left of its
// ttl. One runs at a time; what a failing store leaves is tried again
// later.
func (s *State) shareLocal(d Deduper, key string) {
	s.mu.Lock()
	if s.sharing || len(s.unshared) == 0 {
		s.mu.Unlock()
		return
	}
	ids, ttl := s.unshared, s.ttl
	s.unshared, s.sharing = nil, true
	s.mu.Unlock()
	go func() {
		for i, id := range ids {
			s.mu.Lock()
			at, ok := s.seen[id]
			s.mu.Unlock()
			left := ttl - time.Since(at)
			if !ok || left <= 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
			_, err := d.Seen(ctx, key+":"+id, left)
			cancel()
			if err != nil {
				s.mu.Lock()
				s.unshared = append(ids[i:], s.unshared...)
				s.sharing = false
				s.mu.Unlock()
				return
			}
		}
		s.mu.Lock()
		s.sharing = false
		s.mu.Unlock()
	}()
}

// Forget removes id, so a request that failed after Seen can be retried.
func (s *State) Forget(id string) {
	if d, key := s.sharedStore(); d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		_ = d.Forget(ctx, key+":"+id) // the local set is cleared below too
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, id)
	// Its place in the eviction order goes too, or a later Seen of the same
	// id would leave a stale entry there; forgetting is rare (a failed
	// publish), so the scan is cheap enough.
	if i := slices.Index(s.order, id); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

func (s *State) sharedStore() (Deduper, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shared, s.key
}

func (s *State) evict(now time.Time, ttl time.Duration) {
	drop := 0
	for ; drop < len(s.order); drop++ {
		id := s.order[drop]
		at, ok := s.seen[id]
		full := len(s.order)-drop >= maxSeen
		if ok && now.Sub(at) < ttl && !full {
			break
		}
		if ok {
			delete(s.seen, id)
		}
	}
	if drop > 0 {
		s.order = append(s.order[:0:0], s.order[drop:]...)
	}
}

// DedupeKey names one message for de-duplication by what identifies its
// sender: the ingress type, the path it arrived on, a hash of the secret
// that authenticated it, and the message id. The instance name is left out
// on purpose: renaming "twitch" to "twitch2" in the rules file must not
// make Twitch's retry of a delivered message look new, while two instances
// with different secrets (two channels) never collide. Only 8 bytes of the
// secret's SHA-256 are kept, so the key is safe to store.
//
// It is also the key for journal.Journal's Seen and Forget, which keep the
// window across restarts once the journal is wired into the router.
func DedupeKey(typ, path, secret, id string) string {
	h := sha256.Sum256([]byte(secret))
	return typ + "|" + path + "|" + hex.EncodeToString(h[:8]) + "|" + id
}

// States hands out one State per instance name. Safe for concurrent use.
type States struct {
	mu     sync.Mutex
	m      map[string]*State
	shared Deduper
	values SharedStore
}

// SharedStore returns the cluster's store of shared values, nil on a
// single node. Read it when the instance runs: it is set once the
// cluster is joined, after the rules file was loaded.
func (s *State) SharedStore() SharedStore {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values
}

// ShareValues gives every instance, those that exist and those created
// later, the cluster's store of shared values.
func (ss *States) ShareValues(v SharedStore) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.values = v
	for _, st := range ss.m {
		st.mu.Lock()
		st.values = v
		st.mu.Unlock()
	}
}

// Share makes s use d for de-duplication (cluster mode), with key
// prefixing every id it records.
func (s *State) Share(d Deduper, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared, s.key = d, key
}

// Share makes every instance's de-duplication use d (cluster mode), the
// instances that exist and those created later.
func (ss *States) Share(d Deduper) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.shared = d
	for name, st := range ss.m {
		st.Share(d, name)
	}
}

// ShareUnshared runs State.ShareUnshared for every instance.
func (ss *States) ShareUnshared() {
	ss.mu.Lock()
	states := slices.Collect(maps.Values(ss.m))
	ss.mu.Unlock()
	for _, st := range states {
		st.ShareUnshared()
	}
}

// Stats returns every instance's counters, by name.
func (ss *States) Stats() map[string]Stats {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make(map[string]Stats, len(ss.m))
	for name, st := range ss.m {
		out[name] = st.counters.Stats()
	}
	return out
}

// Refusals returns every instance's refusals, by name.
func (ss *States) Refusals() map[string]Refusals {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make(map[string]Refusals, len(ss.m))
	for name, st := range ss.m {
		out[name] = st.counters.Refusals()
	}
	return out
}

// Get returns the State for name, creating it on first use.
func (ss *States) Get(name string) *State {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*State{}
	}
	st, ok := ss.m[name]
	if !ok {
		st = NewState()
		st.shared, st.key, st.values = ss.shared, name, ss.values
		ss.m[name] = st
	}
	return st
}
