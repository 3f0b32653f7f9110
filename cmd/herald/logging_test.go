package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandlerPanicIsLoggedAsError: a panic in a handler is herald's bug
// and reaches the log at ERROR, where an operator sees it; a client's
// malformed request stays at DEBUG.
func TestHandlerPanicIsLoggedAsError(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("a bug") }))
	srv.Config.ErrorLog = httpErrorLog(log)
	srv.Start()
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("a panicking handler answered %d", resp.StatusCode)
	}
	srv.Close() // waits for the handler's goroutine, so the line is written
	if line := out.String(); !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "panic serving") || !strings.Contains(line, "a bug") {
		t.Errorf("log after a handler panicked:\n%s\nwant an ERROR line with the panic", line)
	}

	out.Reset()
	httpErrorLog(log).Print("http: TLS handshake error from 127.0.0.1:1234: EOF")
	if out.Len() != 0 {
		t.Errorf("a client's failed handshake logged at INFO or above:\n%s", out.String())
	}
}
