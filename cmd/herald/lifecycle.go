package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/recovery"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/sources"
)

// server is herald running: built by newServer (which listens but serves
// nothing), started by start, stopped by shutdown, and its files and log
// released by release.
type server struct {
	cfg    config
	log    *slog.Logger
	sinks  sinks
	broker *broker.Local
	// journaled is the router's broker: it journals each delivery, then
	// hands it to broker.
	journaled *router.Journaled
	keeper    *recovery.Keeper
	journal   journal.Journal
	cluster   *cluster // nil unless --redis
	router    *router.Router
	http      *http.Server
	ln        net.Listener
	tls       *tls.Config

	wg      sync.WaitGroup // the reload goroutines
	cleanup []func()
}

// newServer builds everything from cfg: log, sinks under an in-process
// broker, router with the starting rules, the built-in /notify, the HTTP
// handler, and the listener. On error, what was built is released.
func newServer(cfg config, getenv func(string) (string, bool), stderr io.Writer) (_ *server, err error) {
	s := &server{cfg: cfg}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	log, closeLog, err := newLogger(cfg.logLevel, cfg.logFile, stderr)
	if err != nil {
		return nil, err
	}
	s.log = log
	s.cleanup = append(s.cleanup, func() { _ = closeLog() })
	if s.tls, err = loadTLS(cfg); err != nil {
		return nil, err
	}
	files, closeFiles, err := sourcesFS(cfg.sourcesDir, sources.FS())
	if err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, func() { _ = closeFiles() })

	// The journal opens once the rules are known good (a broken file
	// creates no data directory), but the sinks, built before the rules
	// (their paths are reserved), need its recovery now: they get it
	// through a holder filled before anything is served.
	held := &heldJournal{}
	s.keeper = recovery.New(held, recovery.Options{})
	if s.sinks, err = buildSinks(cfg.egress, cfg, log, s.keeper); err != nil {
		return nil, err
	}
	s.broker = broker.NewLocal()
	for _, sink := range s.sinks {
		s.broker.Subscribe(sink)
	}
	toJournal := &deferredBroker{}
	s.router = router.New(router.Options{Broker: toJournal, Log: log, Getenv: getenv,
		MaxBody: cfg.maxBody, Reserved: s.sinks.reserved(), ReservedNames: reservedNames})
	if err := loadRules(s.router, cfg.rulesFile); err != nil {
		return nil, err
	}
	// Where deliveries go once journaled: this node's sinks (broker.Local),
	// or in cluster mode (--redis) every node's, through Redis, where the
	// journal and webhook de-duplication live too, shared by every node.
	var pages broker.Broker = s.broker
	if cfg.redisURL != "" {
		if s.cluster, err = openCluster(cfg.redisURL, s.sinks, log); err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, s.cluster.close)
		s.journal, pages = s.cluster.journal, s.cluster.broker
		s.router.ShareDedupe(s.cluster.journal)
	} else if s.journal, err = openJournal(cfg.dataDir, log); err != nil {
		return nil, fmt.Errorf("--data %s: %w", cfg.dataDir, err)
	}
	s.cleanup = append(s.cleanup, func() {
		if err := s.journal.Close(); err != nil {
			log.Error("closing the journal", "err", err)
		}
	})
	held.Journal = s.journal
	s.applyJournalSettings()
	s.journaled = router.NewJournaled(pages, s.journal, log)
	toJournal.b = s.journaled
	trigger, err := ingress.Default.Lookup("trigger")
	if err != nil {
		return nil, err
	}
	notify, err := trigger(ingress.Params{Name: "trigger", Type: "trigger", Path: "/notify", Publish: s.router,
		Log: log.With("ingress", "trigger"), State: s.router.State("trigger"), MaxBody: cfg.maxBody})
	if err != nil {
		return nil, err
	}
	handler := newHandler(handlerDeps{cfg: cfg, log: log, router: s.router, sinks: s.sinks, trigger: notify, sources: files,
		journal: s.journaled, cluster: s.cluster})

	s.ln, err = net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.http = &http.Server{
		Handler:           handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut Socket.IO long-polls
		// and websockets. Bodies are bounded by size (--max-body) and the
		// header timeout; idle keep-alive connections are reaped.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// start serves until shutdown, reloading the rules on hup and on every save
// of the file until ctx ends. The channel receives Serve's error if it
// stops on its own.
func (s *server) start(ctx context.Context, hup <-chan os.Signal) <-chan error {
	rl := reloader{rt: s.router, file: s.cfg.rulesFile, log: s.log.With("component", "rules"), loaded: s.applyJournalSettings}
	s.wg.Go(func() { rl.onHangup(ctx, hup) })
	if s.cluster != nil {
		s.wg.Go(func() { s.cluster.lease.Run(ctx) })
	}
	if s.cfg.rulesFile != "" {
		s.wg.Go(func() { rl.watch(ctx) })
	}
	serveErr := make(chan error, 1)
	go func() {
		if s.tls != nil {
			serveErr <- s.http.ServeTLS(s.ln, "", "")
		} else {
			serveErr <- s.http.Serve(s.ln)
		}
	}()
	scheme := map[bool]string{false: "http", true: "https"}[s.tls != nil]
	s.log.Info("herald listening", "addr", s.ln.Addr().String(), "url", scheme+"://"+s.ln.Addr().String(),
		"rules", rulesName(s.cfg.rulesFile), "egress", s.cfg.egress)
	return serveErr
}

// shutdown stops within --shutdown-timeout. The pages go first, while the
// HTTP server still runs: from then on every trigger is refused (503),
// what was already delivered reaches the pages (polling pages may still
// poll to collect it), and only then does the listener close. Shutdown
// does not wait for hijacked websockets; the sinks close them themselves.
func (s *server) shutdown() error {
	s.log.Info("shutting down", "timeout", s.cfg.shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdown)
	defer cancel()
	if err := s.sinks.close(ctx); err != nil {
		s.log.Warn("closing pages", "err", err)
	}
	// Closes the broker under it and records the marks still queued; the
	// journal file itself is closed by release.
	_ = s.journaled.Close(ctx)
	err := s.http.Shutdown(ctx)
	s.wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// applyJournalSettings applies the rules file's journal: section (at start
// and after every reload).
func (s *server) applyJournalSettings() {
	settings := s.router.JournalSettings()
	s.journal.SetRetention(journalRetention(settings))
	s.keeper.SetOptions(recoveryOptions(settings))
}

// release closes the log file and the sources directory, last first.
func (s *server) release() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}
