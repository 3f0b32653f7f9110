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
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/sources"
)

// server is herald running: built by newServer (which listens but serves
// nothing), started by start, stopped by shutdown, and its files and log
// released by release.
type server struct {
	cfg       config
	log       *slog.Logger
	sinks     sinks
	journal   journal.Journal
	journaled *router.Journaled // the router's broker: journal, then pages
	cluster   *cluster          // nil unless --redis
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

	if s.sinks, err = buildSinks(cfg.egress, cfg, log); err != nil {
		return nil, err
	}
	// The router delivers through the journal: each delivery is appended
	// (durable, with its offset) before it reaches the pages. The journal
	// opens once the rules are known good (a broken file creates no data
	// directory), before anything is served.
	via := &laterBroker{}
	s.router = router.New(router.Options{Broker: via, Log: log, Getenv: getenv,
		MaxBody: cfg.maxBody, Reserved: s.sinks.reserved(), ReservedNames: reservedNames})
	if err := loadRules(s.router, cfg.rulesFile); err != nil {
		return nil, err
	}
	var pages broker.Broker
	if cfg.redisURL != "" {
		// Cluster mode: journal, broker and webhook de-duplication live in
		// Redis, shared by every node.
		if s.cluster, err = openCluster(cfg.redisURL, s.sinks, log); err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, s.cluster.close)
		s.journal, pages = s.cluster.journal, s.cluster.broker
		s.router.ShareDedupe(s.cluster.journal)
	} else {
		if s.journal, err = openJournal(cfg.dataDir, log); err != nil {
			return nil, fmt.Errorf("--data %s: %w", cfg.dataDir, err)
		}
		local := broker.NewLocal()
		for _, sink := range s.sinks {
			local.Subscribe(sink)
		}
		pages = local
	}
	s.cleanup = append(s.cleanup, func() {
		if err := s.journal.Close(); err != nil {
			log.Error("closing the journal", "err", err)
		}
	})
	s.journal.SetRetention(journalRetention(s.router.JournalSettings()))
	s.journaled = router.NewJournaled(pages, s.journal, log)
	via.b = s.journaled
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
	rl := reloader{rt: s.router, file: s.cfg.rulesFile, log: s.log.With("component", "rules"),
		loaded: func() { s.journal.SetRetention(journalRetention(s.router.JournalSettings())) }}
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
	if err := s.journaled.Close(ctx); err != nil {
		s.log.Warn("closing the journal's broker", "err", err)
	}
	err := s.http.Shutdown(ctx)
	s.wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// release closes the log file and the sources directory, last first.
func (s *server) release() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}
