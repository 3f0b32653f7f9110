package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/router"
)

// BenchmarkClusterDelivery is one delivery through cluster mode as herald
// makes it: the router's Journaled (the journal's append, which also
// publishes and counts the room's pages, the broker's Publish, then the
// mark of pages reached, off the caller's path), with three nodes on one
// real redis-server, from one publisher and from 16 (compare.sh's E keeps
// 16 triggers in flight), waiting until every node's pages were handed
// every delivery and every mark was recorded.
//
// Reported, deterministic enough to compare across changes on a shared
// machine: the publishing node's round trips per delivery (append
// pipelines, the broker's own pipelines and mark pipelines) and Redis
// commands per delivery (INFO commandstats: calls, those run inside scripts
// included, and script calls alone), besides deliveries/s end to end.
func BenchmarkClusterDelivery(b *testing.B) {
	for _, publishers := range []int{1, 16} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
			srv := redistest.Start(b)
			// Every room has a page on every node, as in compare.sh's E.
			pages := map[string]int{}
			for i := range 30 {
				pages[fmt.Sprint("room", i)] = 1
			}
			var nodes []*clusterNode
			for i := range 3 {
				nodes = append(nodes, startNode(b, srv, fmt.Sprint("n", i), nodeOpts{journal: true, counts: true, exact: true, quiet: true,
					pages: pages}))
			}
			pub := nodes[0]
			x := router.NewJournaled(pub.b, pub.j, slog.New(slog.DiscardHandler))
			ctx := context.Background()
			// The rooms exist before measuring: creating one is a one-off.
			for i := range 30 {
				if _, err := x.Publish(ctx, delivery(fmt.Sprint("room", i), 0)); err != nil {
					b.Fatal(err)
				}
			}
			waitAll := func(total int64) {
				for _, n := range nodes {
					for int64(len(n.pages.all())) < total {
						time.Sleep(time.Millisecond)
					}
				}
			}
			waitAll(30)
			raw := srv.Client()
			defer raw.Close()
			if err := raw.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			bst, jst := pub.b.State(), pub.j.Trips()
			var seq atomic.Int64
			start := time.Now()
			b.ResetTimer()
			work := func() {
				i := seq.Add(1)
				if _, err := x.Publish(ctx, delivery(fmt.Sprint("room", i%30), int(i))); err != nil {
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
			waitAll(30 + total)
			for deadline := time.Now().Add(10 * time.Second); pub.j.Trips().Marks-jst.Marks < uint64(total); {
				if time.Now().After(deadline) {
					b.Fatalf("%d marks recorded for %d deliveries", pub.j.Trips().Marks-jst.Marks, total)
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			elapsed := time.Since(start)
			bst2, jst2 := pub.b.State(), pub.j.Trips()
			defer x.Close(ctx)
			trips := (jst2.AppendTrips - jst.AppendTrips) + (jst2.MarkTrips - jst.MarkTrips) + (bst2.RoundTrips - bst.RoundTrips)
			n := float64(total)
			b.ReportMetric(float64(trips)/n, "roundtrips/delivery")
			b.ReportMetric(float64(jst2.AppendTrips-jst.AppendTrips)/n, "append-trips/delivery")
			b.ReportMetric(float64(jst2.MarkTrips-jst.MarkTrips)/n, "mark-trips/delivery")
			calls, scripts := commandCalls(b, raw.Info(ctx, "commandstats").Val())
			b.ReportMetric(float64(calls)/n, "redis-cmds/delivery")
			b.ReportMetric(float64(scripts)/n, "scripts/delivery")
			b.ReportMetric(n/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// commandCalls sums the calls in an INFO commandstats answer, all and
// script calls (EVAL, EVALSHA) alone; PING, INFO and CONFIG are left out.
func commandCalls(b *testing.B, info string) (all, scripts int) {
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if name == "ping" || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		field, _, _ := strings.Cut(rest, ",")
		n, err := strconv.Atoi(strings.TrimPrefix(field, "calls="))
		if err != nil {
			b.Fatalf("commandstats line %q: %v", line, err)
		}
		all += n
		if name == "eval" || name == "evalsha" {
			scripts += n
		}
	}
	return all, scripts
}
