package redis

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/journal"
)

// statsEvery is how many epoch checks pass between two stats scans: the
// scan walks the keyspace, the epoch check is one GET.
const statsEvery = 10

// background checks the epoch key every interval (so Epoch moves soon
// after Redis lost its data, even on a node that does not append) and
// refreshes the stats every statsEvery checks, until ctx ends.
func (s *Store) background(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		if n%statsEvery == 0 {
			s.refreshStats(ctx, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, max(interval, 2*time.Second))
		_, err := s.refreshEpoch(cctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.fail(err)
		} else if err == nil {
			s.ok()
		}
	}
}

// scan is one stats scan and when it ran.
type scan struct {
	At time.Time
	journal.Stats
}

func (s *Store) refreshStats(ctx context.Context, interval time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max(10*interval, 5*time.Second))
	defer cancel()
	s.dirty.Store(false)
	var rooms, entries, bytes atomic.Int64
	err := eachServer(ctx, s.c, func(ctx context.Context, c goredis.Cmdable) error {
		iter := c.ScanType(ctx, 0, s.prefix+"{r:*}:l", 1000, "stream").Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		rooms.Add(int64(len(keys)))
		pipe := c.Pipeline()
		lens := make([]*goredis.IntCmd, len(keys))
		for i, k := range keys {
			lens[i] = pipe.XLen(ctx, k)
		}
		mem := pipe.Info(ctx, "memory")
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for _, l := range lens {
			entries.Add(l.Val())
		}
		bytes.Add(usedMemory(mem.Val()))
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.fail(err)
		}
		return
	}
	s.stats.Store(&scan{At: time.Now(), Stats: journal.Stats{Store: "redis", Rooms: int(rooms.Load()),
		Entries: int(entries.Load()), Bytes: bytes.Load()}})
}

// eachServer runs fn on every master of a cluster, or on the one server.
func eachServer(ctx context.Context, c goredis.UniversalClient, fn func(context.Context, goredis.Cmdable) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error { return fn(ctx, m) })
	}
	return fn(ctx, c)
}

// usedMemory reads used_memory out of INFO memory.
func usedMemory(info string) int64 {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "used_memory:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// Stats reports rooms, entries and the Redis memory in use (the whole
// server's: herald's share is not measurable cheaply) with the live epoch
// and failure counters. The counts come from a scan of herald's keys
// (bounded to a few seconds), run again when this node wrote since the
// last one or the last one is older than CheckInterval; concurrent calls
// share one scan.
func (s *Store) Stats() journal.Stats {
	if !s.closed.Load() && (s.dirty.Load() || time.Since(s.stats.Load().At) >= s.interval) {
		s.scanMu.Lock()
		if s.dirty.Load() || time.Since(s.stats.Load().At) >= s.interval {
			s.refreshStats(context.Background(), s.interval)
		}
		s.scanMu.Unlock()
	}
	st := s.stats.Load().Stats
	st.Epoch = s.Epoch()
	st.AppendErrors = s.appendErrors.Load()
	if e := s.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Trips counts the pipelines the store sent for appends and for marks,
// and the calls they carried: under load many share one round trip.
type Trips struct {
	Appends, AppendTrips uint64
	Marks, MarkTrips     uint64
}

// Trips reports the round trips of the append and mark paths so far
// (reads, sessions and the background check are not counted).
func (s *Store) Trips() Trips {
	return Trips{Appends: s.appends.sentN.Load(), AppendTrips: s.appends.trips.Load(),
		Marks: s.marks.sentN.Load(), MarkTrips: s.marks.trips.Load()}
}
