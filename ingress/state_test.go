package ingress

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeDeduper is a fake of our own Deduper: a map, failing on demand.
type fakeDeduper struct {
	mu   sync.Mutex
	keys map[string]bool
	fail bool
}

func (f *fakeDeduper) Seen(_ context.Context, key string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return false, errors.New("store down")
	}
	dup := f.keys[key]
	f.keys[key] = true
	return dup, nil
}

func (f *fakeDeduper) Forget(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, key)
	return nil
}

func (f *fakeDeduper) setFail(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }

func (f *fakeDeduper) has(key string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.keys[key] }

// TestSharedDedupeAcrossAnOutage: an id this node took while the shared
// store was down is still a retry once the store is back: here at once,
// and on another node once this node has shared it (it does so at the
// store's first answer).
func TestSharedDedupeAcrossAnOutage(t *testing.T) {
	store := &fakeDeduper{keys: map[string]bool{}}
	var node1, node2 States
	node1.Share(store)
	node2.Share(store)
	here, there := node1.Get("twitch"), node2.Get("twitch")
	now := time.Now()
	store.setFail(true)
	if here.Seen("m1", now, time.Hour) || here.Seen("m2", now, time.Hour) {
		t.Fatal("first sight during the outage taken for a retry")
	}
	store.setFail(false)
	if !here.Seen("m1", now, time.Hour) {
		t.Error("a retry on the same node after the outage was taken as new")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !store.has("twitch:m2") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !there.Seen("m2", now, time.Hour) {
		t.Error("a retry on another node after the outage was taken as new: the outage's ids were not shared")
	}
	if there.Seen("m3", now, time.Hour) {
		t.Error("an id nobody took is a retry")
	}

	// No further request comes to this node: its periodic pass shares.
	store.setFail(true)
	here.Seen("m4", now, time.Hour)
	store.setFail(false)
	node1.ShareUnshared()
	for !store.has("twitch:m4") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !there.Seen("m4", now, time.Hour) {
		t.Error("an id taken during the outage was not shared by the periodic pass")
	}
}

// TestSharedDedupe: with a shared store, it decides (keyed by instance
// name), for instances made before and after Share; when it fails, the
// instance's own memory decides.
func TestSharedDedupe(t *testing.T) {
	var ss States
	before := ss.Get("twitch")
	store := &fakeDeduper{keys: map[string]bool{"kofi:m2": true}}
	ss.Share(store)
	after := ss.Get("kofi")
	now := time.Now()
	tests := []struct {
		name string
		st   *State
		id   string
		fail bool
		want bool
	}{
		{name: "first sight", st: before, id: "m1", want: false},
		{name: "retry", st: before, id: "m1", want: true},
		{name: "seen by another node", st: after, id: "m2", want: true},
		{name: "store down: local memory", st: after, id: "m3", fail: true, want: false},
		{name: "store down: local retry", st: after, id: "m3", fail: true, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store.setFail(tc.fail)
			if got := tc.st.Seen(tc.id, now, time.Minute); got != tc.want {
				t.Errorf("Seen(%s) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	store.setFail(false)
	if !store.has("twitch:m1") {
		t.Errorf("store keys = %v, want twitch:m1", store.keys)
	}
	before.Forget("m1")
	if store.has("twitch:m1") {
		t.Error("Forget did not reach the shared store")
	}
	if before.Seen("m1", now, time.Minute) {
		t.Error("a forgotten id is still a duplicate")
	}
}
