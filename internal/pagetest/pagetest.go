// Package pagetest drives real alert pages in tests: each Page is a Node
// process running the official socket.io-client pinned in the repository's
// package.json, connected to a herald server, reporting every event it
// receives.
//
// # Finding Node and the client
//
// Start looks for `node` on PATH and for node_modules/socket.io-client in the
// repository: $HERALD_NODE_MODULES if set, else the nearest node_modules found
// walking up from the test's working directory (go test runs in the package
// folder), else the one beside the go.mod this file was compiled in. Without
// node or without node_modules (run `npm ci` at the repository root) the test
// is skipped; any other failure fails it.
//
// # Knowing the page is registered
//
// A REGISTER only counts once the server has processed it. The page sends
// REGISTER with an acknowledgement callback, and herald's Socket.IO sink acks
// after the page has joined its room; WaitRegistered waits for that ack. When
// the code goes in the handshake (Options.Handshake) the sink joins the room
// before it emits WELCOME, so WaitRegistered waits for WELCOME. Neither is a
// timed assertion: both wait for a message, with a generous deadline that
// only fires when something is broken.
package pagetest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/needs"
)

//go:embed page.cjs
var pageScript []byte

// registerTimeout bounds WaitRegistered; it only expires when something is
// broken, so it is generous.
const registerTimeout = 20 * time.Second

// Options describes the page to start.
type Options struct {
	// Code is the page's code; "" connects without registering.
	Code string
	// Handshake passes Code in the handshake (auth.code) instead of
	// answering WELCOME with REGISTER.
	Handshake bool
	// Query adds handshake query parameters, e.g. {"code": C} to pass the
	// code the other handshake way.
	Query map[string]string
	// Transports restricts the client's transports, e.g. {"polling"} or
	// {"websocket"}; nil is the client default (polling, then upgrade).
	Transports []string
	// Path is the Socket.IO path; "" is "/socket.io/".
	Path string
	// Acks asks herald for ack ids (auth.acks, as notificationservice.js
	// does) and acknowledges every event that carries one.
	Acks bool
	// AckFirst, with Acks, acknowledges only the first AckFirst events
	// that carry an ack id: the rest wait unacknowledged, as alerts
	// waiting their turn in a page's queue. 0 acknowledges every one.
	AckFirst int
	// LocalAddress is the address the page connects from, e.g.
	// "127.0.0.7", so that pages on one machine are different clients to
	// a proxy (the client honours it on the WebSocket transport only).
	LocalAddress string
}

// Message is one event the page received.
type Message struct {
	Event string
	Args  []json.RawMessage
	// AckID is whether the event carried an ack id (herald asks pages
	// that set auth.acks to acknowledge journaled alerts).
	AckID bool
}

// Decode unmarshals argument i into v.
func (m Message) Decode(i int, v any) error {
	if i >= len(m.Args) {
		return fmt.Errorf("event %s has %d arguments, want argument %d", m.Event, len(m.Args), i)
	}
	return json.Unmarshal(m.Args[i], v)
}

// Page is a running Node page.
type Page struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	events   chan Message
	welcome  chan Message
	exited   chan struct{}
	changed  chan struct{}
	connects chan bool // socket.recovered of each connect

	mu        sync.Mutex
	stdinMu   sync.Mutex
	handshake bool
	seq       int // last register request
	acked     int // last acked register request, -1 for none
	welcomed  bool
	transport string
	id        string // socket.id at the last connect
	stderr    bytes.Buffer
	closeOnce sync.Once
}

// line is what page.cjs prints.
type line struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Seq       int               `json:"seq"`
	Reply     json.RawMessage   `json:"reply"`
	Transport string            `json:"transport"`
	Reason    string            `json:"reason"`
	Message   string            `json:"message"`
	Recovered bool              `json:"recovered"`
	Acked     bool              `json:"acked"`
}

// Start launches a page connected to baseURL (e.g. an httptest server's
// URL). The process is killed in t's cleanup.
func Start(t testing.TB, baseURL string, opts Options) *Page {
	t.Helper()
	node, modules := locate(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "page.cjs")
	if err := os.WriteFile(script, pageScript, 0o600); err != nil {
		t.Fatalf("pagetest: write script: %v", err)
	}
	cfg, err := json.Marshal(map[string]any{
		"url": baseURL, "path": opts.Path, "transports": opts.Transports, "acks": opts.Acks, "ackFirst": opts.AckFirst,
		"code": opts.Code, "handshake": opts.Handshake, "query": opts.Query, "localAddress": opts.LocalAddress,
	})
	if err != nil {
		t.Fatalf("pagetest: config: %v", err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "PAGETEST_CONFIG="+string(cfg), "PAGETEST_NODE_MODULES="+modules)
	p := &Page{
		cmd:       cmd,
		events:    make(chan Message, 1024),
		welcome:   make(chan Message, 64),
		exited:    make(chan struct{}),
		changed:   make(chan struct{}, 1),
		connects:  make(chan bool, 64),
		handshake: opts.Handshake,
		acked:     -1,
	}
	cmd.Stderr = &lockedWriter{mu: &p.mu, buf: &p.stderr}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("pagetest: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("pagetest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("pagetest: start node: %v", err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("pagetest: node stderr:\n%s", p.Stderr())
		}
	})
	return p
}

// locate finds node and the repository's node_modules. Without them t is
// skipped on a developer's machine, and fails under CI (internal/needs):
// there a missing client must never pass as green.
func locate(t testing.TB) (node, modules string) {
	t.Helper()
	node = needs.Program(t, "apt-get install nodejs", "node")
	modules, err := NodeModules()
	if err != nil {
		needs.Missing(t, "socket.io-client ("+err.Error()+")", "run `npm ci` at the repository root")
	}
	return node, modules
}

// NodeModules returns the node_modules folder holding socket.io-client (see
// the package comment for where it looks).
func NodeModules() (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "socket.io-client", "package.json"))
		return err == nil
	}
	if dir := os.Getenv("HERALD_NODE_MODULES"); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("HERALD_NODE_MODULES=%s has no socket.io-client", dir)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if cand := filepath.Join(dir, "node_modules"); has(cand) {
				return cand, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no node_modules with socket.io-client found")
}

func (p *Page) read(stdout io.Reader) {
	defer close(p.exited)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			p.noteStderr("pagetest: bad line from node: %q\n", sc.Text())
			continue
		}
		p.handle(l)
	}
	_ = p.cmd.Wait()
}

func (p *Page) handle(l line) {
	switch l.Type {
	case "event":
		m := Message{Event: l.Event, Args: l.Args, AckID: l.Acked}
		if l.Event == "WELCOME" {
			p.mu.Lock()
			p.welcomed = true
			p.mu.Unlock()
			p.signal()
			select {
			case p.welcome <- m:
			default: // nobody reads old WELCOMEs; keep the newest few
			}
			return
		}
		p.events <- m
	case "registered":
		p.mu.Lock()
		if l.Seq > p.acked {
			p.acked = l.Seq
		}
		p.mu.Unlock()
		p.noteStderr("pagetest: REGISTER #%d acked: %s\n", l.Seq, l.Reply)
		p.signal()
	case "connect":
		p.mu.Lock()
		p.transport, p.id = l.Transport, l.ID
		p.mu.Unlock()
		select {
		case p.connects <- l.Recovered:
		default:
		}
	case "disconnect":
		p.mu.Lock()
		p.welcomed = false
		p.mu.Unlock()
		p.noteStderr("pagetest: disconnected: %s\n", l.Reason)
	case "connect_error":
		p.noteStderr("pagetest: connect_error: %s\n", l.Message)
	}
}

func (p *Page) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *Page) noteStderr(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(&p.stderr, format, args...)
}

// Next returns the next event the page received, WELCOME excepted (see
// Welcome), failing t if none arrives within timeout or the page died.
func (p *Page) Next(t testing.TB, timeout time.Duration) Message {
	t.Helper()
	return p.next(t, p.events, "event", timeout)
}

// Welcome returns the next WELCOME the page received (one per connection).
func (p *Page) Welcome(t testing.TB, timeout time.Duration) Message {
	t.Helper()
	return p.next(t, p.welcome, "WELCOME", timeout)
}

func (p *Page) next(t testing.TB, ch chan Message, what string, timeout time.Duration) Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-ch:
		return m
	case <-timer.C:
		t.Fatalf("pagetest: no %s within %v; node said:\n%s", what, timeout, p.Stderr())
	case <-p.exited:
		select {
		case m := <-ch:
			return m
		default:
		}
		t.Fatalf("pagetest: node exited before the %s; it said:\n%s", what, p.Stderr())
	}
	return Message{}
}

// Expect returns the next event, failing t unless it is named event.
func (p *Page) Expect(t testing.TB, event string, timeout time.Duration) Message {
	t.Helper()
	m := p.Next(t, timeout)
	if m.Event != event {
		t.Fatalf("pagetest: page received %s %s, want %s", m.Event, joinArgs(m.Args), event)
	}
	return m
}

// Register sends REGISTER {code} (a room move when already registered).
// Follow it with WaitRegistered before delivering to the new room.
func (p *Page) Register(code string) {
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	p.send(map[string]any{"cmd": "register", "code": code, "seq": seq})
}

// WaitRegistered returns once the server has put the page in the room of
// its latest code: the REGISTER ack, or WELCOME for a handshake code (see
// the package comment).
func (p *Page) WaitRegistered(t testing.TB) {
	t.Helper()
	deadline := time.NewTimer(registerTimeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		done := p.acked >= p.seq || (p.handshake && p.seq == 0 && p.welcomed)
		p.mu.Unlock()
		if done {
			return
		}
		select {
		case <-p.changed:
		case <-p.exited:
			t.Fatalf("pagetest: node exited before registering; it said:\n%s", p.Stderr())
		case <-deadline.C:
			t.Fatalf("pagetest: page not registered within %v; node said:\n%s", registerTimeout, p.Stderr())
		}
	}
}

// Transport is the transport the page connected with ("polling" or
// "websocket"); "" before it connected.
func (p *Page) Transport() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.transport
}

// ID is the client's socket.id at its last connect; "" before it
// connected. A recovered session keeps it.
func (p *Page) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// Connected waits for the page's next connect and reports the client's
// socket.recovered (Socket.IO connection state recovery).
func (p *Page) Connected(t testing.TB, timeout time.Duration) (recovered bool) {
	t.Helper()
	select {
	case r := <-p.connects:
		return r
	case <-time.After(timeout):
		t.Fatalf("pagetest: no connect within %v; node said:\n%s", timeout, p.Stderr())
	case <-p.exited:
		t.Fatalf("pagetest: the page exited; node said:\n%s", p.Stderr())
	}
	return false
}

// Leave disconnects the page from its side, keeping its session (the
// client's pid and last offset), as a page that goes away for a while.
func (p *Page) Leave() { p.send(map[string]any{"cmd": "disconnect"}) }

// Return reconnects a page that left: the official client sends its pid
// and offset, and reports socket.recovered on the connect.
func (p *Page) Return() { p.send(map[string]any{"cmd": "connect"}) }

// ReturnTo is Return to another server (base URL): a page that the load
// balancer sends to another node, with its pid and offset.
func (p *Page) ReturnTo(base string) { p.send(map[string]any{"cmd": "connect", "url": base}) }

// Stderr is what node wrote to stderr, plus pagetest's notes.
func (p *Page) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Close disconnects the page and ends the node process. It is called by
// t's cleanup and may be called earlier (to test a page leaving).
func (p *Page) Close() {
	p.closeOnce.Do(func() {
		p.send(map[string]any{"cmd": "close"})
		_ = p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

func (p *Page) send(v any) {
	b, _ := json.Marshal(v)
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	_, _ = p.stdin.Write(append(b, '\n'))
}

func joinArgs(args []json.RawMessage) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(a)
	}
	return b.String()
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}
