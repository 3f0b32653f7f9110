package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// triggerStats is the outcome of the trigger phase, merged from workers.
type triggerStats struct {
	ok       int     // 200 with the expected count
	errors   int     // transport error, non-200, or count mismatch
	expected int64   // deliveries owed: pages in the code of every trigger
	httpLat  []int64 // request round trips, ns
	start    time.Time
	end      time.Time // last response
	firstErr string
}

// fire sends n triggers of event, trigger j to code j%K, with at most
// cfg.concurrency in flight; paced at cfg.rate per second when set.
func (r *runner) fire(ctx context.Context, event string, n int) *triggerStats {
	st := &triggerStats{start: time.Now()}
	for j := range n {
		st.expected += int64(r.perCode[j%len(r.codes)])
	}
	take := unpaced(n)
	if r.cfg.rate > 0 {
		take = paced(ctx, st.start, n, r.cfg.rate)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range r.cfg.concurrency {
		wg.Go(func() {
			w := r.work(ctx, event, take)
			mu.Lock()
			defer mu.Unlock()
			st.merge(w)
		})
	}
	wg.Wait()
	st.end = time.Now()
	return st
}

// unpaced hands out trigger numbers as fast as workers ask.
func unpaced(n int) func() (int, bool) {
	var next atomic.Int64
	return func() (int, bool) {
		j := int(next.Add(1) - 1)
		return j, j < n
	}
}

// paced releases trigger j at start + j/rate; a late worker pool shows up as
// a lower achieved triggers/s, not as hidden queueing (each trigger's t is
// stamped when it is really sent).
func paced(ctx context.Context, start time.Time, n int, rate float64) func() (int, bool) {
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for j := range n {
			due := start.Add(time.Duration(float64(j) * float64(time.Second) / rate))
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() (int, bool) {
		j, ok := <-jobs
		return j, ok
	}
}

// work is one in-flight slot: it keeps its own stats to avoid sharing.
func (r *runner) work(ctx context.Context, event string, take func() (int, bool)) *triggerStats {
	w := &triggerStats{}
	bases := make([]string, len(r.cfg.targets))
	for i, t := range r.cfg.targets {
		bases[i] = t.String() + "/notify?event=" + event + "&code="
	}
	buf := make([]byte, 0, 256)
	for {
		j, ok := take()
		if !ok || ctx.Err() != nil {
			return w
		}
		k := j % len(r.codes)
		buf = append(buf[:0], bases[j%len(bases)]...) // round-robin over the nodes
		buf = append(buf, r.codes[k]...)
		buf = append(buf, "&seq="...)
		buf = strconv.AppendInt(buf, int64(j), 10)
		buf = append(buf, "&t="...)
		sent := time.Now()
		buf = strconv.AppendInt(buf, sent.UnixNano(), 10)
		n, err := r.get(ctx, string(buf))
		w.httpLat = append(w.httpLat, int64(time.Since(sent)))
		if err == nil && n != r.perCode[k] && !r.cfg.anyCount {
			err = fmt.Errorf("trigger %d: server counted %d pages, %d are registered", j, n, r.perCode[k])
		}
		if err != nil {
			w.errors++
			if w.firstErr == "" {
				w.firstErr = err.Error()
			}
			continue
		}
		w.ok++
	}
}

func (st *triggerStats) merge(w *triggerStats) {
	st.ok += w.ok
	st.errors += w.errors
	st.httpLat = append(st.httpLat, w.httpLat...)
	if st.firstErr == "" {
		st.firstErr = w.firstErr
	}
}

// parseCount reads the pages count from a /notify answer,
// {"success":1,"count":N,"msg":"Broadcast event to N clients"}.
func parseCount(body []byte) (int, error) {
	var ans struct {
		Success *int `json:"success"`
		Count   *int `json:"count"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, fmt.Errorf("notify answer %.200q: %w", body, err)
	}
	if ans.Success == nil || *ans.Success != 1 || ans.Count == nil {
		return 0, errors.New("notify answer without success 1 and a count: " + strconv.Quote(string(body)))
	}
	return *ans.Count, nil
}
