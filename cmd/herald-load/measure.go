package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// measure runs the phases of one load run and fills a report; failures end
// up in the report (OK false, FirstError), never as a panic or a hang: the
// whole run is bounded by cfg.timeout (+ cfg.hold).
func measure(parent context.Context, cfg *config, logw io.Writer) *report {
	ctx, cancel := context.WithTimeout(parent, cfg.timeout+cfg.hold)
	defer cancel()
	rep := &report{
		Label: cfg.label, Target: cfg.target.String(), Mode: "trigger",
		Pages: cfg.pages, Codes: cfg.codes, Register: cfg.register,
		Triggers: cfg.triggers, Concurrency: cfg.concurrency, Rate: cfg.rate, Warmup: cfg.warmup,
	}
	if cfg.hold > 0 {
		rep.Mode = "hold"
	}
	fail := func(err error) {
		if rep.FirstError == "" && err != nil {
			rep.FirstError = err.Error()
		}
	}
	rep.RSSBeforeKB = rss(cfg.pid, fail)
	rep.LoadAvg = loadAvg()

	r := newRunner(cfg, logw)
	pagesCtx, stopPages := context.WithCancel(ctx)
	defer r.stop(stopPages)
	t0 := time.Now()
	fail(r.connect(pagesCtx))
	rep.Reader = r.readerUsed
	rep.ConnectS = seconds(time.Since(t0))
	_, err := r.probe(ctx, 1)
	fail(err)
	rep.RegisterS = seconds(time.Since(t0))
	rep.Connected = r.probed(1)
	fmt.Fprintf(logw, "herald-load: %d of %d pages registered in %.2fs\n", rep.Connected, cfg.pages, rep.RegisterS)
	rep.RSSAfterKB = rss(cfg.pid, fail)

	if cfg.hold > 0 {
		hold(ctx, cfg, r, rep, fail)
	} else if rep.Connected == cfg.pages {
		trigger(ctx, cfg, r, rep, fail)
	} else {
		fail(fmt.Errorf("only %d of %d pages registered; not triggering", rep.Connected, cfg.pages))
	}
	if rep.RSSAfterKB > 0 && rep.RSSBeforeKB > 0 {
		rep.RSSPerPageKB = round1(float64(rep.RSSAfterKB-rep.RSSBeforeKB) / float64(cfg.pages))
	}

	r.stop(stopPages)
	var lat []int64
	var last int64
	for _, p := range r.pages {
		lat = append(lat, p.lat...)
		last = max(last, p.lastRecv)
		if p.err != nil && rep.FirstError == "" {
			rep.FirstError = "page " + p.code + ": " + p.err.Error()
		}
		if p.dialFailed {
			rep.DialErrors++
		}
	}
	rep.LatP50Ms, rep.LatP99Ms, rep.LatMaxMs = latencies(lat)
	if rep.Mode == "trigger" && last > 0 {
		rep.DeliveriesPerS = round1(float64(rep.Delivered) / seconds(time.Unix(0, last).Sub(r.triggerStart)))
	}
	rep.LoaderCPUS = seconds(selfCPU())
	if rep.Mode == "trigger" {
		rep.OK = rep.Connected == cfg.pages && rep.Delivered == rep.Expected && rep.TriggerErrors == 0
	} else {
		rep.OK = rep.AliveAfterHold == cfg.pages && rep.ProbedAfterHold == cfg.pages
	}
	return rep
}

// trigger is the trigger phase: fire, then wait for the deliveries.
func trigger(ctx context.Context, cfg *config, r *runner, rep *report, fail func(error)) {
	if cfg.warmup > 0 {
		// Pages ignore this event; the server does all the work of a trigger,
		// which warms Node's JIT and Go's heap before the measured run.
		w := r.fire(ctx, warmupEvent, cfg.warmup)
		if w.errors > 0 {
			fail(fmt.Errorf("warmup: %s", w.firstErr))
		}
		fmt.Fprintf(r.log, "herald-load: %d warmup triggers in %.2fs\n", cfg.warmup, seconds(w.end.Sub(w.start)))
	}
	cpu0, _ := readCPU(cfg.pid)
	self0 := selfCPU()
	r.triggerStart = time.Now()
	st := r.fire(ctx, cfg.event, cfg.triggers)
	rep.TriggersOK, rep.TriggerErrors = st.ok, st.errors
	rep.TriggersPerS = round1(float64(st.ok+st.errors) / seconds(st.end.Sub(st.start)))
	rep.HTTPP50Ms, rep.HTTPP99Ms, _ = latencies(st.httpLat)
	rep.Expected = st.expected
	if st.firstErr != "" {
		fail(fmt.Errorf("trigger: %s", st.firstErr))
	}
	rep.Delivered = r.drain(ctx, st.expected, cfg.drain)
	rep.LoaderTriggerCPUS = seconds(selfCPU() - self0)
	if cpu1, err := readCPU(cfg.pid); err == nil && cfg.pid > 0 {
		rep.ServerCPUS = seconds(cpu1 - cpu0)
	}
	if rep.Delivered != rep.Expected {
		fail(fmt.Errorf("delivered %d, expected %d", rep.Delivered, rep.Expected))
	}
}

// hold keeps the registered pages idle for cfg.hold, then checks they are
// all still connected and still reachable by a trigger.
func hold(ctx context.Context, cfg *config, r *runner, rep *report, fail func(error)) {
	fmt.Fprintf(r.log, "herald-load: holding %d pages for %s\n", cfg.pages, cfg.hold)
	select {
	case <-time.After(cfg.hold):
	case <-ctx.Done():
		fail(fmt.Errorf("hold: %w", ctx.Err()))
	}
	rep.HoldS = seconds(cfg.hold)
	rep.AliveAfterHold = r.alive()
	rep.RSSAfterKB = rss(cfg.pid, fail)
	probed, err := r.probe(ctx, 2)
	fail(err)
	rep.ProbedAfterHold = probed
}

// drain waits until want deliveries arrived, or none arrived for idle, or
// ctx ends, and returns the count.
func (r *runner) drain(ctx context.Context, want int64, idle time.Duration) int64 {
	last, lastChange := r.delivered(), time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		n := r.delivered()
		switch {
		case n >= want:
			return n
		case n != last:
			last, lastChange = n, time.Now()
		case time.Since(lastChange) > idle:
			return n
		}
		select {
		case <-ctx.Done():
			return r.delivered()
		case <-tick.C:
		}
	}
}

func rss(pid int, fail func(error)) int64 {
	if pid <= 0 {
		return 0
	}
	kb, err := readRSS(pid)
	fail(err)
	return kb
}

func seconds(d time.Duration) float64 { return round3(d.Seconds()) }
func round1(f float64) float64        { return float64(int64(f*10+0.5)) / 10 }
func round3(f float64) float64        { return float64(int64(f*1000+0.5)) / 1000 }
