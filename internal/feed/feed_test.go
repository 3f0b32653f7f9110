package feed

import (
	"slices"
	"sync"
	"testing"
)

func TestRecentKeepsTheLastItemsInOrder(t *testing.T) {
	tests := []struct {
		name string
		size int
		add  int
		want []int
	}{
		{name: "empty", size: 3, add: 0, want: []int{}},
		{name: "partly filled", size: 3, add: 2, want: []int{0, 1}},
		{name: "exactly full", size: 3, add: 3, want: []int{0, 1, 2}},
		{name: "wrapped", size: 3, add: 7, want: []int{4, 5, 6}},
		{name: "size 0 keeps one", size: 0, add: 2, want: []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New[int](tc.size)
			for i := range tc.add {
				f.Add(i)
			}
			if got := f.Recent(); !slices.Equal(got, tc.want) {
				t.Errorf("Recent() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSubscriberGetsHistoryThenEveryNewItem(t *testing.T) {
	f := New[int](10)
	f.Add(1)
	f.Add(2)
	s, hist := f.Subscribe(8)
	defer s.Close()
	if !slices.Equal(hist, []int{1, 2}) {
		t.Fatalf("history = %v, want [1 2]", hist)
	}
	f.Add(3)
	f.Update(func(v *int) bool { return *v == 2 }, func(v *int) { *v = 20 })
	if got := []int{<-s.C(), <-s.C()}; !slices.Equal(got, []int{3, 20}) {
		t.Errorf("received %v, want [3 20]", got)
	}
	if got := f.Recent(); !slices.Equal(got, []int{1, 20, 3}) {
		t.Errorf("Recent() after Update = %v, want [1 20 3]", got)
	}
	if f.Update(func(v *int) bool { return *v == 99 }, func(*int) {}) {
		t.Error("Update of a missing item reported a match")
	}
}

func TestStuckSubscriberMissesItemsAndNeverBlocks(t *testing.T) {
	f := New[int](4)
	stuck, _ := f.Subscribe(2)
	defer stuck.Close()
	live, _ := f.Subscribe(100)
	defer live.Close()
	for i := range 50 {
		f.Add(i) // would deadlock here if Add waited for the stuck one
	}
	if got := stuck.Dropped(); got != 48 {
		t.Errorf("stuck subscriber dropped %d, want 48", got)
	}
	if got := live.Dropped(); got != 0 {
		t.Errorf("live subscriber dropped %d, want 0", got)
	}
	if got := len(live.C()); got != 50 {
		t.Errorf("live subscriber holds %d items, want 50", got)
	}
}

func TestCloseDetaches(t *testing.T) {
	f := New[int](4)
	s, _ := f.Subscribe(4)
	if f.Subscribers() != 1 {
		t.Fatalf("Subscribers() = %d, want 1", f.Subscribers())
	}
	s.Close()
	s.Close() // twice is harmless
	f.Add(1)
	if f.Subscribers() != 0 || len(s.C()) != 0 {
		t.Errorf("after Close: %d subscribers, %d items queued; want 0, 0", f.Subscribers(), len(s.C()))
	}
}

func TestConcurrentAddSubscribeClose(t *testing.T) {
	f := New[int](16)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				f.Add(i)
			}
		})
		wg.Go(func() {
			for range 100 {
				s, _ := f.Subscribe(1)
				f.Update(func(v *int) bool { return *v%2 == 0 }, func(v *int) { *v++ })
				s.Close()
			}
		})
	}
	wg.Wait()
	if f.Subscribers() != 0 {
		t.Errorf("Subscribers() = %d after every Close, want 0", f.Subscribers())
	}
}

func BenchmarkAdd(b *testing.B) {
	type item struct {
		a, b string
		n    [4]int
	}
	for _, tc := range []struct {
		name  string
		subs  int
		stuck bool
	}{
		{name: "no subscribers"},
		{name: "1 stuck subscriber", subs: 1, stuck: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := New[item](500)
			for range tc.subs {
				s, _ := f.Subscribe(1)
				defer s.Close()
			}
			b.ReportAllocs()
			for b.Loop() {
				f.Add(item{a: "x", b: "y"})
			}
		})
	}
}
