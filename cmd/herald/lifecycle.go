package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/trigger"
	"github.com/heraldhq/herald/ingress/twitch"
	"github.com/heraldhq/herald/internal/lease"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/recent"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/recovery"
	"github.com/heraldhq/herald/metrics"
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
	// heldBefore is the rooms pages held before herald started, read from
	// the journal's live sessions: the sinks' memory of rooms held lately
	// starts empty.
	heldBefore *recent.Set
	cluster    *cluster // nil unless --redis
	router     *router.Router
	rulesRead  fs.FileInfo // the rules file as loaded at start, for its watch
	http       *http.Server
	ln         net.Listener
	tls        *tls.Config

	mon *monitoring
	// stopMetrics stops the --metrics-listen listener (a no-op without it).
	stopMetrics func(context.Context) error

	wg      sync.WaitGroup // the reload and ingress goroutines
	cleanup []func()
}

// newServer builds everything from cfg: log, sinks under an in-process
// broker, router with the starting rules, the built-in /notify, the HTTP
// handler, and the listener. On error, what was built is released.
func newServer(cfg config, getenv func(string) (string, bool), stderr io.Writer) (_ *server, err error) {
	named := cfg.rulesFile != ""
	cfg.rulesFile = rulesFileOrLocal(cfg.rulesFile)
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
	if !cfg.logLimit.Off() {
		// One client must not flood the log with refusals: so many lines
		// per message per interval, then a count of those left out.
		interval := time.Duration(float64(cfg.logLimit.Burst) / cfg.logLimit.PerSecond * float64(time.Second))
		log = slog.New(limit.NewLogHandler(log.Handler(), slog.LevelWarn, cfg.logLimit.Burst, interval, nil))
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
	// The monitors read the router and the journal, which are built after
	// the observer they are handed.
	var clusterMetrics func() metrics.Cluster
	if cfg.redisURL != "" {
		clusterMetrics = s.clusterMetrics
	}
	s.mon = newMonitoring(cfg, log, s.sinks, func() router.Status { return s.router.Status() },
		func() journal.Stats { return s.journal.Stats() }, func() router.JournalStatus { return s.journaled.Status() }, clusterMetrics)
	if s.mon.dash.Enabled() {
		s.keeper.OnAck(s.mon.dash.Acked) // acks show beside each delivery
	}
	s.router = router.New(router.Options{Broker: toJournal, Log: log, Getenv: getenv,
		MaxBody: cfg.maxBody, Reserved: s.sinks.reserved(), ReservedNames: reservedNames,
		Observer: s.mon.observer(), DataDir: cfg.dataDir})
	if s.rulesRead, err = loadRules(s.router, cfg.rulesFile); err != nil {
		if se := (*startRulesError)(nil); errors.As(err, &se) {
			se.implicit = !named
		}
		return nil, err
	}
	// Where deliveries go once journaled: this node's sinks (broker.Local),
	// or in cluster mode (--redis) every node's, through Redis, where the
	// journal lives too, shared by every node.
	var pages broker.Broker = s.broker
	if cfg.redisURL != "" {
		if s.cluster, err = openCluster(cfg.redisURL, s.sinks, log); err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, s.cluster.close)
		s.journal, pages = s.cluster.journal, s.cluster.broker
		// The Twitch login too: the node that takes the session over
		// uses the one the last holder renewed.
		s.router.ShareValues(sharedValues(s.cluster.client))
	} else if s.journal, err = openJournal(cfg.dataDir, log); err != nil {
		return nil, fmt.Errorf("--data %s: %w", cfg.dataDir, err)
	}
	// Webhook de-duplication lives in the journal: a retry is recognised
	// on any node of a cluster, and after a restart.
	s.router.ShareDedupe(s.journal)
	s.cleanup = append(s.cleanup, func() {
		if err := s.journal.Close(); err != nil {
			log.Error("closing the journal", "err", err)
		}
	})
	held.Journal = s.journal
	s.applyJournalSettings()
	s.heldBefore = heldBeforeStart(s.journal, s.router.JournalSettings().RecoveryWindow, log)
	s.journaled = router.NewJournaled(pages, s.journal, log)
	if s.cluster != nil {
		// While Redis is away, alerts reach this node's pages only; the
		// outbox journals them once it is back, which sends them to the
		// other nodes' pages too, within the recovery window.
		b := s.cluster.broker
		opts := router.OutboxOptions{
			LocalOnly: func() bool { return !b.Connected() },
			SentLive:  s.sinks.sentLive,
			MaxAge:    s.keeper.Window,
		}
		if sp, left := openOutboxSpool(cfg, log); sp != nil {
			opts.Store, opts.Left = sp, left
			s.cleanup = append(s.cleanup, func() {
				if err := sp.Close(); err != nil {
					log.Error("closing the outbox file", "err", err)
				}
			})
		}
		s.journaled.KeepUnjournaled(opts)
	}
	toJournal.b = s.journaled
	lim := newLimits(cfg)
	var publish herald.Publisher = s.router
	if cfg.triggerKey == "" {
		publish = missCounter{next: s.router, misses: lim.misses, held: s.held}
	}
	notify := trigger.Builtin(ingress.Params{Name: "trigger", Type: "trigger", Path: "/notify", Publish: publish,
		Log: log.With("ingress", "trigger"), State: s.router.State("trigger"), MaxBody: cfg.maxBody}, cfg.triggerKey, cfg.codeKeys)
	handler := newHandler(handlerDeps{cfg: cfg, log: log, router: s.router, sinks: s.sinks, trigger: notify, sources: files,
		journal: s.journaled, mon: s.mon, cluster: s.cluster, started: time.Now(),
		policy: newOriginPolicy(cfg.host, cfg.allowedHosts, cfg.corsOrigins()), limits: lim})
	if s.stopMetrics, err = s.mon.serveMetrics(cfg, log); err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, func() { _ = s.stopMetrics(context.Background()) })

	tcp, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	// Connections are tracked to their close, hijacked ones included, so
	// Socket.IO connections can be counted per client (--conns-per-ip).
	s.ln = limit.Listener{Listener: tcp}
	s.http = &http.Server{
		Handler:           handler,
		ConnContext:       limit.WithConn,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut Socket.IO long-polls
		// and websockets. Bodies are bounded by size (--max-body) and the
		// header timeout; idle keep-alive connections are reaped.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    httpErrorLog(log),
	}
	// An open dashboard's stream never ends on its own: Shutdown would
	// wait for it until --shutdown-timeout, then fail.
	s.http.RegisterOnShutdown(s.mon.dash.Close)
	return s, nil
}

// clusterMetrics is the node's link to Redis for /metrics.
func (s *server) clusterMetrics() metrics.Cluster {
	b := s.cluster.broker.State()
	c := metrics.Cluster{Connected: b.Connected, Disconnects: b.Disconnects, LocalOnly: b.LocalOnly,
		Resynced: b.Resynced, Duplicates: b.Duplicates, RoundTrips: b.RoundTrips}
	if o := s.journaled.Status().Outbox; o != nil {
		c.OutboxWaiting, c.OutboxJournaled, c.OutboxDropped = o.Waiting, o.Journaled, o.Dropped
	}
	return c
}

// held reports whether a page held room lately: on this node (the sinks
// remember), or, in cluster mode, on any node as this node last counted.
func (s *server) held(room string) bool {
	return s.sinks.held(room) || s.heldBefore.Within(room, time.Now()) ||
		(s.cluster != nil && s.cluster.broker.Held(room))
}

// heldBeforeStart remembers the rooms of the journal's live sessions as
// held when each session was last saved: while a page is connected its
// session is saved again every third of the recovery window, and once
// more as it leaves, each time until now + window. So a room whose page
// was there within egress.HeldFor before a restart is still held after
// it, and triggers for it wait in the journal without costing misses.
func heldBeforeStart(j journal.Journal, window time.Duration, log *slog.Logger) *recent.Set {
	set := recent.New(egress.HeldFor, maxHeldBefore)
	lister, ok := j.(journal.SessionLister)
	if !ok {
		return set
	}
	if window <= 0 {
		window = recovery.DefaultWindow
	}
	live, err := lister.LiveSessions(context.Background())
	if err != nil {
		log.Warn("journal: could not read the sessions of pages held before the start", "err", err)
	}
	// Oldest first: a room is noted at its newest session's time.
	slices.SortFunc(live, func(a, b journal.Session) int { return a.Expires.Compare(b.Expires) })
	for _, sess := range live {
		if sess.Code != "" {
			set.Note(sess.Code, sess.Expires.Add(-window))
		}
	}
	return set
}

// maxHeldBefore bounds the rooms remembered from before the start, as the
// sinks bound theirs.
const maxHeldBefore = 10_000

// minAdminToken is the admin token length below which herald warns at
// start: the token opens every alert and code, and the guessing limit
// only slows a guesser down.
const minAdminToken = 16

// start serves until shutdown, reloading the rules on hup and on every save
// of the file until ctx ends. The channel receives Serve's error if it
// stops on its own.
func (s *server) start(ctx context.Context, hup <-chan os.Signal) <-chan error {
	rl := reloader{rt: s.router, file: s.cfg.rulesFile, read: s.rulesRead, log: s.log.With("component", "rules"), loaded: s.applyJournalSettings}
	s.wg.Go(func() { rl.onHangup(ctx, hup) })
	if s.cluster != nil {
		s.wg.Go(func() { s.cluster.lease.Run(ctx) })
		s.wg.Go(func() { every(ctx, shareUnsharedEvery, s.router.ShareUnshared) })
		if s.cfg.dataDir != memoryData {
			login := twitch.LoginStore(s.cfg.dataDir, sharedValues(s.cluster.client))
			s.wg.Go(func() { keepLoginCopy(ctx, login) })
		}
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
	if !s.cfg.trustedProxies.Empty() {
		s.log.Info("clients behind these proxies are known by X-Forwarded-For", "trusted_proxies", s.cfg.trustedProxies.String())
	}
	if n := len(s.cfg.adminToken); n > 0 && n < minAdminToken {
		s.log.Warn("the admin token is short: whoever guesses it reads every alert and code; use 16 random characters or more (openssl rand -hex 24)", "length", n)
	}
	// Adapters with a connection of their own (Twitch over WebSocket,
	// managed webhook subscriptions) start once herald answers requests,
	// so a webhook subscription's verification finds it listening.
	if s.cluster != nil {
		// One node at a time holds the Twitch EventSub session and manages
		// webhook subscriptions: the holder of the cluster's lease.
		s.wg.Go(func() {
			_ = lease.RunWhileHeld(ctx, s.cluster.lease, s.log.With("component", "ingress"), func(ctx context.Context) error {
				s.router.RunIngress(ctx)
				return nil
			})
		})
	} else {
		s.wg.Go(func() { s.router.RunIngress(ctx) })
	}
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
	_ = s.stopMetrics(ctx)
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
