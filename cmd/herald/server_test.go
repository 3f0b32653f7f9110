package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/testcert"
)

const testToken = "admin-token-for-tests"

// startServer runs the real server on a free loopback port until the test
// ends, and returns its base URL.
func startServer(t *testing.T, mutate func(*config)) string {
	t.Helper()
	return startServerEnv(t, noEnv, mutate)
}

// startServerEnv is startServer with an environment for ${VAR} in rules.
func startServerEnv(t *testing.T, getenv func(string) (string, bool), mutate func(*config)) string {
	t.Helper()
	cfg, err := parseFlags([]string{"-p", "0", "-l", "DEBUG", "--admin-token", testToken, "--data", memoryData}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	base, _, _ := serveInTest(t, cfg, getenv)
	return base
}

// serveInTest runs the real server in-process on cfg and returns its base
// URL, its log and stop. A server that does not start fails t with its
// log; stop shuts it down (once; t's cleanup calls it too) and fails t if
// the shutdown fails; the log is shown when t failed. A caller that checks
// the whole log calls stop first, so the shutdown lines are in it.
func serveInTest(t *testing.T, cfg config, getenv func(string) (string, bool)) (base string, logs *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	logs = &syncBuffer{}
	go func() { done <- serve(ctx, nil, cfg, getenv, logs, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, logs.String())
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	scheme := "http://"
	if cfg.tlsCert != "" || cfg.sslContext != "" {
		scheme = "https://"
	}
	return scheme + addr, logs, stop
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, body io.Reader, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestHTTPSurface(t *testing.T) {
	base := startServer(t, nil)
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string // exact, after trimming
		wantIn     string // substring
		wantType   string // Content-Type prefix
		wantACAO   string // Access-Control-Allow-Origin: none without an Origin
	}{
		{name: "heartbeat", method: "GET", path: "/heartbeat", wantStatus: 200, wantBody: `{"heartbeat":"OK"}`, wantType: "application/json"},
		{name: "heartbeat wrong method", method: "DELETE", path: "/heartbeat", wantStatus: 405},
		{name: "notify with nobody registered", method: "GET", path: "/notify?code=nobody&event=x", wantStatus: 200,
			wantBody: `{"success":1,"count":0,"msg":"Broadcast event to 0 clients"}`},
		{name: "notify missing code", method: "GET", path: "/notify?event=x", wantStatus: 400, wantIn: `missing required parameter \"code\"`},
		{name: "notify missing event", method: "GET", path: "/notify?code=x", wantStatus: 400, wantIn: `missing required parameter \"event\"`},
		{name: "notify wrong method", method: "PUT", path: "/notify?code=x&event=y", wantStatus: 405},
		{name: "notify oversized body", method: "POST", path: "/notify", body: "code=a&event=b&x=" + strings.Repeat("y", 2<<20),
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 413,
			wantBody: `{"success":0,"count":0,"msg":"body larger than 1048576 bytes"}`},
		{name: "clients without token", method: "GET", path: "/clients", wantStatus: 401},
		{name: "clients with wrong token", method: "GET", path: "/clients", header: map[string]string{"Authorization": "Bearer nope"}, wantStatus: 401},
		{name: "clients with token", method: "GET", path: "/clients", header: bearer, wantStatus: 200, wantIn: `"count":0`},
		{name: "rules status needs token", method: "GET", path: "/api/rules", wantStatus: 401},
		{name: "rules status", method: "GET", path: "/api/rules", header: bearer, wantStatus: 200, wantIn: `"generation":1`},
		{name: "dry-run route", method: "POST", path: "/api/route?dry_run=1", header: bearer,
			body: `{"source":"trigger","type":"follow","code":"abc","data":{"user":"ada"}}`, wantStatus: 200, wantIn: `"name":"FOLLOW"`},
		{name: "route with a bad body", method: "POST", path: "/api/route?dry_run=1", header: bearer, body: `{`, wantStatus: 400},
		{name: "replay with no body", method: "POST", path: "/api/replay", header: bearer, wantStatus: 400,
			wantType: "application/json", wantIn: `body: empty; want {\"room\": CODE`},
		{name: "a mistyped API", method: "GET", path: "/api/histroy", header: bearer, wantStatus: 404,
			wantType: "application/json", wantIn: `no such API; herald has /api/rules`},
		{name: "the cluster API without cluster mode", method: "GET", path: "/api/cluster", header: bearer, wantStatus: 404,
			wantType: "application/json", wantIn: `cluster mode is off`},
		{name: "page helper", method: "GET", path: "/sources/notificationservice.js", wantStatus: 200, wantType: "text/javascript"},
		{name: "example page", method: "GET", path: "/sources/example.html", wantStatus: 200, wantType: "text/html"},
		{name: "socket.io browser client", method: "GET", path: "/socket.io/socket.io.js", wantStatus: 200,
			wantType: "text/javascript", wantIn: "Socket.IO v4.8"},
		{name: "no directory listing", method: "GET", path: "/sources/", wantStatus: 404},
		{name: "missing source", method: "GET", path: "/sources/nope.js", wantStatus: 404},
		{name: "traversal", method: "GET", path: "/sources/../go.mod", wantStatus: 404},
		{name: "encoded traversal", method: "GET", path: "/sources/%2e%2e/%2e%2e/go.mod", wantStatus: 404},
		{name: "unknown path", method: "GET", path: "/webhooks/nothing", wantStatus: 404},
		{name: "landing page", method: "GET", path: "/", wantStatus: 200, wantType: "text/html", wantIn: `href="/sources/example.html?code=demo"`},
		{name: "landing page links the dashboard and the docs", method: "GET", path: "/", wantStatus: 200, wantIn: `href="/admin/"`},
		{name: "favicon", method: "GET", path: "/favicon.ico", wantStatus: 200, wantType: "image/x-icon", wantIn: "\x89PNG"},
		{name: "CORS preflight from a local file", method: "OPTIONS", path: "/notify", header: map[string]string{"Origin": "null", "Access-Control-Request-Method": "GET"},
			wantStatus: 204, wantACAO: "null"},
		{name: "CORS preflight from an OBS local file", method: "OPTIONS", path: "/notify", header: map[string]string{"Origin": "http://absolute", "Access-Control-Request-Method": "POST"},
			wantStatus: 204, wantACAO: "http://absolute"},
		{name: "CORS preflight from another site", method: "OPTIONS", path: "/notify", header: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
			wantStatus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, base+tc.path, strings.NewReader(tc.body), tc.header)
			if a.status != tc.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.wantStatus)
			}
			if tc.wantBody != "" && strings.TrimSpace(a.body) != tc.wantBody {
				t.Errorf("%s %s body = %s, want %s", tc.method, tc.path, a.body, tc.wantBody)
			}
			if tc.wantIn != "" && !strings.Contains(a.body, tc.wantIn) {
				t.Errorf("%s %s body = %.300s, want it to contain %s", tc.method, tc.path, a.body, tc.wantIn)
			}
			if ct := a.header.Get("Content-Type"); tc.wantType != "" && !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("%s %s Content-Type = %q, want %q", tc.method, tc.path, ct, tc.wantType)
			}
			if got := a.header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("%s %s Access-Control-Allow-Origin = %q, want %q", tc.method, tc.path, got, tc.wantACAO)
			}
		})
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	base := startServer(t, func(c *config) { c.adminToken = "" })
	a := do(t, "GET", base+"/clients", nil, map[string]string{"Authorization": "Bearer "})
	if a.status != 401 || !strings.Contains(a.body, "disabled") {
		t.Fatalf("GET /clients with no token configured = %d %s, want 401 disabled", a.status, a.body)
	}
}

func TestSourcesDirIsConfined(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("codes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "page.css"), []byte("body{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, func(c *config) { c.sourcesDir = dir })
	if a := do(t, "GET", base+"/sources/page.css", nil, nil); a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/css") {
		t.Errorf("GET page.css = %d %q", a.status, a.header.Get("Content-Type"))
	}
	if a := do(t, "GET", base+"/sources/escape.txt", nil, nil); a.status != 404 {
		t.Errorf("a symlink out of --sources = %d %s, want 404", a.status, a.body)
	}
}

// TestSourcesDirOverEmbedded: a --sources folder is served over the
// embedded files, so a custom page still finds notificationservice.js,
// and a file of the folder replaces the embedded one of the same name.
func TestSourcesDirOverEmbedded(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.html"), []byte("<p>mine</p>"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, func(c *config) { c.sourcesDir = dir })
	tests := []struct {
		path, want string
	}{
		{path: "/sources/example.html", want: "<p>mine</p>"},
		{path: "/sources/notificationservice.js", want: "REGISTER"},
	}
	for _, tc := range tests {
		if a := do(t, "GET", base+tc.path, nil, nil); a.status != 200 || !strings.Contains(a.body, tc.want) {
			t.Errorf("GET %s = %d %.80q, want 200 with %q", tc.path, a.status, a.body, tc.want)
		}
	}
}

// TestNotifyReachesPages is the original service's contract end to end: a real page
// running the official JavaScript client registers, /notify reaches it with
// the data and the event metadata, on every transport.
func TestNotifyReachesPages(t *testing.T) {
	base := startServer(t, nil)
	for _, tc := range []struct {
		name       string
		transports []string
		handshake  bool
	}{
		{name: "default transports"},
		{name: "polling only", transports: []string{"polling"}},
		{name: "websocket only", transports: []string{"websocket"}},
		{name: "code in handshake", handshake: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := "code-" + strings.ReplaceAll(tc.name, " ", "-")
			page := pagetest.Start(t, base, pagetest.Options{Code: code, Transports: tc.transports, Handshake: tc.handshake})
			page.WaitRegistered(t)
			other := pagetest.Start(t, base, pagetest.Options{Code: code + "-other", Transports: tc.transports})
			other.WaitRegistered(t)

			a := do(t, "GET", base+"/notify?code="+code+"&event=new%20follower&user=ada", nil, nil)
			// Byte for byte, as the original service answered (no trailing newline either).
			if want := `{"success":1,"count":1,"msg":"Broadcast event to 1 clients"}`; a.body != want {
				t.Fatalf("notify = %d %s, want %s", a.status, a.body, want)
			}
			msg := page.Next(t, 10*time.Second)
			if msg.Event != "NEW_FOLLOWER" || len(msg.Args) < 2 {
				t.Fatalf("page got %s with %d args, want NEW_FOLLOWER with data and meta", msg.Event, len(msg.Args))
			}
			var data map[string]string
			var meta struct {
				ID, Source string
				TS         int64
			}
			if err := json.Unmarshal(msg.Args[0], &data); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(msg.Args[1], &meta); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"code": code, "event": "new follower", "user": "ada"}
			for k, v := range want {
				if data[k] != v {
					t.Errorf("data[%q] = %q, want %q (data %v)", k, data[k], v, data)
				}
			}
			if meta.ID == "" || meta.Source != "trigger" || meta.TS == 0 {
				t.Errorf("meta = %+v, want an id, source trigger and a timestamp", meta)
			}
			other.Close()
		})
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testcert.Write(t, dir)
	ctxFile := filepath.Join(dir, "ssl.json")
	if err := os.WriteFile(ctxFile, []byte(`{"cert":"cert.pem","key":"key.pem"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cert
	_ = key
	base := startServer(t, func(c *config) { c.sslContext = ctxFile })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(base + "/heartbeat")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET /heartbeat over TLS = %d (tls %v)", resp.StatusCode, resp.TLS != nil)
	}
	plain := strings.Replace(base, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/heartbeat"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the TLS server also answered plain HTTP")
		}
	}
}

// TestNotifyTellsTheSender checks that /notify says when a rule dropped the
// event, where the seed's answer alone reads like "no page connected", and
// that the log says at INFO why an alert reached no page.
func TestNotifyTellsTheSender(t *testing.T) {
	path := writeRules(t, "version: 1\nrules:\n  - name: no-tests\n    when: data.test == \"1\"\n    drop: true\n")
	cfg, err := parseFlags([]string{"-p", "0", "--data", memoryData, "-r", path}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, _ := serveInTest(t, cfg, noEnv)
	tests := []struct {
		name, path, want, wantLog string
	}{
		{name: "dropped by a rule", path: "/notify?code=abc&event=follow&test=1",
			want:    `{"success":1,"count":0,"msg":"Broadcast event to 0 clients","dropped":"no-tests"}`,
			wantLog: `level=INFO msg="alert reached no page: dropped by a rule" component=router event_id=`},
		{name: "routed, no page", path: "/notify?code=abc&event=follow",
			want:    `{"success":1,"count":0,"msg":"Broadcast event to 0 clients"}`,
			wantLog: `level=INFO msg="alert reached no page: none connected to its room" component=router event_id=`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "GET", base+tc.path, nil, nil)
			if a.status != 200 || strings.TrimSpace(a.body) != tc.want {
				t.Errorf("GET %s = %d %s, want 200 %s", tc.path, a.status, a.body, tc.want)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log has no %q:\n%s", tc.wantLog, logs.String())
			}
		})
	}
}
