package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
)

// cutProxy forwards TCP connections to a target until cut: then it
// forwards nothing, either way, and closes nothing, as a network that
// silently drops packets does (no refusal, no reset). heal closes what
// it held, so clients reconnect, and forwards again.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		if p.isCut() {
			go p.pipe(c, io.Discard) // held open, answered never
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.track(up)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst, dropping what it reads while the proxy is cut.
func (p *cutProxy) pipe(src net.Conn, dst io.Writer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isCut() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if c, ok := dst.(net.Conn); ok && !errors.Is(err, net.ErrClosed) {
				_ = c.Close()
			}
			return
		}
	}
}

func (p *cutProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *cutProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// heal ends the cut: the connections it held are closed (their clients
// reconnect) and new ones are forwarded again.
func (p *cutProxy) heal() {
	p.closeAll()
	p.setCut(false)
}

// TestClusterRedisCutSilently: the network to Redis drops everything
// without closing anything, so a node learns it only by waiting (an
// append's deadline, a publish's round trip, a ping without a pong).
// Alerts it takes meanwhile still reach its own pages, and once the
// network heals, the other node's pages, once each, in order. (Before the
// client's timeouts were bounded, each alert of the cut waited about 45 s
// for its answer; the subscription never noticed the cut.)
func TestClusterRedisCutSilently(t *testing.T) {
	srv := redistest.Start(t)
	proxies := []*cutProxy{startCutProxy(t, srv.Addr()), startCutProxy(t, srv.Addr())}
	nodes := startNodesAt(t, []string{"redis://" + proxies[0].addr() + "/0", "redis://" + proxies[1].addr() + "/0"})
	const code = "cut"
	here, there := pageOnEach(t, nodes, code)

	// Only node 0 loses Redis: node 1 keeps publishing, so what node 0
	// delivered alone must come to node 1's page through the journal.
	proxies[0].setCut(true)
	fireWithin(t, nodes[0].base, code, 1) // answered once node 0 gave up on Redis
	waitLink(t, false, nodes[0])          // a ping without a pong
	fireWithin(t, nodes[0].base, code, 2)
	expectN(t, here, 1, 2)

	proxies[0].heal()
	expectN(t, there, 1, 2)
	fire(t, nodes[1].base, code, 3)
	expectN(t, here, 3)
	expectN(t, there, 3)
}

// TestClusterSilentCutMissesNothingFromOtherNodes: node 0's link to Redis
// goes silent (packets dropped) and node 1 journals an alert before node
// 0 notices, a ping later. Once the link heals node 0's page gets it from
// the journal: the re-sync reads from when node 0 last heard Redis, not
// from when it noticed. The room had no alert before, so node 0 has no
// offset of it to resume after.
func TestClusterSilentCutMissesNothingFromOtherNodes(t *testing.T) {
	srv := redistest.Start(t)
	proxies := []*cutProxy{startCutProxy(t, srv.Addr()), startCutProxy(t, srv.Addr())}
	nodes := startNodesAt(t, []string{"redis://" + proxies[0].addr() + "/0", "redis://" + proxies[1].addr() + "/0"})
	const code = "cut-window"
	opts := pagetest.Options{Code: code, Handshake: true, Transports: []string{"websocket"}}
	here := pagetest.Start(t, nodes[0].base, opts)
	there := pagetest.Start(t, nodes[1].base, opts)
	for _, p := range []*pagetest.Page{here, there} {
		p.Connected(t, pageWait)
		p.WaitRegistered(t)
	}
	waitUntil(t, "node 1 to count both pages", func() bool { return clientsCount(t, nodes[1].base) == 2 })

	proxies[0].setCut(true)
	fire(t, nodes[1].base, code, 1)
	expectN(t, there, 1)
	waitLink(t, false, nodes[0])
	proxies[0].heal()
	waitLink(t, true, nodes[0])
	expectN(t, here, 1)
	fire(t, nodes[1].base, code, 2)
	expectN(t, here, 2)
	expectN(t, there, 2)
}

// cutAnswerBound is how long a trigger may wait for its answer while Redis
// drops packets: a liveness bound far above the few seconds the client's
// timeouts take (2 s for the append, 2 s for the publish), far below what
// go-redis's defaults and retries took (about 45 s).
const cutAnswerBound = 15 * time.Second

// fireWithin is fire with an answer due within cutAnswerBound.
func fireWithin(t *testing.T, base, code string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cutAnswerBound)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/notify?code=%s&event=donation&n=%d", base, code, n), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("trigger n=%d while Redis drops packets: %v (an alert must not wait on Redis for long)", n, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trigger n=%d = %d", n, resp.StatusCode)
	}
}
