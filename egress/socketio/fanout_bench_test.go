package socketio

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// BenchmarkDeliverFanout measures one delivery to a room of N WebSocket
// pages, end to end: the clock runs until every page has received every
// delivery, so queued but unsent work is not counted as done. "plain"
// writes each page with its own system call (--io-uring=false); the
// others use io_uring where the kernel allows it.
func BenchmarkDeliverFanout(b *testing.B) {
	for _, bc := range []struct {
		pages int
		plain bool
	}{{1, false}, {10, false}, {100, false}, {100, true}} {
		name := fmt.Sprintf("pages=%d", bc.pages)
		if bc.plain {
			name += "/plain"
		}
		pages := bc.pages
		b.Run(name, func(b *testing.B) {
			s := New(Options{PlainWrites: bc.plain})
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", s.Handler())
			srv := httptest.NewServer(mux)
			b.Cleanup(srv.Close)
			b.Cleanup(func() { _ = s.Close(b.Context()) })
			var got atomic.Int64
			for range pages {
				dialRaw(b, srv.URL, "bench", &got)
			}
			d := herald.Delivery{
				EventID: "0123456789abcdef0123456789abcdef", Source: "twitch", Room: "bench", Name: "FOLLOW",
				Payload: map[string]any{"user_name": "ada", "user_id": "1234567", "text": "ada just followed!"},
				Time:    time.Now(),
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				n, err := s.Deliver(b.Context(), d)
				if err != nil || n != pages {
					b.Fatalf("Deliver = %d, %v; want %d", n, err, pages)
				}
			}
			want := int64(b.N * pages)
			deadline := time.Now().Add(time.Minute)
			for got.Load() < want {
				if time.Now().After(deadline) {
					b.Fatalf("pages received %d of %d deliveries", got.Load(), want)
				}
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "page-msgs/s")
		})
	}
}

// BenchmarkDeliverParallel is many ingress requests delivering to one room
// of 10 pages at once: it shows lock contention in the fan-out path.
func BenchmarkDeliverParallel(b *testing.B) {
	s := New(Options{})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.Handler())
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	b.Cleanup(func() { _ = s.Close(b.Context()) })
	var got atomic.Int64
	const pages = 10
	for range pages {
		dialRaw(b, srv.URL, "bench", &got)
	}
	d := herald.Delivery{EventID: "id", Source: "trigger", Room: "bench", Name: "FOLLOW", Payload: map[string]any{"text": "hi"}, Time: time.Now()}
	var sent atomic.Int64
	var once sync.Once
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if n, err := s.Deliver(b.Context(), d); err != nil || n != pages {
				once.Do(func() { b.Errorf("Deliver = %d, %v", n, err) })
			}
			sent.Add(pages)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for got.Load() < sent.Load() {
		if time.Now().After(deadline) {
			b.Fatalf("pages received %d of %d", got.Load(), sent.Load())
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// BenchmarkEncode is the per-delivery part of Deliver that does not depend
// on the room's size, for each transport.
func BenchmarkEncode(b *testing.B) {
	s := New(Options{})
	d := herald.Delivery{EventID: "id", Source: "trigger", Room: "r", Name: "FOLLOW", Payload: map[string]any{"text": "hi", "user": "ada"}, Time: time.Now()}
	b.Run("websocket-frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := outgoing{d: d}
			if _, err := e.native.frame(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library-packet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := outgoing{d: d}
			e.library.encode(&e, s.enc)
		}
	})
}
