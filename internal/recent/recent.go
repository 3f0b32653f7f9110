// Package recent remembers when keys were last noted, for a while and up
// to a bound: herald uses it for the rooms whose pages were there lately
// (a trigger for a page away for a moment is not a guess at a code).
package recent

import (
	"sync"
	"time"
)

// Set remembers, per key, the last time it was noted. It holds at most
// max keys: when full it drops keys older than keep, at most once a
// minute (so a flood of new keys cannot make every note a sweep), and a
// key that finds no room is not remembered. Forgetting is the safe side
// for its users. The zero value is not usable; call New.
type Set struct {
	keep time.Duration
	max  int

	mu    sync.Mutex
	at    map[string]time.Time
	swept time.Time
}

// New returns a Set that keeps keys for keep, at most max of them.
func New(keep time.Duration, max int) *Set {
	return &Set{keep: keep, max: max, at: map[string]time.Time{}}
}

// Note records key as seen at now.
func (s *Set) Note(key string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[key]; !ok && len(s.at) >= s.max && now.Sub(s.swept) >= time.Minute {
		s.swept = now
		for k, at := range s.at {
			if now.Sub(at) > s.keep {
				delete(s.at, k)
			}
		}
	}
	if _, ok := s.at[key]; ok || len(s.at) < s.max {
		s.at[key] = now
	}
}

// Forget drops key.
func (s *Set) Forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.at, key)
}

// Within reports whether key was noted within keep of now.
func (s *Set) Within(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[key]
	return ok && now.Sub(at) <= s.keep
}

// Len is the number of keys remembered, expired ones included until swept.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}
