package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// config is one load run, straight from the command line.
type config struct {
	target      *url.URL   // http://127.0.0.1:PORT, loopback only: the first of targets
	targets     []*url.URL // every node of a cluster (-url A,B,C)
	anyCount    bool       // do not check /notify's count (cluster servers whose count is local)
	label       string
	pages       int
	codes       int
	codePrefix  string
	register    string // "event" or "handshake"
	reader      string // "auto", "uring" or "goroutines"
	triggers    int
	concurrency int
	rate        float64 // triggers/s; 0 = as fast as concurrency allows
	event       string
	timeout     time.Duration
	drain       time.Duration
	hold        time.Duration
	pid         int
	dialers     int
	out         string
	cpuprofile  string
	warmup      int
}

const usageHead = `herald-load: load generator for herald and the Node reference server.

It connects N pages as raw Engine.IO v4 websocket clients, registers them over
K codes (page i gets code PREFIX<i%%K>), confirms every page is registered with
one probe trigger per code, then fires T triggers at GET /notify and measures
deliveries and trigger-to-page latency. With -hold it only connects and holds
the pages idle. It prints a table and one JSON line, and exits 1 if any page
missed a delivery (delivered != expected), 2 on usage errors. Loopback only.

Examples:
  herald-load -url http://127.0.0.1:8080 -pages 1000 -codes 10 -triggers 1000 -concurrency 8
  herald-load -url http://127.0.0.1:8080 -pages 1000 -codes 10 -triggers 5000 -rate 1000 -concurrency 64
  herald-load -url http://127.0.0.1:8080 -pages 10000 -codes 100 -hold 60s -pid $(pgrep -n herald)

Flags:
`

// parseFlags parses args into a config; the error is already printed to
// stderr (flag.ContinueOnError) except for semantic checks, which it returns.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("herald-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usageHead)
		fs.PrintDefaults()
	}
	var c config
	target := fs.String("url", "http://127.0.0.1:8080", "server base `URL`; must be a loopback address. A comma list (the nodes of a cluster) spreads pages over the nodes (page i on node i%n) and sends trigger j to node j%n")
	fs.BoolVar(&c.anyCount, "any-count", false, "accept any count in /notify's answer (a cluster server that counts only its own pages)")
	fs.StringVar(&c.label, "label", "", "free-form scenario name copied into the JSON line")
	fs.IntVar(&c.pages, "pages", 1000, "number of pages (websocket clients), `N`")
	fs.IntVar(&c.codes, "codes", 10, "number of codes, `K`; page i registers code PREFIX<i%K>")
	fs.StringVar(&c.codePrefix, "code-prefix", "c", "code name prefix")
	fs.StringVar(&c.register, "register", "event", "how pages register: event (wait WELCOME, emit REGISTER) or handshake (CONNECT auth {\"code\":…})")
	fs.StringVar(&c.reader, "reader", "goroutines", "how the loader reads its pages' sockets: goroutines (one reader per page), uring (a loop per CPU collects every socket's bytes through io_uring; Linux; the lightest, but on cores shared with the server it costs a server that writes one page at a time more: see BENCHMARKS.md), or auto (uring where the kernel allows it)")
	fs.IntVar(&c.triggers, "triggers", 1000, "number of triggers, `T`; trigger j targets code j%K")
	fs.IntVar(&c.concurrency, "concurrency", 8, "triggers in flight at most, `C` (also the keep-alive pool size)")
	fs.Float64Var(&c.rate, "rate", 0, "offer triggers at a fixed `R` per second (0: as fast as -concurrency allows)")
	fs.StringVar(&c.event, "event", "LOAD", "event name sent with each trigger (upper case, no spaces)")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "bound on the whole run (plus -hold when holding)")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "after the last trigger, give up waiting for deliveries after this long without progress")
	fs.DurationVar(&c.hold, "hold", 0, "connect and register the pages, then hold them idle this long instead of triggering")
	fs.IntVar(&c.pid, "pid", 0, "server `PID`: report its RSS (VmRSS) per connected page")
	fs.IntVar(&c.dialers, "dialers", 64, "websocket handshakes in flight while connecting")
	fs.StringVar(&c.out, "out", "", "also append the JSON line to this `file`")
	fs.IntVar(&c.warmup, "warmup", 0, "send `W` unmeasured triggers (event "+warmupEvent+", ignored by pages) before the measured ones")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write herald-load's own CPU profile to `file` (to keep the loader light)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, raw := range strings.Split(*target, ",") {
		u, err := loopbackURL(context.Background(), raw)
		if err != nil {
			return nil, err
		}
		c.targets = append(c.targets, u)
	}
	c.target = c.targets[0]
	return &c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	if c.pages < 1 {
		errs = append(errs, errors.New("-pages must be at least 1"))
	}
	if c.codes < 1 || c.codes > c.pages {
		errs = append(errs, errors.New("-codes must be between 1 and -pages"))
	}
	if c.register != "event" && c.register != "handshake" {
		errs = append(errs, fmt.Errorf("-register %q: want event or handshake", c.register))
	}
	switch {
	case c.reader == "uring" && !uringSupported:
		errs = append(errs, errors.New("-reader uring needs Linux; use -reader goroutines"))
	case c.reader != "auto" && c.reader != "goroutines" && c.reader != "uring":
		errs = append(errs, fmt.Errorf("-reader %q: want auto, uring or goroutines", c.reader))
	}
	if c.triggers < 0 || c.warmup < 0 || c.concurrency < 1 || c.dialers < 1 || c.rate < 0 {
		errs = append(errs, errors.New("-triggers, -warmup, -rate must be >= 0; -concurrency, -dialers >= 1"))
	}
	if c.event == "" || c.event == probeEvent || c.event == warmupEvent || url.QueryEscape(c.event) != c.event {
		errs = append(errs, fmt.Errorf("-event must be a plain name other than %s and %s", probeEvent, warmupEvent))
	}
	return errors.Join(errs...)
}

// loopbackURL parses raw as an http URL and refuses any host that is not a
// loopback address: load against other machines is forbidden here.
func loopbackURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want http://HOST:PORT", raw)
	}
	host := u.Hostname()
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("-url: resolve %q: %w", host, err)
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("-url: %q has no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("-url %q: %s is not a loopback address; herald-load only loads this machine", raw, ip)
		}
	}
	// Connect to the address we checked, not to whatever the name resolves
	// to later.
	port := u.Port()
	if port == "" {
		port = "80"
	}
	u.Host = net.JoinHostPort(ips[0].String(), port)
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}
