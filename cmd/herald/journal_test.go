package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldbin"
	"github.com/heraldhq/herald/internal/needs"
	"github.com/heraldhq/herald/internal/pagetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	heraldbin.Remove()
	os.Exit(code)
}

// heraldBinary is the real herald, built once per test run.
var heraldBinary = heraldbin.Path

// heraldProcess is a real herald binary on a free loopback port.
type heraldProcess struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
}

var listenAddr = regexp.MustCompile(`msg="herald listening" addr=(\S+)`)

func startHerald(t *testing.T, args ...string) *heraldProcess {
	t.Helper()
	return startHeraldUnder(t, nil, args...)
}

// startHeraldUnder is startHerald with the binary run by a wrapper
// command (prlimit, to give it a disk that fills).
func startHeraldUnder(t *testing.T, wrapper []string, args ...string) *heraldProcess {
	t.Helper()
	bin, err := heraldBinary()
	if err != nil {
		t.Fatal(err)
	}
	// These tests are one bot firing bursts faster than --rate-requests
	// allows (abuse_test.go covers it). The miss budget stays on, as by
	// default: alerts for a page that is away must never cost misses.
	base := []string{"-p", "0", "--admin-token", testToken, "--rate-requests", "off"}
	argv := append(append(append(wrapper[:len(wrapper):len(wrapper)], bin), base...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &heraldProcess{cmd: cmd, logs: &syncBuffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("herald log:\n%s", p.logs.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if m := listenAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("herald did not start:\n%s", p.logs.String())
	}
	return p
}

func (p *heraldProcess) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

type historyAnswer struct {
	Room    string         `json:"room"`
	Epoch   string         `json:"epoch"`
	Entries []historyEntry `json:"entries"`
}

func history(t *testing.T, base, room string, limit int) historyAnswer {
	t.Helper()
	a := do(t, "GET", fmt.Sprintf("%s/api/history?room=%s&limit=%d", base, url.QueryEscape(room), limit), nil,
		map[string]string{"Authorization": "Bearer " + testToken})
	if a.status != http.StatusOK {
		t.Fatalf("GET /api/history = %d %s", a.status, a.body)
	}
	var h historyAnswer
	if err := json.Unmarshal([]byte(a.body), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKill9AfterAnswersLosesNothing is the promise to senders: a trigger
// answered 200 is on disk. Senders fire triggers concurrently at a real
// herald; it is killed with SIGKILL in the middle of the traffic and
// restarted on the same data directory; every trigger that was answered
// 200 is in the history, in the same epoch, and offsets continue upwards.
func TestKill9AfterAnswersLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real herald")
	}
	data := t.TempDir()
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	// Keep every entry, so every answered trigger can be checked.
	if err := os.WriteFile(rulesFile, []byte("version: 1\njournal:\n  max_entries: 100000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// No page ever holds the room, so every trigger is a miss: the miss
	// budget is for guessers, not for this test's bursts.
	args := []string{"--data", data, "--rules", rulesFile, "--rate-misses", "off"}
	h := startHerald(t, args...)
	const room = "kill9room"
	var answered sync.Map // n → true, for every 200
	var sent atomic.Int64
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := sent.Add(1)
				resp, err := http.Get(fmt.Sprintf("%s/notify?code=%s&event=donation&n=%d", h.base, room, n))
				if err != nil {
					return // herald is gone
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					answered.Store(fmt.Sprint(n), true)
				}
			}
		})
	}
	// Let a few hundred triggers through, then kill herald mid-traffic.
	deadline := time.Now().Add(30 * time.Second)
	for count(&answered) < 300 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := history(t, h.base, room, 1)
	h.kill9(t)
	stop()
	wg.Wait()
	total := count(&answered)
	if total < 300 {
		t.Fatalf("only %d triggers answered 200 before the kill", total)
	}

	h2 := startHerald(t, args...)
	after := history(t, h2.base, room, maxHistory)
	if after.Epoch != before.Epoch {
		t.Errorf("epoch after kill -9 = %q, want %q", after.Epoch, before.Epoch)
	}
	have := map[string]bool{}
	var top uint64
	for _, e := range after.Entries {
		have[fmt.Sprint(e.Payload["n"])] = true
		top = max(top, e.Offset)
	}
	if len(after.Entries) < total {
		t.Errorf("history after restart holds %d entries, %d triggers were answered 200", len(after.Entries), total)
	}
	answered.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			t.Errorf("trigger n=%s was answered 200 and is gone after kill -9", k)
		}
		return true
	})
	if top < uint64(total) {
		t.Errorf("newest offset after restart = %d, but %d triggers were answered 200", top, total)
	}
	a := do(t, "GET", h2.base+"/notify?code="+room+"&event=donation&n=after", nil, nil)
	if a.status != http.StatusOK {
		t.Fatalf("trigger after restart = %d %s", a.status, a.body)
	}
	last := history(t, h2.base, room, 1)
	if len(last.Entries) != 1 || last.Entries[0].Offset <= top {
		t.Errorf("first offset after restart = %+v, want > %d", last.Entries, top)
	}
	t.Logf("%d triggers answered 200 before SIGKILL, offsets up to %d, all present after restart", total, top)
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestJournalAPI drives history, replay and status on the in-process
// server with the in-memory journal.
func TestJournalAPI(t *testing.T) {
	base := startServer(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	for i := range 3 {
		if a := do(t, "GET", fmt.Sprintf("%s/notify?code=api&event=follow&user=u%d", base, i), nil, nil); a.status != http.StatusOK {
			t.Fatalf("trigger = %d %s", a.status, a.body)
		}
	}
	h := history(t, base, "api", 2)
	if len(h.Entries) != 2 || h.Entries[0].Payload["user"] != "u1" || h.Entries[1].Payload["user"] != "u2" {
		t.Fatalf("history(limit 2) = %+v, want u1 then u2", h.Entries)
	}
	if h.Entries[0].Name != "FOLLOW" || h.Entries[0].Offset != 2 || h.Entries[1].Offset != 3 {
		t.Errorf("history entries = %+v, want FOLLOW at offsets 2 and 3", h.Entries)
	}
	tests := []struct {
		name       string
		method     string
		path, body string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{name: "history needs the token", method: "GET", path: "/api/history?room=api", wantStatus: http.StatusUnauthorized},
		{name: "history needs a room", method: "GET", path: "/api/history", header: auth, wantStatus: http.StatusBadRequest},
		{name: "history limit bounded", method: "GET", path: "/api/history?room=api&limit=0", header: auth, wantStatus: http.StatusBadRequest},
		{name: "replay needs the token", method: "POST", path: "/api/replay", body: `{"room":"api","last":1}`, wantStatus: http.StatusUnauthorized},
		{name: "replay last", method: "POST", path: "/api/replay", body: `{"room":"api","last":2}`, header: auth, wantStatus: http.StatusOK, wantBody: `"replayed":2`},
		{name: "replay by id", method: "POST", path: "/api/replay", body: fmt.Sprintf(`{"id":%q}`, h.Entries[0].EventID), header: auth, wantStatus: http.StatusOK, wantBody: `"replayed":1`},
		{name: "replay unknown id", method: "POST", path: "/api/replay", body: `{"id":"nope"}`, header: auth, wantStatus: http.StatusNotFound},
		{name: "replay both forms", method: "POST", path: "/api/replay", body: `{"id":"x","room":"api","last":1}`, header: auth, wantStatus: http.StatusBadRequest},
		{name: "replay unknown field", method: "POST", path: "/api/replay", body: `{"rooms":"api"}`, header: auth, wantStatus: http.StatusBadRequest},
		{name: "replay junk after the object", method: "POST", path: "/api/replay", body: `{"room":"api","last":1}xyz`, header: auth, wantStatus: http.StatusBadRequest, wantBody: "nothing after it"},
		{name: "replay two objects", method: "POST", path: "/api/replay", body: `{"room":"api","last":1}{"room":"api","last":1}`, header: auth, wantStatus: http.StatusBadRequest},
		{name: "replay a room no page can have", method: "POST", path: "/api/replay", body: fmt.Sprintf(`{"room":%q,"last":1}`, strings.Repeat("r", 257)), header: auth, wantStatus: http.StatusBadRequest, wantBody: "at most 256"},
		{name: "history of a room too long to be a code", method: "GET", path: "/api/history?room=" + strings.Repeat("r", 257), header: auth, wantStatus: http.StatusBadRequest, wantBody: "at most 256"},
		{name: "history of a room with a control character", method: "GET", path: "/api/history?room=a%00b", header: auth, wantStatus: http.StatusBadRequest, wantBody: "control character"},
		{name: "status", method: "GET", path: "/api/journal", header: auth, wantStatus: http.StatusOK, wantBody: `"store":"memory"`},
		{name: "the journal beside the rules", method: "GET", path: "/api/rules", header: auth, wantStatus: http.StatusOK, wantBody: `"journal":{"store":"memory"`},
		{name: "health needs the token", method: "GET", path: "/api/status", wantStatus: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, base+tc.path, strings.NewReader(tc.body), tc.header)
			if a.status != tc.wantStatus || !strings.Contains(a.body, tc.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, a.status, a.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	// Replays are not new alerts: the history is unchanged.
	if h := history(t, base, "api", 10); len(h.Entries) != 3 {
		t.Errorf("history after replays holds %d entries, want 3", len(h.Entries))
	}
}

// TestStatusAnswer: GET /api/status tells in one answer what is running:
// version, pages, the rules, and the journal's store and size on disk.
func TestStatusAnswer(t *testing.T) {
	h := startHerald(t, "--data", t.TempDir())
	page := pagetest.Start(t, h.base, pagetest.Options{Code: "status-page"})
	page.WaitRegistered(t)
	fire(t, h.base, "status-page", 1)
	expectAlerts(t, page, 1, 1, false)
	a := do(t, "GET", h.base+"/api/status", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var st struct {
		Version string `json:"version"`
		Pages   int    `json:"pages"`
		Rules   struct {
			Generation uint64          `json:"generation"`
			LastError  json.RawMessage `json:"last_error"`
		} `json:"rules"`
		Journal struct {
			Store   string `json:"store"`
			Entries int    `json:"entries"`
			Bytes   int64  `json:"bytes"`
		} `json:"journal"`
		Cluster json.RawMessage `json:"cluster"`
	}
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &st) != nil {
		t.Fatalf("GET /api/status = %d %s", a.status, a.body)
	}
	if st.Version == "" || st.Pages != 1 || st.Rules.Generation != 1 || string(st.Rules.LastError) != "null" ||
		st.Journal.Store != "bolt" || st.Journal.Entries != 1 || st.Journal.Bytes <= 0 || st.Cluster != nil {
		t.Errorf("GET /api/status = %s; want a version, 1 page, rules generation 1 without error, the bolt journal with 1 entry and its size, no cluster", a.body)
	}
}

// TestFullDiskAnswersWhatItCannotKeep: herald on a disk that fills up (a
// file size limit fails writes as a full disk does). An alert for a page
// that is there still reaches it, answered 200. One for a code with no
// page, which the journal can no longer keep for the next page, is
// answered 503 with the reason, so the sender sends it again: a 200 would
// tell it the alert waits for the page, and it would be lost unseen.
func TestFullDiskAnswersWhatItCannotKeep(t *testing.T) {
	prlimit := needs.Program(t, "apt-get install util-linux", "prlimit")
	h := startHeraldUnder(t, []string{prlimit, "--fsize=131072"}, "--data", t.TempDir(), "--rate-misses", "off")
	const code = "full-disk-page"
	p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
	p.WaitRegistered(t)

	// Alerts of 2 KB for codes with no page are kept as pending, until
	// the 128 KiB the journal's files may take are full.
	big := url.QueryEscape(strings.Repeat("x", 2000))
	var refused answer
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatalf("1000 alerts for codes with no page were answered 200 on a 128 KiB disk:\n%s", h.logs.String())
		}
		a := do(t, "GET", fmt.Sprintf("%s/notify?event=donation&text=%s&code=away-%d", h.base, big, i%20), nil, nil)
		if a.status != http.StatusOK {
			refused = a
			break
		}
	}
	if refused.status != http.StatusServiceUnavailable || !strings.Contains(refused.body, "the journal cannot keep it") ||
		!strings.Contains(refused.body, `"success":0`) {
		t.Errorf("an alert for a code with no page on a full disk = %d %s, want 503, success 0 and the reason", refused.status, refused.body)
	}
	// The page's alerts still go out, live, and are answered as delivered.
	a := do(t, "GET", h.base+"/notify?event=donation&n=1&code="+code, nil, nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"count":1`) {
		t.Errorf("an alert for the connected page on a full disk = %d %s, want 200 and count 1", a.status, a.body)
	}
	expectAlerts(t, p, 1, 1, false)
}

// TestJournalDiskUnavailableKeepsAlertsLive: --data names a place no
// journal can be created (here a file, as a read-only or full disk would
// refuse it too): herald starts anyway, pages get their alerts, and the
// fallback is said at ERROR and stays visible in GET /api/journal. A
// journal another herald holds still stops the start.
func TestJournalDiskUnavailableKeepsAlertsLive(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "herald-data")
	if err := os.WriteFile(notADir, []byte("a file, not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHerald(t, "--data", notADir)
	const code = "diskless"
	p := pagetest.Start(t, h.base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
	p.WaitRegistered(t)
	fire(t, h.base, code, 1)
	expectAlerts(t, p, 1, 1, false)
	a := do(t, "GET", h.base+"/api/journal", nil, map[string]string{"Authorization": "Bearer " + testToken})
	if a.status != http.StatusOK || !strings.Contains(a.body, "history in memory until restart") || !strings.Contains(a.body, `"state":"memory"`) {
		t.Errorf("GET /api/journal = %d %s, want state memory and the fallback named as the last error", a.status, a.body)
	}
	if !strings.Contains(h.logs.String(), "level=ERROR") || !strings.Contains(h.logs.String(), "cannot be opened on disk") {
		t.Errorf("the fallback was not logged at ERROR:\n%s", h.logs.String())
	}

	dir := t.TempDir()
	startHerald(t, "--data", dir)
	bin, err := heraldBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "-p", "0", "--data", dir).CombinedOutput()
	var exit *exec.ExitError
	if !errAs(err, &exit) || !strings.Contains(string(out), "another herald") {
		t.Errorf("a second herald on the same --data = %v, want an exit that names the other herald:\n%s", err, out)
	}
}
