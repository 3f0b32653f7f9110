package ingress

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeDeduper is a fake of our own Deduper: a map, failing on demand.
type fakeDeduper struct {
	keys map[string]bool
	fail bool
}

func (f *fakeDeduper) Seen(_ context.Context, key string, _ time.Duration) (bool, error) {
	if f.fail {
		return false, errors.New("store down")
	}
	dup := f.keys[key]
	f.keys[key] = true
	return dup, nil
}

func (f *fakeDeduper) Forget(_ context.Context, key string) error {
	delete(f.keys, key)
	return nil
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
			store.fail = tc.fail
			if got := tc.st.Seen(tc.id, now, time.Minute); got != tc.want {
				t.Errorf("Seen(%s) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	store.fail = false
	if !store.keys["twitch:m1"] {
		t.Errorf("store keys = %v, want twitch:m1", store.keys)
	}
	before.Forget("m1")
	if store.keys["twitch:m1"] {
		t.Error("Forget did not reach the shared store")
	}
	if before.Seen("m1", now, time.Minute) {
		t.Error("a forgotten id is still a duplicate")
	}
}
