package recent

import (
	"fmt"
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	s := New(10*time.Minute, 3)
	s.Note("a", t0)
	tests := []struct {
		name string
		key  string
		now  time.Time
		want bool
	}{
		{name: "just noted", key: "a", now: t0, want: true},
		{name: "at the end of keep", key: "a", now: t0.Add(10 * time.Minute), want: true},
		{name: "after keep", key: "a", now: t0.Add(10*time.Minute + 1), want: false},
		{name: "never noted", key: "b", now: t0, want: false},
	}
	for _, tc := range tests {
		if got := s.Within(tc.key, tc.now); got != tc.want {
			t.Errorf("%s: Within(%q) = %v, want %v", tc.name, tc.key, got, tc.want)
		}
	}
	s.Forget("a")
	if s.Within("a", t0) {
		t.Error("a forgotten key is still within")
	}
}

// TestSetBound: a flood of keys fills the set and no more; a key already
// there is renewed even when full; expired keys make room, swept at most
// once a minute.
func TestSetBound(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	s := New(time.Minute, 100)
	for i := range 1000 {
		s.Note(fmt.Sprint(i), t0)
	}
	if s.Len() != 100 {
		t.Fatalf("Len = %d after a flood, want the bound 100", s.Len())
	}
	s.Note("0", t0.Add(time.Minute))
	if !s.Within("0", t0.Add(90*time.Second)) {
		t.Error("a full set did not renew a key it holds")
	}
	s.Note("new", t0.Add(2*time.Minute)) // sweeps: 99 keys expired
	if !s.Within("new", t0.Add(2*time.Minute)) || s.Len() != 2 {
		t.Errorf("after the sweep: new within %v, Len %d; want true, 2", s.Within("new", t0.Add(2*time.Minute)), s.Len())
	}
	for i := range 98 {
		s.Note(fmt.Sprint("f", i), t0.Add(2*time.Minute))
	}
	s.Note("late", t0.Add(2*time.Minute+time.Second)) // full, swept a second ago
	if s.Within("late", t0.Add(2*time.Minute+time.Second)) {
		t.Error("a full set swept again within the minute")
	}
}
