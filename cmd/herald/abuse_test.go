package main

// The abuse suite replays, against the real server on loopback, each
// finding of the adversarial run in issue 9, bounded in count and time.
// Each test fails if its finding comes back. Memory figures are the test
// process's own heap (the server runs in it), after a GC.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/pagetest"
)

// heapInUse is the live heap after a collection, in bytes.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// TestAbuseCrossOrigin: under the defaults a request from a page on
// another origin (or a name that only DNS rebinding would send) can
// neither fire an alert, nor read a count, nor open a Socket.IO session,
// while local files, OBS local files and herald's own pages can.
func TestAbuseCrossOrigin(t *testing.T) {
	base := startServer(t, nil)
	port := base[strings.LastIndex(base, ":")+1:]
	notify := "/notify?code=victim&event=follow"
	polling := "/socket.io/?EIO=4&transport=polling"
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		wantStatus int
	}{
		{name: "trigger from another site", path: notify, header: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403},
		{name: "polling handshake from another site", path: polling, header: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403},
		{name: "trigger from an <img> on another site", path: notify, header: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, wantStatus: 403},
		{name: "trigger under a rebound name", path: notify, header: map[string]string{"Host": "evil.example:" + port}, wantStatus: 403},
		{name: "polling under a rebound name", path: polling, header: map[string]string{"Host": "evil.example:" + port}, wantStatus: 403},
		{name: "localhost on another port is another site", path: notify, header: map[string]string{"Origin": "http://localhost:1"}, wantStatus: 403},
		{name: "trigger from a local file", path: notify, header: map[string]string{"Origin": "null"}, wantStatus: 200},
		{name: "trigger from an OBS local file", path: notify, header: map[string]string{"Origin": "http://absolute"}, wantStatus: 200},
		{name: "trigger from herald's own page", path: notify, header: map[string]string{"Origin": base}, wantStatus: 200},
		{name: "herald's own page by another loopback name", path: notify, header: map[string]string{"Origin": "http://localhost:" + port}, wantStatus: 200},
		{name: "trigger from a bot (no Origin)", path: notify, wantStatus: 200},
		{name: "polling from a local file", path: polling, header: map[string]string{"Origin": "null"}, wantStatus: 200},
		{name: "the client bundle embeds anywhere", path: "/socket.io/socket.io.js", header: map[string]string{"Origin": "https://evil.example"}, wantStatus: 200},
		{name: "localhost names", path: notify, header: map[string]string{"Host": "localhost:" + port}, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if h := tc.header["Host"]; h != "" {
				req.Host = h
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("GET %s %v = %d, want %d", tc.path, tc.header, resp.StatusCode, tc.wantStatus)
			}
			if acao := resp.Header.Get("Access-Control-Allow-Origin"); acao == "*" || (acao != "" && acao == tc.header["Origin"] && resp.StatusCode == 403) {
				t.Errorf("answer lets %q read it (Access-Control-Allow-Origin %q)", tc.header["Origin"], acao)
			}
		})
	}

	t.Run("websocket from another site", func(t *testing.T) {
		ws := "ws://" + hostOf(base) + "/socket.io/?EIO=4&transport=websocket"
		_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), ws, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("websocket with a foreign Origin: err %v, resp %v; want a 403 refusal", err, resp)
		}
		c, _, err := websocket.DefaultDialer.DialContext(t.Context(), ws, http.Header{"Origin": {"null"}})
		if err != nil {
			t.Fatalf("websocket from a local file refused: %v", err)
		}
		c.Close()
	})
}

// TestAbuseCorsStar: --cors-origin '*' is the old behaviour, on purpose.
func TestAbuseCorsStar(t *testing.T) {
	base := startServer(t, func(c *config) { c.corsOrigin = "*" })
	a := do(t, "GET", base+"/notify?code=x&event=y", nil, map[string]string{"Origin": "https://evil.example"})
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("with --cors-origin '*' a foreign page got %d, ACAO %q; want 200, *", a.status, a.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestAbuseCodeGuessing: /notify's count is no oracle. A client guessing
// codes is refused (429 with Retry-After, in the seed's answer shape) once
// it has spent its misses, and then learns nothing, even on a hit; with
// --trigger-key only key holders are answered at all.
func TestAbuseCodeGuessing(t *testing.T) {
	t.Run("misses", func(t *testing.T) {
		base := startServer(t, func(c *config) { c.rateRequests = limit.Rate{} })
		page := pagetest.Start(t, base, pagetest.Options{Code: "the-real-code"})
		page.WaitRegistered(t)
		refused := 0
		for i := range 200 {
			a := do(t, "GET", fmt.Sprintf("%s/notify?code=guess-%d&event=x", base, i), nil, nil)
			switch a.status {
			case 200:
			case 429:
				refused++
				if a.header.Get("Retry-After") == "" || !strings.Contains(a.body, `"success":0,"count":0`) {
					t.Fatalf("refusal %d %v %s lacks Retry-After or the seed's shape", a.status, a.header, a.body)
				}
			default:
				t.Fatalf("guess %d = %d %s", i, a.status, a.body)
			}
		}
		if want := 200 - defaultRateMisses.Burst - 5; refused < want {
			t.Fatalf("%d of 200 guesses refused, want at least %d", refused, want)
		}
		a := do(t, "GET", base+"/notify?code=the-real-code&event=x", nil, nil)
		if a.status != 429 || strings.Contains(a.body, `"count":1`) {
			t.Fatalf("the right guess after the misses = %d %s; want 429 telling nothing", a.status, a.body)
		}
		t.Logf("%d of 200 guesses refused (429); a right guess is refused too", refused)
	})
	t.Run("a page that is away", func(t *testing.T) {
		// A bot firing alerts while OBS is closed is no guesser: triggers
		// for a code a page held lately cost no miss and wait in the
		// journal for the page; guesses still cost one each.
		base := startServer(t, func(c *config) { c.rateRequests = limit.Rate{} })
		const code = "obs-overlay"
		page := pagetest.Start(t, base, pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}})
		page.Connected(t, pageWait)
		page.WaitRegistered(t)
		page.Leave()
		away := 2 * defaultRateMisses.Burst
		for n := 1; n <= away; n++ {
			fire(t, base, code, n)
		}
		page.Return()
		if !page.Connected(t, pageWait) {
			t.Fatal("the page did not recover its session")
		}
		expectAlerts(t, page, 1, away, false)
		refused := 0
		for i := range 100 {
			if a := do(t, "GET", fmt.Sprintf("%s/notify?code=guess-%d&event=x", base, i), nil, nil); a.status == 429 {
				refused++
			}
		}
		if want := 100 - defaultRateMisses.Burst - 5; refused < want {
			t.Fatalf("%d of 100 guesses refused after the page's alerts, want at least %d", refused, want)
		}
	})
	t.Run("trigger key", func(t *testing.T) {
		base := startServer(t, func(c *config) { c.triggerKey = "k3y-for-tests" })
		if a := do(t, "GET", base+"/notify?code=x&event=y", nil, nil); a.status != 401 {
			t.Fatalf("no key = %d %s, want 401", a.status, a.body)
		}
		if a := do(t, "GET", base+"/notify?code=x&event=y&token=k3y-for-tests", nil, nil); a.status != 200 || !strings.Contains(a.body, `"count":0`) {
			t.Fatalf("key in the query = %d %s, want 200 with the count", a.status, a.body)
		}
		if a := do(t, "GET", base+"/notify?code=x&event=y", nil, map[string]string{"Authorization": "bearer k3y-for-tests"}); a.status != 200 {
			t.Fatalf("lowercase bearer key = %d %s, want 200", a.status, a.body)
		}
	})
	t.Run("code key", func(t *testing.T) {
		base := startServer(t, func(c *config) { c.codeKeys = map[string]string{"keyed": "code-k3y"} })
		tests := []struct {
			name, query string
			wantStatus  int
		}{
			{name: "keyed code without its key", query: "code=keyed&event=y", wantStatus: 401},
			{name: "keyed code with a wrong key", query: "code=keyed&event=y&token=nope", wantStatus: 401},
			{name: "keyed code with its key", query: "code=keyed&event=y&token=code-k3y", wantStatus: 200},
			{name: "another code stays open", query: "code=open&event=y", wantStatus: 200},
		}
		for _, tc := range tests {
			if a := do(t, "GET", base+"/notify?"+tc.query, nil, nil); a.status != tc.wantStatus || strings.Contains(a.body, "code-k3y") {
				t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.body, tc.wantStatus)
			}
		}
	})
}

// TestAbuseRequestRate: a client firing triggers as fast as it can is
// told to slow down with 429 and Retry-After, in /notify's answer shape
// (a bot written for the seed reads msg).
func TestAbuseRequestRate(t *testing.T) {
	base := startServer(t, func(c *config) { c.rateMisses = limit.Rate{} })
	var limited answer
	for i := range 300 {
		a := do(t, "GET", base+"/notify?code=c&event=e", nil, nil)
		if a.status == 429 {
			limited = a
			t.Logf("request %d refused", i+1)
			break
		}
	}
	if limited.status != 429 || limited.header.Get("Retry-After") == "" {
		t.Fatalf("300 triggers in a row were never refused with 429 + Retry-After")
	}
	if want := `{"success":0,"count":0,"msg":"too many requests; retry later"}`; limited.body != want {
		t.Errorf("refusal = %s, want %s", limited.body, want)
	}
}

// TestAbuseHandshakeFlood: a flood of Socket.IO handshakes that are never
// used is refused past the handshake rate, so their memory stays bounded.
func TestAbuseHandshakeFlood(t *testing.T) {
	base := startServer(t, nil)
	before := heapInUse()
	refused := 0
	const n = 3000
	for range n {
		a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", nil, nil)
		if a.status == 429 {
			refused++
		} else if a.status != 200 {
			t.Fatalf("handshake = %d %s", a.status, a.body)
		}
	}
	grown := int64(heapInUse()) - int64(before)
	t.Logf("%d of %d handshakes refused; heap grew %.1f MB", refused, n, float64(grown)/1e6)
	if refused < n-defaultRateHandshakes.Burst-100 {
		t.Errorf("only %d of %d handshakes refused", refused, n)
	}
	if grown > 20<<20 {
		t.Errorf("heap grew %d MB under a handshake flood, want < 20", grown>>20)
	}
}

// TestAbuseSocketConnections: open Socket.IO connections are counted per
// client, hijacked WebSockets included, and a closed one frees its place.
func TestAbuseSocketConnections(t *testing.T) {
	base := startServer(t, func(c *config) { c.connsPerIP = 3 })
	ws := "ws://" + hostOf(base) + "/socket.io/?EIO=4&transport=websocket"
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range 3 {
		c, _, err := websocket.DefaultDialer.DialContext(t.Context(), ws, nil)
		if err != nil {
			t.Fatalf("connection within the limit refused: %v", err)
		}
		open = append(open, c)
	}
	_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), ws, nil)
	if err == nil || resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a 4th connection: err %v resp %v; want 503 with Retry-After", err, resp)
	}
	open[0].Close()
	open = open[1:]
	waitFor(t, "the closed connection's place to free", func() bool {
		c, resp, err := websocket.DefaultDialer.DialContext(t.Context(), ws, nil)
		if err != nil {
			t.Logf("dial: %v %v", err, resp)
			return false
		}
		open = append(open, c)
		return true
	})
}

// slowBody sends a request's headers and the first byte of a body it
// announced as 1000 bytes, then waits for the answer.
func slowBody(t *testing.T, addr, path string) (status chan string) {
	t.Helper()
	return slowBodyWith(t, addr, path, "Host: "+addr)
}

// slowBodyWith is slowBody with the given header lines (Host among them).
func slowBodyWith(t *testing.T, addr, path, headers string) (status chan string) {
	t.Helper()
	status = make(chan string, 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		status <- "dial: " + err.Error()
		return status
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\n%s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\nx", path, headers)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a safety net, not an assertion
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			status <- "read: " + err.Error()
			return
		}
		status <- strings.TrimSpace(line)
	}()
	return status
}

// TestAbuseSlowBodies: bodies that never finish are cut with a 408 (not a
// reset) on every path, Socket.IO long-polling included; past
// --bodies-per-ip a client's further bodies are refused at once (503); and
// the server keeps answering /heartbeat while 1,000 are held.
func TestAbuseSlowBodies(t *testing.T) {
	base := startServer(t, func(c *config) { c.bodyTimeout = 2 * time.Second; c.rateRequests = limit.Rate{} })
	addr := hostOf(base)
	var all []chan string
	paths := []string{"/notify", "/socket.io/?EIO=4&transport=polling&sid=someone", "/heartbeat", "/nowhere"}
	for i := range 1000 {
		all = append(all, slowBody(t, addr, paths[i%len(paths)]))
	}
	if a := do(t, "GET", base+"/heartbeat", nil, nil); a.status != 200 {
		t.Fatalf("/heartbeat while 1000 bodies are held = %d", a.status)
	}
	counts := map[string]int{}
	for _, ch := range all {
		counts[<-ch]++
	}
	t.Logf("answers to 1000 slow bodies: %v", counts)
	for got, n := range counts {
		if !strings.Contains(got, " 408 ") && !strings.Contains(got, " 503 ") {
			t.Errorf("%d slow bodies answered %q, want 408 (or 503 past the limits)", n, got)
		}
	}
	// At most --bodies-per-ip (128) are held at once; over the run more
	// may be, as the first ones time out and free their places.
	if counts["HTTP/1.1 408 Request Timeout"] == 0 || counts["HTTP/1.1 503 Service Unavailable"] == 0 {
		t.Errorf("want some bodies held until the deadline (408) and the rest refused at once (503)")
	}
}

// TestAbuseSlowBodyRefusedUnread: a request refused before its body is
// read (a foreign Origin or Host, a spent request budget) is answered at
// once, however slowly its body comes: the server no longer waits for
// the rest of it, with no deadline, before sending the refusal, holding
// the connection past --body-timeout and --bodies-per-ip.
func TestAbuseSlowBodyRefusedUnread(t *testing.T) {
	base := startServer(t, func(c *config) {
		c.bodyTimeout = 30 * time.Second // longer than the answer may take: the refusals must not wait for it
		c.rateRequests = limit.Rate{Burst: 1, PerSecond: 1.0 / 60}
	})
	addr := hostOf(base)
	if a := do(t, "GET", base+"/notify?code=spent&event=x", nil, nil); a.status != http.StatusOK {
		t.Fatalf("the one /notify the budget allows = %d", a.status)
	}
	for _, tc := range []struct{ name, headers, want string }{
		{"foreign origin", "Host: " + addr + "\r\nOrigin: https://evil.example", "HTTP/1.1 403 Forbidden"},
		{"foreign host", "Host: evil.example", "HTTP/1.1 403 Forbidden"},
		{"request budget spent", "Host: " + addr, "HTTP/1.1 429 Too Many Requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := <-slowBodyWith(t, addr, "/notify", tc.headers); got != tc.want {
				t.Errorf("a slow body refused before it is read got %q, want %q at once", got, tc.want)
			}
		})
	}
}

// TestAbuseSmallFindings replays the LOW findings one by one.
func TestAbuseSmallFindings(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		".env": "SECRET=1", ".git/config": "[core]", "index.html": "<p>root</p>", "overlay/index.html": "<p>overlay</p>",
		"overlay/.hidden.js": "x", "empty/x.txt": "x",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := startServer(t, func(c *config) { c.sourcesDir = dir })
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		wantStatus int
		wantIn     string
	}{
		{name: "dotfile", path: "/sources/.env", wantStatus: 404},
		{name: "dot directory", path: "/sources/.git/config", wantStatus: 404},
		{name: "dotfile in a directory", path: "/sources/overlay/.hidden.js", wantStatus: 404},
		{name: "index.html of the root", path: "/sources/", wantStatus: 200, wantIn: "root"},
		{name: "index.html of a directory", path: "/sources/overlay/", wantStatus: 200, wantIn: "overlay"},
		{name: "a directory without one is not listed", path: "/sources/empty/", wantStatus: 404},
		{name: "too many query parameters", path: "/notify?" + strings.Repeat("a=1&", 10001) + "code=c&event=e", wantStatus: 400, wantIn: "query"},
		{name: "lowercase bearer", path: "/clients", header: map[string]string{"Authorization": "bearer " + testToken}, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "GET", base+tc.path, nil, tc.header)
			if a.status != tc.wantStatus || !strings.Contains(a.body, tc.wantIn) {
				t.Fatalf("GET %.60s = %d %.200s, want %d with %q", tc.path, a.status, a.body, tc.wantStatus, tc.wantIn)
			}
		})
	}
}

// getFrom GETs url with the admin token from local address ip (another
// loopback address: another client to herald) and returns the status.
func getFrom(t *testing.T, ip, url, token string) int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAbuseLogFlood: a client hammering the admin API with a wrong token
// gets each refusal (401, then 429 once its refusals ran out), but the log
// only the first lines of it per minute. Once limited, the guesser gets
// 429 for the right token too (else every guess would still be answered,
// and guessing would go on at full speed); another client with the right
// token is still served, and so is a signed-in dashboard at the
// guesser's address.
func TestAbuseLogFlood(t *testing.T) {
	// A budget that refills one refusal every 12 s: with the default (one
	// every 83 ms) a loaded machine could refill one between the last
	// wrong token and the right one, which then is rightly served.
	cfg, err := parseFlags([]string{"-p", "0", "--admin-token", testToken, "--data", memoryData, "--rate-requests", "50/10m"}, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, stop := serveInTest(t, cfg, noEnv)
	unauthorized, limited := 0, 0
	for range 500 {
		switch a := do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer wrong"}); a.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("wrong token = %d", a.status)
		}
	}
	if burst := cfg.rateRequests.Burst; unauthorized == 0 || unauthorized > burst+10 || limited == 0 {
		t.Errorf("500 wrong tokens: %d answered 401, %d 429; want guessing cut off after about %d", unauthorized, limited, burst)
	}
	if a := do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer " + testToken}); a.status != http.StatusTooManyRequests {
		t.Errorf("the right token from the limited guesser's address = %d, want 429: an answer would tell the guess is right", a.status)
	}
	if status := getFrom(t, "127.0.0.2", base+"/clients", testToken); status != http.StatusOK {
		t.Errorf("the right token from another address = %d, want 200: guessing must not lock the owner out", status)
	}
	a := doRaw(t, "POST", base+"/admin/login", `{"token":"`+testToken+`"}`, map[string]string{"Content-Type": "application/json"})
	var signedIn struct{ CSRF string }
	_ = json.Unmarshal([]byte(a.body), &signedIn)
	if a.status != http.StatusOK || len(a.cookies) == 0 {
		t.Fatalf("dashboard sign-in at the guesser's address = %d %s, want 200", a.status, a.body)
	}
	action := doRaw(t, "POST", base+"/admin/api/route?dry_run=1", `{"source":"x","type":"follow","code":"c1"}`, map[string]string{
		"Cookie": cookieName + "=" + a.cookies[0].Value, "X-CSRF-Token": signedIn.CSRF, "Content-Type": "application/json"})
	if action.status != http.StatusOK {
		t.Errorf("a signed-in dashboard's action at the guesser's address = %d %s, want 200: it is no guess", action.status, action.body)
	}
	stop()
	if n := strings.Count(logs.String(), "admin request refused"); n > defaultLogLimit.Burst {
		t.Fatalf("500 refused admin requests wrote %d log lines, want at most %d", n, defaultLogLimit.Burst)
	}
}

// TestAbuseRenameDoesNotReplay: renaming a Twitch instance keeps its
// de-duplication window (it is keyed by type, path and secret).
func TestAbuseRenameDoesNotReplay(t *testing.T) {
	rulesFor := func(name string) string {
		return strings.Replace(webhookRules, "  twitch:\n    type: twitch", "  "+name+":\n    type: twitch", 1)
	}
	env := map[string]string{"TWITCH_SECRET": twitchSecret, "KOFI_TOKEN": "kofi-token", "ALERT_CODE": "rename"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, path, rulesFor("twitch"))
	base := startServerEnv(t, getenv, func(c *config) { c.rulesFile = path })
	body := `{"subscription":{"id":"s1","type":"channel.follow","version":"2"},"event":{"user_name":"Ada"}}`
	send := func() answer {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		return do(t, "POST", base+"/webhooks/twitch", strings.NewReader(body), map[string]string{
			"Content-Type": "application/json", "Twitch-Eventsub-Message-Id": "once",
			"Twitch-Eventsub-Message-Type": "notification", "Twitch-Eventsub-Message-Timestamp": ts,
			"Twitch-Eventsub-Message-Signature": twitchSignature("once", ts, body),
			"Twitch-Eventsub-Subscription-Type": "channel.follow",
		})
	}
	if a := send(); a.status != 200 || strings.Contains(a.body, "duplicate") {
		t.Fatalf("first delivery = %d %s", a.status, a.body)
	}
	writeAtomically(t, path, rulesFor("twitch_renamed"))
	waitFor(t, "the renamed instance to load", func() bool { return rulesStatus(t, base).Generation == 2 })
	if a := send(); a.status != 200 || !strings.Contains(a.body, `"duplicate":true`) {
		t.Fatalf("Twitch's retry after the rename = %d %s, want a duplicate", a.status, a.body)
	}
}

// TestAbuseForgedWebhooks: forged, unsigned, stale and replayed Twitch
// messages are all refused; none reaches a page.
func TestAbuseForgedWebhooks(t *testing.T) {
	env := map[string]string{"TWITCH_SECRET": twitchSecret, "KOFI_TOKEN": "kofi-token", "ALERT_CODE": "forged"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, path, webhookRules)
	base := startServerEnv(t, getenv, func(c *config) { c.rulesFile = path; c.rateRequests = limit.Rate{} })
	page := pagetest.Start(t, base, pagetest.Options{Code: "forged"})
	page.WaitRegistered(t)
	body := `{"subscription":{"id":"s1","type":"channel.follow","version":"2"},"event":{"user_name":"Mallory"}}`
	now := time.Now().UTC()
	accepted := 0
	for i := range 60 {
		id := fmt.Sprintf("forged-%d", i)
		ts := now.Format(time.RFC3339Nano)
		sig := twitchSignature(id, ts, body)
		switch i % 4 {
		case 0:
			sig = "sha256=" + strings.Repeat("ab", 32)
		case 1:
			sig = ""
		case 2: // signed, but eleven minutes old
			ts = now.Add(-11 * time.Minute).Format(time.RFC3339Nano)
			sig = twitchSignature(id, ts, body)
		case 3: // signed for another body
			sig = twitchSignature(id, ts, body+" ")
		}
		a := do(t, "POST", base+"/webhooks/twitch", strings.NewReader(body), map[string]string{
			"Content-Type": "application/json", "Twitch-Eventsub-Message-Id": id,
			"Twitch-Eventsub-Message-Type": "notification", "Twitch-Eventsub-Message-Timestamp": ts,
			"Twitch-Eventsub-Message-Signature": sig, "Twitch-Eventsub-Subscription-Type": "channel.follow",
		})
		if a.status == 200 {
			accepted++
		}
	}
	if accepted != 0 {
		t.Fatalf("%d of 60 forged webhooks accepted", accepted)
	}
	form := url.Values{"data": {`{"verification_token":"wrong","message_id":"k","type":"Donation","from_name":"Mallory","amount":"1","currency":"EUR"}`}}.Encode()
	if a := do(t, "POST", base+"/webhooks/kofi", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); a.status != 403 {
		t.Fatalf("Ko-fi with a wrong token = %d %s, want 403", a.status, a.body)
	}
	if a := do(t, "GET", base+"/notify?code=forged&event=marker", nil, nil); a.status != 200 {
		t.Fatal(a.body)
	}
	if got := page.Next(t, 10*time.Second).Event; got != "MARKER" {
		t.Fatalf("the page's next alert is %s, want the MARKER sent after the forgeries", got)
	}
}

// TestAbuseHealthyPagesThroughBurstsAndIdleGaps is the short version of
// item 1: pages that read everything keep every alert through bursts and
// an idle gap longer than the write timeout (10 s).
func TestAbuseHealthyPagesThroughBurstsAndIdleGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s write timeout")
	}
	base := startServer(t, func(c *config) { c.rateRequests = limit.Rate{} })
	var pages []*pagetest.Page
	for i := range 3 {
		p := pagetest.Start(t, base, pagetest.Options{Code: "healthy", Transports: [][]string{{"websocket"}, {"polling"}, {"polling", "websocket"}}[i]})
		p.WaitRegistered(t)
		pages = append(pages, p)
	}
	fire := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if a := do(t, "GET", fmt.Sprintf("%s/notify?code=healthy&event=burst&n=%d", base, i), nil, nil); a.status != 200 {
					t.Errorf("trigger = %d %s", a.status, a.body)
				}
			})
		}
		wg.Wait()
	}
	expect := func(n int) {
		for _, p := range pages {
			for i := range n {
				if got := p.Next(t, 15*time.Second).Event; got != "BURST" {
					t.Fatalf("page (%s) alert %d = %s, want BURST", p.Transport(), i, got)
				}
			}
		}
	}
	fire(40)
	expect(40)
	time.Sleep(11 * time.Second) // past the 10 s write timeout: item 1's trap
	fire(1)
	expect(1)
}

// TestAbuseWebhookRefusals: a client sending forged webhooks is cut off
// after --rate-requests refusals, while a burst of genuine, signed
// notifications from the same address (a proxy) is never refused.
func TestAbuseWebhookRefusals(t *testing.T) {
	env := map[string]string{"TWITCH_SECRET": twitchSecret, "KOFI_TOKEN": "kofi-token", "ALERT_CODE": "burst"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, path, webhookRules)
	base := startServerEnv(t, getenv, func(c *config) { c.rulesFile = path; c.rateRequests = limit.Rate{PerSecond: 0.1, Burst: 20} })
	body := `{"subscription":{"id":"s1","type":"channel.follow","version":"2"},"event":{"user_name":"Ada"}}`
	send := func(id string, forged bool) int {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		sig := twitchSignature(id, ts, body)
		if forged {
			sig = "sha256=" + strings.Repeat("0", 64)
		}
		return do(t, "POST", base+"/webhooks/twitch", strings.NewReader(body), map[string]string{
			"Content-Type": "application/json", "Twitch-Eventsub-Message-Id": id,
			"Twitch-Eventsub-Message-Type": "notification", "Twitch-Eventsub-Message-Timestamp": ts,
			"Twitch-Eventsub-Message-Signature": sig, "Twitch-Eventsub-Subscription-Type": "channel.follow",
		}).status
	}
	for i := range 100 { // five times the budget, all genuine
		if got := send(fmt.Sprintf("gift-%d", i), false); got != 200 {
			t.Fatalf("genuine notification %d = %d, want 200", i, got)
		}
	}
	statuses := map[int]int{}
	for i := range 40 {
		statuses[send(fmt.Sprintf("forged-%d", i), true)]++
	}
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusForbidden] > 21 {
		t.Fatalf("40 forged notifications answered %v, want 403 for the budget then 429", statuses)
	}
}

// TestAbuseEventWithoutAType: a signed Twitch message whose subscription
// names no type, or an /api/route event with none, is the sender's
// mistake: 400 with the reason, and nothing journaled. It used to be
// answered 503 and journaled with an empty name (once more on each of
// Twitch's retries), then sent to the next page of the room.
func TestAbuseEventWithoutAType(t *testing.T) {
	rules := strings.Replace(webhookRules, "rules:\n", "rules:\n  - name: everything\n    to: everyone\n    continue: true\n", 1)
	env := map[string]string{"TWITCH_SECRET": twitchSecret, "KOFI_TOKEN": "kofi-token", "ALERT_CODE": "typeless"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, path, rules)
	base := startServerEnv(t, getenv, func(c *config) { c.rulesFile = path })
	for i, sub := range []string{`{}`, `null`, `{"id":"s1","type":""}`} {
		body := `{"subscription":` + sub + `,"event":{"user_name":"Ada"}}`
		id := fmt.Sprint("typeless-", i)
		for range 2 { // Twitch retries what was not answered 2xx
			ts := time.Now().UTC().Format(time.RFC3339Nano)
			a := do(t, "POST", base+"/webhooks/twitch", strings.NewReader(body), map[string]string{
				"Content-Type": "application/json", "Twitch-Eventsub-Message-Id": id,
				"Twitch-Eventsub-Message-Type": "notification", "Twitch-Eventsub-Message-Timestamp": ts,
				"Twitch-Eventsub-Message-Signature": twitchSignature(id, ts, body),
			})
			if a.status != http.StatusBadRequest || !strings.Contains(a.body, "no type") {
				t.Errorf("signed message with subscription %s = %d %s, want 400 saying it has no type", sub, a.status, a.body)
			}
		}
	}
	a := do(t, "POST", base+"/api/route", strings.NewReader(`{"source":"api","type":"","code":"everyone"}`),
		map[string]string{"Authorization": "Bearer " + testToken})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "no type") {
		t.Errorf("/api/route of an event without a type = %d %s, want 400 saying so", a.status, a.body)
	}
	if h := history(t, base, "everyone", 100); len(h.Entries) != 0 {
		t.Errorf("journal of the room after events without a type: %+v, want nothing", h.Entries)
	}
}
