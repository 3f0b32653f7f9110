package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"

	"github.com/heraldhq/herald/router"
)

// TestHangupDoesNotKill: SIGHUP (systemctl reload, a closed terminal)
// reloads the rules, and without a rules file is only logged: it never ends
// the server, as its default action would.
func TestHangupDoesNotKill(t *testing.T) {
	cfg, err := parseFlags([]string{"-p", "0", "--data", memoryData}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, nil, cfg, noEnv, logs, ready) }()
	base := "http://" + <-ready
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForText(t, logs, "SIGHUP: no rules file to reload")
	if a := do(t, "GET", base+"/heartbeat", nil, nil); a.status != 200 {
		t.Fatalf("after SIGHUP /heartbeat = %d", a.status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHangupOnUnchangedFile: a SIGHUP with the file as it was loaded says
// so, instead of a reload line that suggests something changed.
func TestHangupOnUnchangedFile(t *testing.T) {
	path := writeRules(t, "version: 1\nrules:\n  - name: r\n    emit: X\n")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	rt := router.New(router.Options{})
	if err := rt.Reload(path, data); err != nil {
		t.Fatal(err)
	}
	rl := reloader{rt: rt, file: path, log: slog.New(slog.NewTextHandler(logs, nil))}
	hup := make(chan os.Signal)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rl.onHangup(ctx, hup); close(done) }()
	hup <- syscall.SIGHUP
	waitForText(t, logs, "SIGHUP: rules file unchanged")
	if err := os.WriteFile(path, []byte("version: 1\nrules:\n  - name: r\n    emit: Y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitForText(t, logs, "SIGHUP: rules reloaded")
	cancel()
	<-done
	if st := rt.Status(); st.Generation != 2 {
		t.Errorf("generation = %d, want 2 (one load, one reload)", st.Generation)
	}
}
