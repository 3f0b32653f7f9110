package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	heraldbin.Remove()
	os.Exit(code)
}

// heraldBinary is the real herald, built once per test run.
var heraldBinary = heraldbin.Path

// startHerald starts the real herald on a free loopback port, with the
// journal in memory and the per-client limits off (a load test is one
// client), and returns its base URL and process.
func startHerald(t *testing.T) (string, *os.Process) {
	t.Helper()
	bin, err := heraldBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", "0", "--data", ":memory:", "--rate-requests", "off", "--rate-misses", "off",
		"--rate-handshakes", "off", "--rate-handshakes-total", "off", "--conns-per-ip", "0", "--conns-total", "0", "--bodies-per-ip", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="herald listening" addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, cmd.Process
	case <-time.After(30 * time.Second):
		t.Fatal("herald did not start")
	}
	return "", nil
}

// runLoad runs herald-load with args and returns its exit code and report.
func runLoad(t *testing.T, ctx context.Context, args ...string) (int, report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	var rep report
	if err := json.Unmarshal(lines[len(lines)-1], &rep); err != nil {
		t.Fatalf("exit %d, last line not a report: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	return code, rep, stderr.String()
}

// readers are the ways herald-load can read its pages on this machine;
// io_uring where the kernel allows it (a sandbox may refuse it: the uring
// runs then skip and say why, and goroutines still cover the behaviour).
func readers(t *testing.T) []string {
	if !uringSupported {
		return []string{"goroutines"}
	}
	if err := uringUsable(); err != nil {
		t.Logf("io_uring refused here (%v): only -reader goroutines runs", err)
		return []string{"goroutines"}
	}
	return []string{"goroutines", "uring"}
}

// TestLoadAgainstHerald runs herald-load against a real herald with each
// reader and each way of registering: every trigger must reach every page
// of its code, and the report must say so.
func TestLoadAgainstHerald(t *testing.T) {
	base, proc := startHerald(t)
	for _, reader := range readers(t) {
		for _, register := range []string{"event", "handshake"} {
			t.Run(reader+"/"+register, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				code, rep, stderr := runLoad(t, ctx, "-url", base, "-pid", strconv.Itoa(proc.Pid),
					"-reader", reader, "-register", register, "-code-prefix", reader+register,
					"-pages", "60", "-codes", "6", "-triggers", "120", "-concurrency", "4", "-warmup", "10")
				if code != exitOK || !rep.OK {
					t.Fatalf("exit %d, report %+v\n%s", code, rep, stderr)
				}
				// 120 triggers over 6 codes of 10 pages each.
				if rep.Connected != 60 || rep.Expected != 1200 || rep.Delivered != 1200 || rep.TriggersOK != 120 {
					t.Errorf("connected %d, triggers ok %d, delivered %d of %d; want 60, 120, 1200 of 1200",
						rep.Connected, rep.TriggersOK, rep.Delivered, rep.Expected)
				}
				if rep.LatP50Ms <= 0 || rep.DeliveriesPerS <= 0 {
					t.Errorf("latency p50 %v ms, %v deliveries/s: want both measured", rep.LatP50Ms, rep.DeliveriesPerS)
				}
				if rep.Reader != reader {
					t.Errorf("report says reader %q, want %q", rep.Reader, reader)
				}
			})
		}
	}
}

// TestLoadSeesTheServerGo kills herald while the pages hold: the run must
// end in failure with the pages counted dead, not hang or pass.
func TestLoadSeesTheServerGo(t *testing.T) {
	for _, reader := range readers(t) {
		t.Run(reader, func(t *testing.T) {
			base, proc := startHerald(t)
			time.AfterFunc(2*time.Second, func() { proc.Kill() })
			code, rep, stderr := runLoad(t, t.Context(), "-url", base, "-reader", reader,
				"-pages", "20", "-codes", "2", "-hold", "5s", "-timeout", "20s")
			if code != exitFailure || rep.OK || rep.AliveAfterHold != 0 {
				t.Fatalf("exit %d (want %d), ok %v, %d pages alive after herald was killed\n%s",
					code, exitFailure, rep.OK, rep.AliveAfterHold, stderr)
			}
		})
	}
}
