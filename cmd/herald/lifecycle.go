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

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/trigger"
	"github.com/heraldhq/herald/internal/limit"
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
	router *router.Router
	http   *http.Server
	ln     net.Listener
	tls    *tls.Config

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

	if s.sinks, err = buildSinks(cfg.egress, cfg, log); err != nil {
		return nil, err
	}
	s.broker = broker.NewLocal()
	for _, sink := range s.sinks {
		s.broker.Subscribe(sink)
	}
	s.router = router.New(router.Options{Broker: s.broker, Log: log, Getenv: getenv,
		MaxBody: cfg.maxBody, Reserved: s.sinks.reserved(), ReservedNames: reservedNames})
	if err := loadRules(s.router, cfg.rulesFile); err != nil {
		return nil, err
	}
	lim := newLimits(cfg)
	var publish herald.Publisher = s.router
	if cfg.triggerKey == "" {
		publish = missCounter{next: s.router, misses: lim.misses}
	}
	notify := trigger.Builtin(ingress.Params{Name: "trigger", Type: "trigger", Path: "/notify", Publish: publish,
		Log: log.With("ingress", "trigger"), State: s.router.State("trigger"), MaxBody: cfg.maxBody}, cfg.triggerKey, cfg.codeKeys)
	handler := newHandler(handlerDeps{cfg: cfg, log: log, router: s.router, sinks: s.sinks, trigger: notify, sources: files,
		policy: newOriginPolicy(cfg.host, cfg.allowedHosts, cfg.corsOrigins()), limits: lim})

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
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// start serves until shutdown, reloading the rules on hup and on every save
// of the file until ctx ends. The channel receives Serve's error if it
// stops on its own.
func (s *server) start(ctx context.Context, hup <-chan os.Signal) <-chan error {
	rl := reloader{rt: s.router, file: s.cfg.rulesFile, log: s.log.With("component", "rules")}
	s.wg.Go(func() { rl.onHangup(ctx, hup) })
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
	_ = s.broker.Close(ctx)
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
