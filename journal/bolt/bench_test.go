package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/journal/bolt"
)

// BenchmarkFsync is the floor under every durable append: one small write
// and fsync of a file in the same kind of directory the journal uses.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for b.Loop() {
		if _, err := f.WriteAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend measures durable appends (fsync'd group commits) of a
// typical alert: serially (each append pays a whole commit) and from many
// goroutines at once (they share commits). It reports appends/s and the
// mean number of operations per commit.
func BenchmarkAppend(b *testing.B) {
	payload := strings.Repeat("x", 150) // a donor name and a short message
	report := func(b *testing.B, s *bolt.Store, start time.Time, c0, o0 uint64) {
		c1, o1 := s.BatchStats()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		if c1 > c0 {
			b.ReportMetric(float64(o1-o0)/float64(c1-c0), "ops/commit")
		}
	}
	b.Run("serial", func(b *testing.B) {
		s := open(b, b.TempDir())
		defer s.Close()
		ctx := context.Background()
		c0, o0 := s.BatchStats()
		start := time.Now()
		i := 0
		for b.Loop() {
			if _, err := s.Append(ctx, delivery(fmt.Sprint("room-", i%10), "e", payload)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		report(b, s, start, c0, o0)
	})
	for _, par := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("parallel-%dxGOMAXPROCS", par), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer s.Close()
			ctx := context.Background()
			var n atomic.Int64
			c0, o0 := s.BatchStats()
			start := time.Now()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := s.Append(ctx, delivery(fmt.Sprint("room-", i%10), "e", payload)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b, s, start, c0, o0)
		})
	}
}

// BenchmarkPending is what a page registering costs the journal: finding
// the alerts of its room that reached no page, in a room whose last 200
// alerts (the default retention) all reached one, save every twentieth.
// After a restart every page of a busy room pays it once.
func BenchmarkPending(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	payload := strings.Repeat("x", 150)
	for i := range 200 {
		e, err := s.Append(ctx, delivery("room", fmt.Sprint("e", i), payload))
		if err != nil {
			b.Fatal(err)
		}
		if i%20 != 0 {
			if err := s.Mark(ctx, "room", e.Offset, 1, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		got, err := s.Pending(ctx, "room", time.Time{})
		if err != nil || len(got) != 10 {
			b.Fatalf("Pending = %d entries, %v; want 10", len(got), err)
		}
	}
}
