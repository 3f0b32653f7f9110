package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
)

// TestShutdownDuringTraffic: triggers keep coming while herald shuts down.
// Every trigger is either answered 200 and reaches every page, or refused
// (503, or the connection is refused once the listener is gone): none is
// answered 200 and then lost. With the journal on disk, one that was
// journaled just as the pages were closed is answered 200 too (a retry
// would show it twice): the pages get it when herald is back.
func TestShutdownDuringTraffic(t *testing.T) {
	aFile := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    string // "" for a new directory
		durable bool
	}{
		{name: "journal in memory", data: memoryData},
		{name: "journal in memory for want of a disk", data: aFile},
		{name: "journal on disk", durable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if data == "" {
				data = t.TempDir()
			}
			// Four senders fire as fast as they can until the shutdown; at
			// full speed that passes the request rate limit, which is not
			// under test.
			cfg, err := parseFlags([]string{"-p", freePort(t), "-l", "DEBUG", "--data", data, "--rate-requests", "off"}, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			pages, delivered := trafficThroughAShutdown(t, cfg, tc.durable)
			if tc.durable {
				// The pages come back on their own and recover what was
				// journaled for them.
				serveInTest(t, cfg, noEnv)
			}
			for name, p := range pages {
				got := map[int]bool{}
				for len(got) < len(delivered) {
					msg := p.Next(t, 20*time.Second) // fails the test if an alert answered 200 never came
					if msg.Event != "TICK" {
						t.Fatalf("%s page got %s, want TICK", name, msg.Event)
					}
					var data map[string]string
					if err := msg.Decode(0, &data); err != nil {
						t.Fatal(err)
					}
					n, _ := strconv.Atoi(data["n"])
					if got[n] {
						t.Fatalf("%s page got n=%d twice", name, n)
					}
					if delivered[n] {
						got[n] = true
					} // else refused but reached this page: allowed (the sender retries)
				}
			}
		})
	}
}

// trafficThroughAShutdown serves cfg, connects a page on each transport,
// fires triggers from four senders and shuts herald down while they are
// in flight. It returns the pages, by transport, and the triggers
// answered 200; a 200 says how many pages the trigger reached: every
// page, or, with a durable journal, none when it took the alert as the
// pages were closing.
func trafficThroughAShutdown(t *testing.T, cfg config, durable bool) (pages map[string]*pagetest.Page, delivered map[int]bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- serve(ctx, nil, cfg, noEnv, logs, ready) }()
	base := "http://" + <-ready
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	const code = "shutdown-live"
	pages = map[string]*pagetest.Page{
		"websocket": pagetest.Start(t, base, pagetest.Options{Code: code, Transports: []string{"websocket"}}),
		"polling":   pagetest.Start(t, base, pagetest.Options{Code: code, Transports: []string{"polling"}}),
	}
	for _, p := range pages {
		p.WaitRegistered(t)
	}

	type result struct {
		n      int
		status int // 0: no answer (connection refused or reset)
		count  int
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		ok      = make(chan struct{}, 1024)
		next    int
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				r := result{n: n}
				resp, err := client.Get(base + "/notify?code=" + code + "&event=tick&n=" + strconv.Itoa(n))
				if err == nil {
					var body struct{ Count int }
					r.status = resp.StatusCode
					_ = decodeJSON(resp.Body, &body)
					resp.Body.Close()
					r.count = body.Count
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if r.status == http.StatusOK {
					select {
					case ok <- struct{}{}:
					default:
					}
				}
				if err != nil || r.status != http.StatusOK || r.count == 0 {
					return // refused, or journaled for later: herald is going away
				}
			}
		})
	}
	for range 50 {
		<-ok
	}
	cancel() // shut down with triggers in flight
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	delivered = map[int]bool{}
	refused, later := 0, 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			if r.count == 0 && durable {
				later++
			} else if r.count != len(pages) {
				t.Errorf("trigger %d answered 200 with count %d, want %d (every page)", r.n, r.count, len(pages))
			}
			delivered[r.n] = true
		case http.StatusServiceUnavailable, 0:
			refused++
		default:
			t.Errorf("trigger %d answered %d, want 200 or 503", r.n, r.status)
		}
	}
	t.Logf("%d triggers answered 200 (%d of them journaled for when the pages come back), %d refused during shutdown", len(delivered), later, refused)
	return pages, delivered
}

func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}
	return nil
}

// TestShutdownWithADashboardOpen: a signed-in dashboard tab holds a
// stream that never ends on its own. Shutdown ends it and stops cleanly;
// it used to wait for the tab until --shutdown-timeout and then fail
// (exit status 1 under systemd).
func TestShutdownWithADashboardOpen(t *testing.T) {
	cfg, err := parseFlags([]string{"-p", "0", "--data", memoryData, "--admin-token", testToken, "--shutdown-timeout", "20s"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, _, stop := serveInTest(t, cfg, noEnv)

	a := doRaw(t, "POST", base+"/admin/login", `{"token":"`+testToken+`"}`, map[string]string{"Content-Type": "application/json"})
	var session *http.Cookie
	for _, c := range a.cookies {
		if c.Name == cookieName {
			session = c
		}
	}
	if a.status != http.StatusOK || session == nil {
		t.Fatalf("sign-in = %d, cookie %v", a.status, session)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/admin/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 64)
	if n, err := resp.Body.Read(first); err != nil || !strings.HasPrefix(string(first[:n]), "event: history") {
		t.Fatalf("stream began %q (%v), want the history event", first[:n], err)
	}

	stop() // fails the test if the shutdown does
	if t.Failed() {
		t.FailNow()
	}
	// The stream ended (EOF, not a reset): the tab sees it and reconnects.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
}
