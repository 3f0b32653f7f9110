//go:build unix

package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
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
