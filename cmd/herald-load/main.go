// Command herald-load is the load generator of herald's benchmarks: N pages
// as raw Engine.IO v4 websocket clients over K codes, T triggers over HTTP,
// and a report of throughput, trigger-to-page latency and the server's
// memory per page. It only ever loads loopback addresses.
//
// Run `herald-load -h` for the flags; bench/compare.sh runs the standard
// scenarios against herald and the Node reference server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a run that lost deliveries or pages
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald-load: %v\n", err)
		return exitUsage
	}
	if cfg.pid > 0 {
		if _, err := readRSS(cfg.pid); err != nil {
			fmt.Fprintf(stderr, "herald-load: -pid %d: %v\n", cfg.pid, err)
			return exitUsage
		}
	}
	cur, hard, err := raiseNoFile()
	if err != nil {
		fmt.Fprintf(stderr, "herald-load: %v\n", err)
	} else {
		fmt.Fprintf(stderr, "herald-load: RLIMIT_NOFILE soft limit set to %d (hard %d)\n", cur, hard)
	}
	if need := uint64(cfg.pages + cfg.concurrency + 64); err == nil && need > cur {
		fmt.Fprintf(stderr, "herald-load: warning: %d pages need about %d open files, limit is %d\n", cfg.pages, need, cur)
	}
	if cfg.cpuprofile != "" {
		stopProfile, err := startProfile(cfg.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "herald-load: %v\n", err)
			return exitUsage
		}
		defer stopProfile()
	}
	rep := measure(ctx, cfg, stderr)
	rep.writeTable(stdout)
	line := rep.jsonLine()
	stdout.Write(line)
	if cfg.out != "" {
		if err := appendFile(cfg.out, line); err != nil {
			fmt.Fprintf(stderr, "herald-load: %v\n", err)
			return exitFailure
		}
	}
	if !rep.OK {
		return exitFailure
	}
	return exitOK
}

func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func appendFile(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("write results: %w", err)
	}
	return f.Close()
}
