package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/journal/recovery"
)

// defaultEgress is what --egress names when it is not given: the Socket.IO
// pages of the original service.
const defaultEgress = "socketio"

// fixedPaths are served by the fixed mux whatever the sinks; with each
// sink's mount path they are the paths a rules file cannot take.
var fixedPaths = []string{"/notify", "/heartbeat", "/clients", "/sources/", "/api/", "/metrics", "/admin/"}

// reservedNames are ingress instance names herald uses itself: "trigger" is
// the Source of the built-in /notify.
var reservedNames = []string{"trigger"}

// sinks are the configured egress plugins, in --egress order.
type sinks []egress.Sink

// buildSinks builds every sink --egress names from the registry. Factories
// start nothing, so this is also how `herald check` learns their paths.
func buildSinks(names string, cfg config, log *slog.Logger, keeper *recovery.Keeper) (sinks, error) {
	var out sinks
	seen := map[string]bool{}
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		factory, err := egress.Default.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--egress: %w", err)
		}
		// Origins are vetted in front of the sinks (guard.go), so a sink may
		// answer every request that reaches it, reflecting the page's origin.
		s, err := factory(egress.Params{Log: log.With("egress", name), CORSOrigin: "", MaxBody: cfg.maxBody, Recovery: keeper, PlainWrites: !cfg.ioURing})
		if err != nil {
			return nil, fmt.Errorf("egress %s: %w", name, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("--egress names no sink")
	}
	return out, nil
}

// mounts are the sinks pages connect to over HTTP.
func (ss sinks) mounts() []egress.Mounter {
	var out []egress.Mounter
	for _, s := range ss {
		if m, ok := s.(egress.Mounter); ok {
			out = append(out, m)
		}
	}
	return out
}

// reserved is every path a declared ingress may not take.
func (ss sinks) reserved() []string {
	out := append([]string(nil), fixedPaths...)
	for _, m := range ss.mounts() {
		out = append(out, m.Path())
	}
	return out
}

// mounted reports whether path belongs to a sink, which answers CORS for
// it itself.
func (ss sinks) mounted(path string) bool {
	for _, m := range ss.mounts() {
		if strings.HasPrefix(path, m.Path()) {
			return true
		}
	}
	return false
}

// Clients lists the pages of every sink that knows them: sinks together
// are an egress.Lister for /clients, the dashboard and the metrics.
func (ss sinks) Clients() []egress.Client {
	var out []egress.Client
	for _, s := range ss {
		if l, ok := s.(egress.Lister); ok {
			out = append(out, l.Clients()...)
		}
	}
	return out
}

// held reports whether a page of any sink is in room or left it within
// egress.HeldFor.
func (ss sinks) held(room string) bool {
	for _, s := range ss {
		if h, ok := s.(egress.Holder); ok && h.Held(room) {
			return true
		}
	}
	return false
}

// sentLive lists the private session ids of the pages every sink sent d,
// a delivery without an offset, live.
func (ss sinks) sentLive(d herald.Delivery) []string {
	var out []string
	for _, s := range ss {
		if h, ok := s.(egress.LiveSender); ok {
			out = append(out, h.SentLive(d)...)
		}
	}
	return out
}

// closeSession drops session id of whichever sink holds it (one whose
// long-poll answer could not be written in time, polling.go).
func (ss sinks) closeSession(id string) {
	for _, s := range ss {
		if c, ok := s.(interface{ CloseSession(id string) bool }); ok && c.CloseSession(id) {
			return
		}
	}
}

// close closes every sink in parallel and returns when all are done.
func (ss sinks) close(ctx context.Context) error {
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() { errs[i] = s.Close(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// defaultReserved is the reserved paths of the default sinks, for the
// subcommands that build a router without running a server.
func defaultReserved(cfg config) ([]string, error) {
	ss, err := buildSinks(defaultEgress, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ss.close(context.Background()) }()
	return ss.reserved(), nil
}
