package redis_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/redistest"
)

// BenchmarkClusterDelivery is one delivery through cluster mode as the
// router makes it (the journal's append, which also publishes, then the
// broker's count), with three nodes on one real redis-server, from one
// publisher and from 64, waiting until every node's pages were handed
// every delivery. Reported: Redis round trips per delivery made by the
// publishing node (one per append; the count round trips are shared by
// concurrent deliveries) and deliveries/s end to end.
func BenchmarkClusterDelivery(b *testing.B) {
	for _, publishers := range []int{1, 64} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
			srv := redistest.Start(b)
			var nodes []*clusterNode
			for i := range 3 {
				nodes = append(nodes, startNode(b, srv, fmt.Sprint("n", i), nodeOpts{journal: true, quiet: true,
					pages: map[string]int{"room0": 1}}))
			}
			pub := nodes[0]
			before := pub.b.State()
			var seq atomic.Int64
			ctx := context.Background()
			start := time.Now()
			b.ResetTimer()
			work := func() {
				i := seq.Add(1)
				if _, err := pub.publish(ctx, delivery(fmt.Sprint("room", i%30), int(i))); err != nil {
					b.Error(err)
				}
			}
			if publishers == 1 {
				for b.Loop() {
					work()
				}
			} else {
				b.SetParallelism(publishers)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						work()
					}
				})
			}
			total := seq.Load()
			for _, n := range nodes {
				for int64(len(n.pages.all())) < total {
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			trips := float64(total) + float64(pub.b.State().RoundTrips-before.RoundTrips)
			b.ReportMetric(trips/float64(total), "roundtrips/delivery")
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
