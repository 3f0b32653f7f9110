package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runner owns the pages and the HTTP client of one load run.
type runner struct {
	cfg     *config
	log     io.Writer // progress lines
	client  *http.Client
	pages   []*page
	perCode []int    // pages registered per code index
	codes   []string // code names, already query-escaped
	settled atomic.Int64
	allSet  chan struct{} // closed when every page is ready or dead

	triggerStart time.Time // first trigger sent: start of the deliveries/s window
	readerUsed   string    // "uring" or "goroutines", once connect chose
	wg           sync.WaitGroup
}

func newRunner(cfg *config, log io.Writer) *runner {
	r := &runner{
		cfg:     cfg,
		log:     log,
		client:  newHTTPClient(cfg.concurrency),
		pages:   make([]*page, cfg.pages),
		perCode: make([]int, cfg.codes),
		codes:   make([]string, cfg.codes),
		allSet:  make(chan struct{}),
	}
	for k := range r.codes {
		r.codes[k] = url.QueryEscape(cfg.codePrefix + strconv.Itoa(k))
	}
	for i := range r.pages {
		k := i % cfg.codes
		r.pages[i] = newPage(cfg.codePrefix+strconv.Itoa(k), cfg.register)
		r.perCode[k]++
	}
	return r
}

// newHTTPClient keeps exactly as many keep-alive connections as triggers in
// flight, so the measured path never pays for a TCP handshake.
func newHTTPClient(conc int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only
			MaxIdleConns:        conc + 4,
			MaxIdleConnsPerHost: conc + 4,
			MaxConnsPerHost:     0,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// reader returns how pages read their sockets, as cfg.reader asks, and
// records the choice in r.readerUsed.
func (r *runner) reader(ctx context.Context) (func(context.Context, net.Conn, []byte, *link) error, error) {
	if r.cfg.reader == "goroutines" || !uringSupported {
		r.readerUsed = "goroutines"
		return readConn, nil
	}
	ur, err := newUringReader(ctx, runtime.GOMAXPROCS(0), defaultRxBuffers, &r.wg)
	if err != nil {
		if r.cfg.reader == "uring" {
			return nil, err
		}
		// A kernel or sandbox that refuses io_uring (Docker's default
		// seccomp profile, kernel.io_uring_disabled) still gets a run,
		// with a heavier loader: say so, since it moves the figures.
		fmt.Fprintf(r.log, "herald-load: -reader auto: %v; each page reads its own socket\n", err)
		r.readerUsed = "goroutines"
		return readConn, nil
	}
	r.readerUsed = "uring"
	return ur.read, nil
}

// connect starts every page and waits until each is ready or dead.
func (r *runner) connect(ctx context.Context) error {
	var wsURLs []string
	for _, t := range r.cfg.targets {
		u := *t
		u.Scheme = "ws"
		u.Path = "/socket.io/"
		u.RawQuery = "EIO=4&transport=websocket"
		wsURLs = append(wsURLs, u.String())
	}
	read, err := r.reader(ctx)
	if err != nil {
		return err
	}
	env := &pageEnv{
		wsURL:    wsURLs[0],
		read:     read,
		dialSem:  make(chan struct{}, r.cfg.dialers),
		event:    []byte(r.cfg.event),
		register: r.cfg.register,
		settled: func() {
			if r.settled.Add(1) == int64(len(r.pages)) {
				close(r.allSet)
			}
		},
	}
	for i, p := range r.pages {
		p.wsURL = wsURLs[i%len(wsURLs)] // pages spread over the nodes
		r.wg.Go(func() { p.run(ctx, env) })
	}
	select {
	case <-r.allSet:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("connecting: %d of %d pages settled: %w", r.settled.Load(), len(r.pages), ctx.Err())
	}
}

// alive counts pages that are connected and ready now.
func (r *runner) alive() int {
	n := 0
	for _, p := range r.pages {
		if p.state.Load() == stateReady {
			n++
		}
	}
	return n
}

// delivered sums the load deliveries seen so far.
func (r *runner) delivered() int64 {
	var n int64
	for _, p := range r.pages {
		n += p.count.Load()
	}
	return n
}

// probe sends probe generation gen to every code that still has a live
// page which has not seen it, until all live pages have, or ctx ends. It
// proves registration on the server side (REGISTER has no ack) and returns
// how many live pages saw the probe.
func (r *runner) probe(ctx context.Context, gen int64) (int, error) {
	for round := 0; ; round++ {
		pending := r.unprobed(gen)
		if len(pending) == 0 {
			break
		}
		for _, k := range pending {
			target := r.cfg.target.String() + "/notify?code=" + r.codes[k] +
				"&event=" + probeEvent + "&g=" + strconv.FormatInt(gen, 10)
			if _, err := r.get(ctx, target); err != nil {
				return r.probed(gen), fmt.Errorf("probe: %w", err)
			}
		}
		// Wait for the round to land before sending another.
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) && len(r.unprobed(gen)) > 0 {
			select {
			case <-ctx.Done():
				return r.probed(gen), fmt.Errorf("probe: %w", ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
		if round > 0 && round%10 == 0 {
			fmt.Fprintf(r.log, "probe round %d: %d of %d live pages registered\n", round, r.probed(gen), r.alive())
		}
	}
	return r.probed(gen), nil
}

// unprobed lists the code indexes with a live page that has not seen gen.
func (r *runner) unprobed(gen int64) []int {
	need := make([]bool, len(r.codes))
	var ks []int
	for i, p := range r.pages {
		k := i % len(r.codes)
		if !need[k] && p.state.Load() == stateReady && p.probeGen.Load() < gen {
			need[k] = true
			ks = append(ks, k)
		}
	}
	return ks
}

func (r *runner) probed(gen int64) int {
	n := 0
	for _, p := range r.pages {
		if p.state.Load() == stateReady && p.probeGen.Load() >= gen {
			n++
		}
	}
	return n
}

// stop closes every page and waits for their goroutines, after which the
// pages' own fields may be read.
func (r *runner) stop(cancel context.CancelFunc) {
	cancel()
	r.wg.Wait()
}

// get performs one trigger request and returns the count the server
// reported.
func (r *runner) get(ctx context.Context, target string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %s: %.200s", resp.Status, body)
	}
	return parseCount(body)
}
