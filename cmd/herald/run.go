package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/heraldhq/herald/egress/all" // every egress plugin
	"github.com/heraldhq/herald/examples"
	_ "github.com/heraldhq/herald/ingress/all" // every ingress plugin
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// embeddedRulesName names the built-in rules file in logs and errors.
const embeddedRulesName = "embedded default (examples/default.yaml)"

// run is the whole program with its environment injected, so tests can run
// the real server in-process.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(ctx, args[1:], getenv, stdout, stderr)
		case "route":
			return runRoute(ctx, args[1:], getenv, stdout, stderr)
		case "twitch":
			return runTwitch(ctx, args[1:], getenv, stdout, stderr)
		case "code":
			return runCode(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, getenv, stdout)
	if errors.Is(err, errHelp) || errors.Is(err, errVersion) {
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
	if sigs := reloadSignals(); len(sigs) > 0 {
		signal.Notify(hup, sigs...)
	}
	defer signal.Stop(hup)
	srv, err := newServer(cfg, getenv, stderr)
	if err != nil {
		return err
	}
	defer srv.release()
	serveErr := srv.start(ctx, hup)
	if ready != nil {
		ready <- srv.ln.Addr().String()
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if stopSignals != nil {
		stopSignals()
	}
	return srv.shutdown()
}

// localRules is the rules file herald, `herald route`, `herald check`
// and `herald twitch` read when none is named.
const localRules = "rules.yaml"

// rulesFileOrLocal is file, or ./rules.yaml when none is named and there
// is one: a streamer who wrote it beside herald, and checked it with
// `herald check`, expects herald to run it. With neither it is "": the
// embedded default, which behaves like the original service.
func rulesFileOrLocal(file string) string {
	if file != "" {
		return file
	}
	if st, err := os.Stat(localRules); err == nil && st.Mode().IsRegular() {
		return localRules
	}
	return ""
}

func rulesName(file string) string {
	if file == "" {
		return embeddedRulesName
	}
	return file
}

// loadRules loads the starting rules. At start-up there is nothing to fall
// back to, so a broken file stops the server with every positioned error.
// It returns the file as it was read (for the watch: a save after the read
// is then not missed), nil for the embedded default.
func loadRules(rt *router.Router, file string) (fs.FileInfo, error) {
	if file == "" {
		if err := rt.Reload(embeddedRulesName, examples.DefaultRules); err != nil {
			return nil, fmt.Errorf("embedded rules: %w", err)
		}
		return nil, nil
	}
	read, _ := os.Stat(file) // before the read: a save after it shows as a change
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := rt.Reload(file, data); err != nil {
		return nil, &startRulesError{file: file, data: data, err: err}
	}
	return read, nil
}

// startRulesError is a rules file that stops the start: each error with
// its line and a caret, as `herald check` shows them. One herald found
// beside it (no --rules) says so, since the user may not know it reads it.
type startRulesError struct {
	file     string
	data     []byte
	err      error
	implicit bool
}

func (e *startRulesError) Error() string {
	var b strings.Builder
	b.WriteString("rules file has errors, not starting:\n")
	printErrors(&b, e.data, e.err)
	if e.implicit {
		fmt.Fprintf(&b, "(herald reads the %s in its working directory when --rules names no file: fix it, move it away, or name another with --rules)", e.file)
	}
	return strings.TrimRight(b.String(), "\n")
}

func (e *startRulesError) Unwrap() error { return e.err }

// reloader re-reads the rules file into the router; a file that fails to
// load is logged with its positioned errors and the running rules stay.
type reloader struct {
	rt     *router.Router
	file   string      // "" when running the embedded default
	read   fs.FileInfo // the file as loadRules read it
	log    *slog.Logger
	loaded func() // after a successful reload: settings outside the router follow
}

// load applies data. Unchanged rules are not applied again, but the
// ingress instances that stopped on an error start again, and their names
// are returned: a save or a SIGHUP is the user's word that the cause is
// fixed.
func (r reloader) load(data []byte) (restarted []string, err error) {
	err = r.rt.Reload(r.file, data)
	switch {
	case errors.Is(err, router.ErrUnchanged):
		return r.rt.RestartStopped(), err
	case err != nil:
		logLoadErrors(r.log, r.file, err)
	case r.loaded != nil:
		r.loaded()
	}
	return nil, err
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
			switch restarted, err := r.load(data); {
			case errors.Is(err, router.ErrUnchanged) && len(restarted) > 0:
				r.log.Info("SIGHUP: rules file unchanged; stopped ingress started again", "file", r.file, "ingress", restarted)
			case errors.Is(err, router.ErrUnchanged):
				r.log.Info("SIGHUP: rules file unchanged; nothing to reload", "file", r.file)
			case err == nil:
				r.log.Info("SIGHUP: rules reloaded", "file", r.file)
			} // a refused file has been logged with its errors
		}
	}
}

// watch reloads the rules on every save of the file.
func (r reloader) watch(ctx context.Context) {
	if err := rules.Watch(ctx, r.file, r.read, 0, r.log, func(b []byte) { r.load(b) }); err != nil {
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
