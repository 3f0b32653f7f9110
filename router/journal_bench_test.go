package router_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/journal/bolt"
	"github.com/heraldhq/herald/router"
)

type nullBroker struct{}

func (nullBroker) Publish(context.Context, herald.Delivery) (int, error) { return 1, nil }
func (nullBroker) Subscribe(broker.Subscriber)                           {}
func (nullBroker) Close(context.Context) error                           { return nil }

// BenchmarkJournaledPublish is the journal's cost on the delivery path:
// durable appends (bbolt, fsync'd group commits) then the broker, from 64
// concurrent senders, to one room (every delivery waits its turn in the
// room's offset order) and to 100 rooms.
func BenchmarkJournaledPublish(b *testing.B) {
	for _, rooms := range []int{1, 100} {
		b.Run(fmt.Sprintf("rooms-%d", rooms), func(b *testing.B) {
			s, err := bolt.Open(b.TempDir(), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			x := router.NewJournaled(nullBroker{}, s, nil)
			defer x.Close(context.Background())
			var n atomic.Int64
			c0, o0 := s.BatchStats()
			start := time.Now()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					d := alert(fmt.Sprint("room-", int(i)%rooms), fmt.Sprint(i))
					if _, err := x.Publish(context.Background(), d); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
			if c1, o1 := s.BatchStats(); c1 > c0 {
				b.ReportMetric(float64(o1-o0)/float64(c1-c0), "ops/commit")
			}
		})
	}
}
