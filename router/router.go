// Package router is the middle of herald: it owns the live rule set and
// the ingress instances the rules file declares, routes every published
// event through exactly one rule set, and hands the deliveries to egress.
//
// A reload builds a complete new snapshot (compiled rules plus a fresh
// ServeMux of ingress adapters) off to the side and swaps it in with one
// atomic store; a file that fails to load leaves the running snapshot in
// place.
package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/recent"
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/rules"
)

// Options configures a Router.
type Options struct {
	// Broker carries every delivery to the page-facing sinks (broker.Local
	// in one process, a cluster broker across nodes). When it is nil, the
	// router makes a broker.Local with Sinks subscribed.
	Broker broker.Broker
	// Sinks are subscribed to the router's own broker.Local when Broker is
	// nil; ignored otherwise (subscribe them to the broker yourself).
	Sinks []egress.Sink
	// Registry builds declared ingress instances; nil means ingress.Default.
	Registry *ingress.Registry
	// Shapes are the event shapes rules are checked against; nil means
	// ingress.DefaultShapes.
	Shapes *ingress.ShapeRegistry
	// OpenTypes are the patterns of the types ingress may send beyond
	// their shapes; nil means ingress.DefaultOpenTypes.
	OpenTypes *ingress.OpenTypeRegistry
	// Codeless are the ingress types whose events carry no code; nil
	// means ingress.DefaultCodeless.
	Codeless *ingress.CodelessRegistry
	// Log is the parent logger; nil discards.
	Log *slog.Logger
	// Getenv resolves ${VAR} in the rules file; nil means the process env.
	Getenv func(string) (string, bool)
	// Now is the clock handed to adapters; nil means time.Now.
	Now func() time.Time
	// MaxBody is the request body limit handed to adapters.
	MaxBody int64
	// Reserved lists paths the static server owns; a declared ingress may
	// not take them, nor anything below one that ends in "/".
	Reserved []string
	// DataDir is handed to adapters that keep files (a Twitch login).
	DataDir string
	// ReservedNames lists ingress instance names the server uses itself
	// ("trigger" for the built-in /notify): a declared instance may not
	// take them, or its events would be indistinguishable.
	ReservedNames []string
	// Observer, when set, learns what became of every event (see observe.go).
	Observer Observer
}

// Router routes events. Create it with New.
type Router struct {
	opts   Options
	log    *slog.Logger
	broker broker.Broker
	cur    atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises reloads; readers never take it
	states ingress.States
	run    runners
	// dedupe is shared by every instance and keyed by sender
	// (ingress.DedupeKey), so a renamed instance keeps its window.
	dedupe *ingress.State

	lastErr  atomic.Pointer[loadError]
	unrouted atomic.Uint64
	dropped  atomic.Uint64
	routed   atomic.Uint64
	exprErrs atomic.Uint64
	ruleErrs ruleErrors

	failedReloads atomic.Uint64
	// strays paces the log of webhooks sent to a path no ingress
	// declares: one line per path a minute.
	strays *recent.Set
}

type snapshot struct {
	set    *rules.Set
	tests  TestSummary
	mux    *http.ServeMux
	paths  []string
	gen    uint64
	hash   [32]byte
	loaded time.Time
	file   string

	// runners are the adapters with a connection of their own (runners.go).
	runners []runnerSpec
}

type loadError struct {
	at   time.Time
	err  error
	data []byte // the file as it failed, to quote the offending lines
}

// New returns a Router running the default rules (no file): trigger events
// go to their own code, everything else is unrouted.
func New(opts Options) *Router {
	if opts.Registry == nil {
		opts.Registry = ingress.Default
	}
	if opts.Shapes == nil {
		opts.Shapes = ingress.DefaultShapes
	}
	if opts.OpenTypes == nil {
		opts.OpenTypes = ingress.DefaultOpenTypes
	}
	if opts.Codeless == nil {
		opts.Codeless = ingress.DefaultCodeless
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Router{opts: opts, log: opts.Log.With("component", "router"), broker: opts.Broker, dedupe: ingress.NewState(),
		strays: recent.New(time.Minute, 256)}
	if r.broker == nil {
		local := broker.NewLocal()
		for _, s := range opts.Sinks {
			local.Subscribe(s)
		}
		r.broker = local
	}
	r.cur.Store(&snapshot{set: rules.Empty(), mux: http.NewServeMux(), loaded: opts.Now()})
	return r
}

// Publish implements herald.Publisher.
func (r *Router) Publish(ctx context.Context, ev herald.Event) (herald.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return herald.Receipt{}, err
	}
	// Once routing starts, every delivery is handed over even if the
	// sender hangs up: its receipt must describe what was done.
	if ctx.Done() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	if ev.Type == "" {
		// Its default delivery would have no name: journaled, it would
		// reach the next page as an event no page listens to.
		return herald.Receipt{}, fmt.Errorf("%w: it has no type", herald.ErrInvalidEvent)
	}
	if ev.ID == "" {
		ev.ID = herald.NewID()
	}
	if ev.Received.IsZero() {
		ev.Received = r.opts.Now()
	}
	snap := r.cur.Load() // exactly one rule set per event
	res := snap.set.Route(ev)
	r.account(ev, res)
	rc := herald.Receipt{EventID: ev.ID, Deliveries: len(res.Deliveries), Unrouted: res.Unrouted}
	if res.Dropped {
		rc.Dropped = res.Matched[len(res.Matched)-1]
	}
	var pages PageCounts
	var failed, invalid []error
	notKept := 0
	for i, d := range res.Deliveries {
		if err := herald.CheckName(d.Name); err != nil {
			// An emit never yields one (the rules fall back to the event's
			// own name), but the event's own name can be one: a trigger's
			// event=welcome. It reaches no page and no journal.
			invalid = append(invalid, fmt.Errorf("event %q: %w", ev.Type, err))
			continue
		}
		n, err := r.publish(ctx, &res.Deliveries[i])
		rc.Pages += n
		pages.Add(i, n)
		switch {
		case errors.Is(err, herald.ErrNotKept):
			notKept++ // the journal logged it
		case err != nil:
			failed = append(failed, fmt.Errorf("rule %q, event %s: %w", d.Rule, d.Name, err))
		}
	}
	r.observe(snap, ev, res, pages)
	if notKept > 0 && notKept == len(res.Deliveries) {
		// Nothing of the event reached a page or the journal: the sender
		// sends it again. Had any part of it, a second copy would show
		// that part twice, so the rest is lost with an ERROR line.
		failed = append(failed, herald.ErrNotKept)
	}
	if failed != nil {
		return rc, fmt.Errorf("%w: %w", ErrNotDelivered, errors.Join(append(invalid, failed...)...))
	}
	if invalid != nil {
		if len(invalid) == len(res.Deliveries) {
			// Sending it again would change nothing: the sender is told
			// why (400), not to retry.
			return rc, fmt.Errorf("%w: %w", herald.ErrInvalidEvent, invalid[0])
		}
		r.log.Error("part of an alert not sent", "event_id", ev.ID, "err", errors.Join(invalid...))
	}
	r.logOutcome(ev, res, rc)
	return rc, nil
}

// OffsetPublisher is a broker that tells the offset each delivery was
// journaled at (Journaled). With it the router's observers know which
// delivery a page's acknowledgement is for (the dashboard shows acks
// beside each delivery).
type OffsetPublisher interface {
	PublishOffset(ctx context.Context, d herald.Delivery) (pages int, offset uint64, err error)
}

// publish hands d to the broker and records in it the offset it went out
// with, when the broker tells.
func (r *Router) publish(ctx context.Context, d *herald.Delivery) (int, error) {
	op, ok := r.broker.(OffsetPublisher)
	if !ok {
		return r.broker.Publish(ctx, *d)
	}
	n, offset, err := op.PublishOffset(ctx, *d)
	d.Offset = offset
	return n, err
}

// logOutcome says at INFO why an event reached no page (a rule dropped
// it, no rule routed it, or no page was in its rooms: the journal then
// keeps it for the next page, within the pending window), whichever
// ingress it came through; that is where a streamer looks when an alert
// did not show. Codes are secrets, so rooms are not named.
func (r *Router) logOutcome(ev herald.Event, res rules.Result, rc herald.Receipt) {
	level, msg := slog.LevelInfo, ""
	switch {
	case rc.Dropped != "":
		msg = "alert reached no page: dropped by a rule"
	case rc.Unrouted:
		msg = "alert reached no page: no rule routed it"
	case rc.Pages == 0:
		msg = "alert reached no page: none connected to its room"
	default:
		level, msg = slog.LevelDebug, "event routed"
	}
	ctx := context.Background()
	if !r.log.Enabled(ctx, level) { // the common case: an alert that reached pages, at INFO
		return
	}
	attrs := []slog.Attr{slog.String("event_id", ev.ID), slog.String("source", ev.Source), slog.String("event_type", ev.Type)}
	switch {
	case rc.Dropped != "":
		attrs = append(attrs, slog.String("rule", rc.Dropped))
	case level == slog.LevelDebug:
		attrs = append(attrs, slog.Any("rules", res.Matched), slog.Int("deliveries", len(res.Deliveries)), slog.Int("pages", rc.Pages))
	}
	r.log.LogAttrs(ctx, level, msg, attrs...)
}

func (r *Router) account(ev herald.Event, res rules.Result) {
	if len(res.Errors) > 0 {
		r.exprErrs.Add(uint64(len(res.Errors)))
		r.ruleErrs.record(r.log, r.opts.Now(), ev, res.Errors)
	}
	switch {
	case res.Dropped:
		r.dropped.Add(1)
	case res.Unrouted:
		r.unrouted.Add(1)
	default:
		r.routed.Add(1)
	}
}

// Route runs ev through the current rules without delivering: the dry run
// behind `herald route` and POST /api/route?dry_run=1.
func (r *Router) Route(ev herald.Event) rules.Result {
	if ev.ID == "" {
		ev.ID = herald.NewID()
	}
	if ev.Received.IsZero() {
		ev.Received = r.opts.Now()
	}
	return r.cur.Load().set.Route(ev)
}

// ServeHTTP dispatches to the ingress instances the current rules file
// declares; paths it does not know get 404.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	snap := r.cur.Load()
	if req.Method == http.MethodPost {
		if _, pattern := snap.mux.Handler(req); pattern == "" {
			r.stray(snap, req.URL.Path)
		}
	}
	snap.mux.ServeHTTP(w, req)
}

// stray logs a POST to a path no ingress declares: a webhook set up with
// another path than the rules file's (/kofi for /webhooks/kofi) is
// otherwise a 404 on the sender's side only, and its alerts never come.
// Once a minute per path, so a scanner cannot flood the log.
func (r *Router) stray(snap *snapshot, path string) {
	now := r.opts.Now()
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	if r.strays.Within(path, now) {
		return
	}
	r.strays.Note(path, now)
	r.log.Warn("POST to a path no ingress declares, answered 404: is the sender set up with the rules file's path?",
		"path", path, "declared", snap.paths)
}

// Handles reports whether the current rules file declares an ingress at path.
func (r *Router) Handles(path string) bool { return r.IngressType(path) != "" }

// IngressType is the type of the ingress the current rules file declares
// at path ("trigger", "kofi", …), "" when it declares none there.
func (r *Router) IngressType(path string) string {
	snap := r.cur.Load()
	_, pattern := snap.mux.Handler(&http.Request{Method: http.MethodPost, URL: mustURL(path)})
	if pattern == "" {
		return ""
	}
	for _, spec := range snap.set.Ingress() {
		if spec.Path == pattern {
			return spec.Type
		}
	}
	return ""
}

// State returns the reload-proof state of the ingress instance name; the
// built-in /notify trigger uses it so its counters show in Status.
func (r *Router) State(name string) *ingress.State { return r.states.Get(name) }

// ShareDedupe makes every ingress instance's de-duplication use d, a
// store all nodes of a cluster share (the Redis journal).
func (r *Router) ShareDedupe(d ingress.Deduper) {
	r.states.Share(d)
	// The window every webhook instance shares, keyed by sender
	// (ingress.DedupeKey), so a retry is recognised on any node.
	r.dedupe.Share(d, "sender")
}

// ShareUnshared records in the shared de-duplication store what the
// instances took while it did not answer (ingress.States.ShareUnshared):
// a cluster node calls it now and then, so a retry after a Redis outage is
// recognised on every node.
func (r *Router) ShareUnshared() {
	r.states.ShareUnshared()
	r.dedupe.ShareUnshared()
}

// ShareValues gives every ingress instance the cluster's store of shared
// values (cluster mode), such as the Twitch login the nodes take turns to
// use.
func (r *Router) ShareValues(v ingress.SharedStore) { r.states.ShareValues(v) }

// ErrUnchanged is returned by Reload when the bytes equal the running file.
var ErrUnchanged = errors.New("rules unchanged")

// ErrNotDelivered wraps Publish's error when a delivery could not be
// handed to egress (a sink or the broker closed, herald shutting down).
// The receipt still counts what was delivered; the sender should be told
// to retry (503), and an ingress that de-duplicates must forget the id.
var ErrNotDelivered = errors.New("not delivered")

// Reload parses and compiles data, builds every declared ingress, and swaps
// the result in atomically. On error the running snapshot stays in place,
// the error is kept for Status, and a yamlpos.List is returned.
func (r *Router) Reload(file string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	hash := sha256.Sum256(data)
	if old.file == file && old.hash == hash && old.gen > 0 {
		// Back to the running file (a broken save undone): nothing to
		// load, and the error of the attempt in between is history. Say
		// so, or the log's last word is the refused save's ERROR.
		if r.lastErr.Swap(nil) != nil {
			r.log.Info("rules file back to the running rules; the refused save's errors no longer apply", "file", file, "gen", old.gen)
		}
		return ErrUnchanged
	}
	start := time.Now()
	next, err := r.build(file, data)
	if err != nil {
		r.failedReloads.Add(1)
		r.lastErr.Store(&loadError{at: r.opts.Now(), err: err, data: data})
		return err
	}
	next.gen = old.gen + 1
	next.hash = hash
	// The file's own tests run before the swap but do not veto it: a save
	// that breaks a test is usually the user mid-edit, and refusing it
	// would hide the rule they are working on. `herald check` is strict.
	next.tests = runTests(next.set)
	r.cur.Store(next)
	r.startRunners(next)
	r.lastErr.Store(nil)
	r.log.Info("rules loaded", "file", file, "gen", next.gen, "rules", next.set.Len(),
		"ingress", len(next.paths)+len(next.runners), "tests", next.tests.Run, "took", time.Since(start).Round(time.Microsecond))
	for _, f := range next.tests.Failures {
		r.log.Warn("rules test failed", "file", file, "err", f)
	}
	for _, w := range next.set.Warnings() {
		r.log.Warn("rules warning", "file", file, "err", w.Error())
	}
	return nil
}

// parseOptions hands rules.Parse the event shapes of every ingress type;
// the built-in instances (the /notify trigger) are named like their type.
func (r *Router) parseOptions() rules.Options {
	builtin := map[string]string{}
	for _, name := range r.opts.ReservedNames {
		builtin[name] = name
	}
	return rules.Options{
		Getenv:  r.opts.Getenv,
		Builtin: builtin,
		Shapes: func(typ string) ([]herald.Shape, bool) {
			shapes, err := r.opts.Shapes.Lookup(typ)
			return shapes, err == nil
		},
		OpenTypes: func(typ string) *regexp.Regexp {
			open, _ := r.opts.OpenTypes.Lookup(typ)
			return open
		},
		Codeless: func(typ string) (string, bool) {
			unless, err := r.opts.Codeless.Lookup(typ)
			return unless, err == nil
		},
	}
}

// TestSummary is the outcome of the tests inside the rules file.
type TestSummary struct {
	Run      int      `json:"run"`
	Failed   int      `json:"failed"`
	Failures []string `json:"failures,omitempty"`
}

func runTests(set *rules.Set) TestSummary {
	var sum TestSummary
	for _, tr := range set.RunTests() {
		sum.Run++
		if tr.Passed() {
			continue
		}
		sum.Failed++
		for _, f := range tr.Failures {
			sum.Failures = append(sum.Failures, f.Error())
		}
	}
	return sum
}

// Check builds a snapshot from data exactly as Reload would, without
// swapping it in: `herald check` uses it. Its error is a
// *rules.LoadError, carrying the warnings found along with the errors.
func (r *Router) Check(file string, data []byte) (*rules.Set, error) {
	snap, err := r.build(file, data)
	if err != nil {
		return nil, err
	}
	return snap.set, nil
}

func (r *Router) build(file string, data []byte) (*snapshot, error) {
	set, err := rules.Parse(file, data, r.parseOptions())
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	var errs yamlpos.List
	var paths []string
	var runners []runnerSpec
	seen := map[string]yamlpos.Pos{}
	for _, spec := range set.Ingress() {
		if slices.Contains(r.opts.ReservedNames, spec.Name) {
			errs.Add(spec.Pos, "ingress %q: the name is herald's own (built-in); choose another", spec.Name)
			continue
		}
		if reserved, ok := r.reserved(spec.Path); ok && spec.Path != "" {
			errs.Add(spec.Pos, "ingress %q: path %s is herald's own (%s is built in)", spec.Name, spec.Path, reserved)
			continue
		}
		if first, dup := seen[spec.Path]; dup && spec.Path != "" {
			errs.Add(spec.Pos, "ingress %q: path %s is already taken (at %s)", spec.Name, spec.Path, first)
			continue
		}
		seen[spec.Path] = spec.Pos
		var warnings yamlpos.List
		a, err := r.buildAdapter(file, spec, &warnings)
		set.Warn(warnings)
		if err != nil {
			errs.Append(spec.Pos, err)
			continue
		}
		if err := mount(mux, &runners, spec, a); err != nil {
			errs.Add(spec.Pos, "ingress %q: %v", spec.Name, err)
			continue
		}
		if spec.Path != "" {
			paths = append(paths, spec.Path)
		}
	}
	if len(errs) > 0 { // the file's warnings go along, as Parse's do
		return nil, &rules.LoadError{Errors: errs.Sort(), Warnings: set.Warnings()}
	}
	return &snapshot{set: set, mux: mux, paths: paths, runners: runners, loaded: r.opts.Now(), file: file}, nil
}

// reserved reports the built-in path that mounted collides with: the same
// path, or one below a built-in subtree such as /sources/. The path is
// compared cleaned, as http.ServeMux sees a request for it, so
// /hooks/../admin/ is /admin/'s.
func (r *Router) reserved(mounted string) (string, bool) {
	if mounted == "" {
		return "", false
	}
	clean := path.Clean(mounted)
	for _, p := range r.opts.Reserved {
		if clean == p || strings.HasSuffix(p, "/") && strings.HasPrefix(clean, p) || clean+"/" == p {
			return p, true
		}
	}
	return "", false
}

func (r *Router) buildAdapter(file string, spec rules.IngressSpec, warnings *yamlpos.List) (ingress.Adapter, error) {
	factory, err := r.opts.Registry.Lookup(spec.Type)
	if err != nil {
		return nil, yamlpos.List{yamlpos.Errorf(spec.Pos, "ingress %q: %v", spec.Name, err)}
	}
	return factory(ingress.Params{
		Name: spec.Name, Type: spec.Type, Path: spec.Path, Options: spec.Options, File: file,
		Publish: r, Log: r.opts.Log.With("ingress", spec.Name, "type", spec.Type),
		State: r.states.Get(spec.Name), Dedupe: r.dedupe, Now: r.opts.Now, MaxBody: r.opts.MaxBody, DataDir: r.opts.DataDir,
		Warnings: warnings,
	})
}

// handle registers h at path, turning ServeMux's panic on a bad or
// conflicting pattern into an error.
func handle(mux *http.ServeMux, path string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bad path %q: %v", path, p)
		}
	}()
	if len(path) == 0 || path[0] != '/' || bytes.ContainsAny([]byte(path), " {}") {
		return fmt.Errorf("path %q must start with / and hold no spaces or braces", path)
	}
	mux.Handle(path, h)
	return nil
}
