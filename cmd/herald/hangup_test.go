package main

import (
	"context"
	"io"
	"syscall"
	"testing"
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
