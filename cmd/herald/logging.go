package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
)

// levelCritical is the original service's CRITICAL, above slog's Error.
const levelCritical = slog.LevelError + 4

// parseLevel maps the original service's level names (Python logging's) to slog levels.
func parseLevel(name string) (slog.Level, error) {
	switch strings.ToUpper(name) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "CRITICAL":
		return levelCritical, nil
	}
	return 0, fmt.Errorf("unknown log level %q (choose from DEBUG, INFO, WARNING, ERROR, CRITICAL)", name)
}

// newLogger builds the one root logger: text to stderr, and appended to
// logfile when one is given. The returned close func closes the file.
func newLogger(level, logfile string, stderr io.Writer) (*slog.Logger, func() error, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	out, closeFn := stderr, func() error { return nil }
	if logfile != "" {
		f, err := os.OpenFile(logfile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		out, closeFn = io.MultiWriter(stderr, f), f.Close
	}
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: lvl, ReplaceAttr: levelNames})
	return slog.New(h), closeFn, nil
}

// levelNames prints the original service's level names.
func levelNames(_ []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey {
		return a
	}
	switch lvl, _ := a.Value.Any().(slog.Level); {
	case lvl >= levelCritical:
		a.Value = slog.StringValue("CRITICAL")
	case lvl == slog.LevelWarn:
		a.Value = slog.StringValue("WARNING")
	}
	return a
}

// httpErrorLog is the net/http server's error log. Most of what net/http
// reports there is a client's doing (a TLS handshake that failed, a
// malformed request) and would flood the log at any level above DEBUG; a
// panic in a handler is herald's bug, which the sender sees as a dropped
// connection, and goes out at ERROR with its stack.
func httpErrorLog(l *slog.Logger) *log.Logger {
	return log.New(httpLogWriter{l}, "", 0)
}

type httpLogWriter struct{ log *slog.Logger }

func (w httpLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelDebug
	if strings.HasPrefix(msg, "http: panic serving") {
		level = slog.LevelError
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}
