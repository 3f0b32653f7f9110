//go:build unix

package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/router"
)

// TestHangupDoesNotKill: SIGHUP (systemctl reload, a closed terminal)
// reloads the rules, and without a rules file is only logged: it never ends
// the server, as its default action would. It runs the real binary, so the
// signal reaches herald's own handler and nothing else.
func TestHangupDoesNotKill(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-p", "0", "--data", memoryData)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	listening := regexp.MustCompile(`url=(http://\S+)`)
	base := ""
	waitLine(t, lines, func(l string) bool {
		if m := listening.FindStringSubmatch(l); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, func(l string) bool { return strings.Contains(l, "SIGHUP: no rules file to reload") })
	resp, err := http.Get(base + "/heartbeat")
	if err != nil {
		t.Fatalf("after SIGHUP the server is gone: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after SIGHUP /heartbeat = %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("herald after SIGINT: %v", err)
	}
}

// waitLine reads log lines until match accepts one, or fails after 30 s.
func waitLine(t *testing.T, lines <-chan string, match func(string) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("herald exited before the expected log line")
			}
			if match(l) {
				return
			}
		case <-deadline:
			t.Fatal("expected log line never came")
		}
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
