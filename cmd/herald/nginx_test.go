package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/needs"
	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
)

// startNginx runs the real nginx with examples/cluster/nginx.conf, its
// listen port and upstream servers pointed at the test's nodes, and
// returns its base URL. Without nginx on PATH (Debian: apt-get install
// nginx-light) the test is skipped, except under CI=true, where it
// fails.
func startNginx(t *testing.T, nodes []*heraldProcess) string {
	t.Helper()
	bin := needs.Program(t, "apt-get install nginx-light", "nginx", "/usr/sbin/nginx")
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "cluster", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := string(example)
	servers := regexp.MustCompile(`(?m)^\s*server 127\.0\.0\.1:808[1-3] .*\n`)
	if n := len(servers.FindAllString(conf, -1)); n != len(nodes) {
		t.Fatalf("examples/cluster/nginx.conf names %d nodes, the test runs %d", n, len(nodes))
	}
	var upstream strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&upstream, "    server %s max_fails=1 fail_timeout=5s;\n", strings.TrimPrefix(n.base, "http://"))
	}
	conf = servers.ReplaceAllString(conf, "")
	conf = strings.Replace(conf, "ip_hash;", "ip_hash;\n"+upstream.String(), 1)
	conf = strings.Replace(conf, "listen 8080;", fmt.Sprintf("listen 127.0.0.1:%d;", port), 1)
	conf = strings.Replace(conf, "pid /tmp/nginx-herald.pid;", "pid "+filepath.Join(dir, "nginx.pid")+";", 1)
	conf = strings.Replace(conf, "worker_processes auto;", "worker_processes 1;\ndaemon off;", 1)
	conf = strings.Replace(conf, "http {", fmt.Sprintf("http {\n  access_log off;\n  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;", dir, dir), 1)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(dir, "error.log")
	cmd := exec.Command(bin, "-c", path, "-p", dir, "-e", errLog)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers (SIGKILL would orphan them).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(errLog)
			t.Logf("nginx error.log:\n%s", log)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitUntil(t, "nginx to answer", func() bool {
		resp, err := http.Get(base + "/heartbeat")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// TestClusterBehindNginx runs examples/cluster/nginx.conf in a real nginx
// in front of three nodes started as examples/cluster says
// (--trusted-proxies naming the balancer). Pages from four addresses
// all get in although each node allows two connections per client
// (without --trusted-proxies all four would be one client, nginx), every
// page gets every alert once and in order whichever node took the
// trigger, the nodes list each page by its own address, and a
// long-polling page works through ip_hash's sticky sessions.
func TestClusterBehindNginx(t *testing.T) {
	srv := redistest.Start(t)
	nodes := startNodes(t, srv, 3, "--trusted-proxies", "127.0.0.1,::1", "--conns-per-ip", "2")
	lb := startNginx(t, nodes)
	var pages []*pagetest.Page
	for i := range 4 {
		pages = append(pages, pagetest.Start(t, lb, pagetest.Options{Code: "nginx", Transports: []string{"websocket"},
			LocalAddress: fmt.Sprintf("127.0.0.%d", 11+i)}))
	}
	pages = append(pages, pagetest.Start(t, lb, pagetest.Options{Code: "nginx", Transports: []string{"polling"}}))
	for _, p := range pages {
		p.WaitRegistered(t)
	}
	waitUntil(t, "every page to be counted", func() bool { return clientsCount(t, nodes[0].base) == len(pages) })
	// ip_hash keys IPv4 clients by their first three bytes: every page is
	// on one node, and the others reach it through Redis.
	var listed string
	for _, n := range nodes {
		listed += clients(t, n.base)
	}
	for i := range 4 {
		if addr := fmt.Sprintf(`"127.0.0.%d:0"`, 11+i); !strings.Contains(listed, addr) {
			t.Errorf("no node lists a page at %s:\n%s", addr, listed)
		}
	}
	targets := []string{nodes[0].base, nodes[1].base, nodes[2].base, lb}
	for n, base := range targets {
		if a := do(t, "GET", fmt.Sprintf("%s/notify?code=nginx&event=tick&n=%d", base, n+1), nil, nil); a.status != http.StatusOK || !strings.Contains(a.body, `"count":5`) {
			t.Fatalf("trigger %d via %s = %d %s, want 200 reaching 5 pages", n+1, base, a.status, a.body)
		}
	}
	for i, p := range pages {
		for want := 1; want <= len(targets); want++ {
			if got := payloadN(t, p.Expect(t, "TICK", 15*time.Second)); got != fmt.Sprint(want) {
				t.Fatalf("page %d got n=%s, want %d (every alert once, in order)", i, got, want)
			}
		}
	}
}
