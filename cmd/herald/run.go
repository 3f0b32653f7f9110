package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/egress"
	_ "github.com/heraldhq/herald/egress/all" // every egress plugin
	"github.com/heraldhq/herald/examples"
	"github.com/heraldhq/herald/ingress"
	_ "github.com/heraldhq/herald/ingress/all" // every ingress plugin
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/sources"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// embeddedRulesName names the built-in rules file in logs and errors.
const embeddedRulesName = "rules.yaml (embedded default)"

// run is the whole program with its environment injected, so tests can run
// the real server in-process.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(ctx, args[1:], getenv, stdout, stderr)
		case "route":
			return runRoute(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, stop, cfg, getenv, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// serve runs the server until ctx ends. ready, when not nil, receives the
// listening address once the server accepts connections (tests use it).
// stopSignals restores default signal handling once shutdown has begun, so
// a second Ctrl-C kills a shutdown that hangs.
func serve(ctx context.Context, stopSignals func(), cfg config, getenv func(string) (string, bool), stderr io.Writer, ready chan<- string) error {
	// Catch SIGHUP first: its default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, closeLog, err := newLogger(cfg.logLevel, cfg.logFile, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	files, closeFiles, err := sourcesFS(cfg.sourcesDir, sources.FS())
	if err != nil {
		return err
	}
	defer closeFiles()

	sink, err := newSink("socketio", cfg, log)
	if err != nil {
		return err
	}
	// The router delivers through the journal: each delivery is appended
	// (durable, with its offset) before it reaches the pages.
	// The journal opens once the rules are known good (a broken file
	// creates no data directory), before anything is served.
	toJournal := &brokerSink{}
	rt := router.New(router.Options{Sinks: []egress.Sink{toJournal}, Log: log, Getenv: getenv,
		MaxBody: cfg.maxBody, Reserved: reservedPaths, ReservedNames: reservedNames})
	if err := loadRules(rt, cfg.rulesFile); err != nil {
		return err
	}
	// Cluster mode (--redis): the journal, the broker and webhook
	// de-duplication live in Redis, shared by every node.
	var cl *cluster
	var jr journal.Journal
	if cfg.redisURL != "" {
		if cl, err = openCluster(ctx, cfg.redisURL, sink, log); err != nil {
			return err
		}
		defer cl.close()
		jr = cl.journal
		rt.ShareDedupe(cl.journal)
	} else if jr, err = openJournal(cfg.dataDir, log); err != nil {
		return fmt.Errorf("--data %s: %w", cfg.dataDir, err)
	}
	defer func() {
		if err := jr.Close(); err != nil {
			log.Error("closing the journal", "err", err)
		}
	}()
	jr.SetRetention(journalRetention(rt.JournalSettings()))
	var next broker.Broker = sinkBroker{sink: sink}
	if cl != nil {
		next = cl.broker
	}
	journaled := router.NewJournaled(next, jr, log)
	toJournal.b = journaled
	trigger, err := ingress.Default.Lookup("trigger")
	if err != nil {
		return err
	}
	notify, err := trigger(ingress.Params{Name: "trigger", Type: "trigger", Path: "/notify", Publish: rt,
		Log: log.With("ingress", "trigger"), State: rt.State("trigger"), MaxBody: cfg.maxBody})
	if err != nil {
		return err
	}
	handler := newHandler(handlerDeps{cfg: cfg, log: log, router: rt, sink: sink, trigger: notify, sources: files, journal: journaled, cluster: cl})

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut Socket.IO long-polls
		// and websockets. Bodies are bounded by size (--max-body) and the
		// header timeout; idle keep-alive connections are reaped.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	rl := reloader{rt: rt, file: cfg.rulesFile, log: log.With("component", "rules"),
		loaded: func() { jr.SetRetention(journalRetention(rt.JournalSettings())) }}
	wg.Go(func() { rl.onHangup(ctx, hup) })
	if cl != nil {
		wg.Go(func() { cl.lease.Run(ctx) })
	}
	if cfg.rulesFile != "" {
		wg.Go(func() { rl.watch(ctx) })
	}
	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	scheme := map[bool]string{false: "http", true: "https"}[tlsConfig != nil]
	log.Info("herald listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(), "rules", rulesName(cfg.rulesFile))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if stopSignals != nil {
		stopSignals()
	}
	log.Info("shutting down", "timeout", cfg.shutdown)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdown)
	defer cancel()
	// Shutdown does not wait for hijacked websockets, so close the pages in
	// parallel with draining the HTTP requests in flight.
	wg.Go(func() {
		if err := sink.Close(shutdownCtx); err != nil {
			log.Warn("closing pages", "err", err)
		}
	})
	err = srv.Shutdown(shutdownCtx)
	wg.Wait()
	if err := journaled.Close(shutdownCtx); err != nil {
		log.Warn("closing the journal's broker", "err", err)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newSink builds the egress plugin typ from the registry.
func newSink(typ string, cfg config, log *slog.Logger) (egress.Sink, error) {
	factory, err := egress.Default.Lookup(typ)
	if err != nil {
		return nil, err
	}
	return factory(egress.Params{Log: log.With("egress", typ), CORSOrigin: cfg.corsOrigin, MaxBody: cfg.maxBody})
}

func rulesName(file string) string {
	if file == "" {
		return embeddedRulesName
	}
	return file
}

// loadRules loads the starting rules. At start-up there is nothing to fall
// back to, so a broken file stops the server with every positioned error.
func loadRules(rt *router.Router, file string) error {
	if file == "" {
		if err := rt.Reload(embeddedRulesName, examples.DefaultRules); err != nil {
			return fmt.Errorf("embedded rules: %w", err)
		}
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if err := rt.Reload(file, data); err != nil {
		return fmt.Errorf("rules file has errors, not starting:\n%w", err)
	}
	return nil
}

// reloader re-reads the rules file into the router; a file that fails to
// load is logged with its positioned errors and the running rules stay.
type reloader struct {
	rt     *router.Router
	file   string // "" when running the embedded default
	log    *slog.Logger
	loaded func() // after a successful reload: settings outside the router follow
}

func (r reloader) load(data []byte) {
	err := r.rt.Reload(r.file, data)
	if err != nil && !errors.Is(err, router.ErrUnchanged) {
		logLoadErrors(r.log, r.file, err)
		return
	}
	if err == nil && r.loaded != nil {
		r.loaded()
	}
}

// onHangup reloads on every SIGHUP (systemctl reload) until ctx ends. It is
// installed whatever the flags, so a hangup never kills the server.
func (r reloader) onHangup(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if r.file == "" {
				r.log.Info("SIGHUP: no rules file to reload (start herald with --rules FILE)")
				continue
			}
			data, err := os.ReadFile(r.file)
			if err != nil {
				r.log.Error("rules not reloaded", "file", r.file, "err", err)
				continue
			}
			r.log.Info("SIGHUP: reloading rules", "file", r.file)
			r.load(data)
		}
	}
}

// watch reloads the rules on every save of the file.
func (r reloader) watch(ctx context.Context) {
	if err := rules.Watch(ctx, r.file, 0, r.log, r.load); err != nil {
		r.log.Error("watching the rules file failed; reload with SIGHUP", "file", r.file, "err", err)
	}
}

// logLoadErrors logs a failed reload: one line per positioned error, so
// each reads rules.yaml:LINE:COL: message.
func logLoadErrors(log *slog.Logger, file string, err error) {
	log.Error("rules not reloaded; the previous rules stay in force", "file", file)
	var list yamlpos.List
	if !errors.As(err, &list) {
		log.Error("rules error", "err", err)
		return
	}
	for _, e := range list {
		log.Error("rules error", "err", e.Error())
	}
}
