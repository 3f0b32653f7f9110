package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// probeEvent is the event name of registration probes; pages never count
// it as a delivery.
const probeEvent = "PROBE"

// warmupEvent is the event name of unmeasured warmup triggers; pages
// ignore it.
const warmupEvent = "WARMUP"

// Page states, in order.
const (
	stateConnecting int32 = iota
	stateReady            // CONNECT acked and, in event mode, REGISTER sent
	stateDead             // dial failed, refused, or the server closed it
)

var (
	pong         = []byte("3")
	plainConnect = []byte("40")
)

// page is one simulated browser source: one websocket, one goroutine. The
// coordinator reads the atomics while the page runs; everything else is
// owned by the page goroutine and read only after it has exited.
type page struct {
	code     string
	wsURL    string // the node this page connects to; "" is env.wsURL
	connect  []byte // Socket.IO CONNECT packet, with auth in handshake mode
	regEvent []byte // REGISTER event packet
	state    atomic.Int32
	probeGen atomic.Int64 // highest probe generation seen
	count    atomic.Int64 // deliveries of the load event

	lat        []int64 // trigger-to-page latency of each delivery, ns
	lastRecv   int64   // unix ns of the last delivery
	badT       int     // deliveries whose t field was missing
	err        error   // why the page died, if it did
	dialFailed bool    // it died before its websocket was open
}

// pageEnv is what every page shares: read-only after construction.
type pageEnv struct {
	wsURL    string
	dialer   *websocket.Dialer
	dialSem  chan struct{}
	event    []byte
	register string // "event" or "handshake"
	settled  func() // called once per page when it is ready or dead
}

func newDialer() *websocket.Dialer {
	return &websocket.Dialer{
		// Proxy stays nil on purpose: loopback only, never via $HTTP_PROXY.
		NetDialContext:   dialRawReads(&net.Dialer{Timeout: 10 * time.Second}),
		HandshakeTimeout: 10 * time.Second,
		// Frames are small; keep the loader light at 10,000 pages.
		ReadBufferSize:  1024,
		WriteBufferSize: 512,
		WriteBufferPool: &sync.Pool{},
	}
}

// run connects the page and serves it until ctx ends or the server closes
// it. It always calls env.settled exactly once.
func (p *page) run(ctx context.Context, env *pageEnv) {
	settled := false
	settle := func(s int32) {
		p.state.Store(s)
		if !settled {
			settled = true
			env.settled()
		}
	}
	conn, err := p.dial(ctx, env)
	if err != nil {
		p.err, p.dialFailed = err, true
		settle(stateDead)
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	err = p.serve(ctx, conn, env, func() { settle(stateReady) })
	if ctx.Err() == nil {
		p.err = err
	}
	settle(stateDead)
}

func (p *page) dial(ctx context.Context, env *pageEnv) (*websocket.Conn, error) {
	select {
	case env.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-env.dialSem }()
	target := env.wsURL
	if p.wsURL != "" {
		target = p.wsURL
	}
	conn, resp, err := env.dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket handshake: %s: %w", resp.Status, err)
		}
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	return conn, nil
}

// serve is the page's protocol loop: Engine.IO heartbeat, Socket.IO connect,
// registration, and counting deliveries.
func (p *page) serve(ctx context.Context, conn *websocket.Conn, env *pageEnv, ready func()) error {
	buf := make([]byte, 0, 512)
	for {
		msg, err := readMessage(conn, buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		buf = msg[:0]
		now := time.Now().UnixNano()
		f := parseFrame(msg)
		switch f.kind {
		case kindOpen:
			err = conn.WriteMessage(websocket.TextMessage, p.connect)
		case kindPing:
			err = conn.WriteMessage(websocket.TextMessage, pong)
		case kindConnect:
			if env.register == "handshake" {
				ready()
			}
		case kindEvent:
			err = p.onEvent(conn, env, f.event, msg, now, ready)
		case kindConnectErr:
			return fmt.Errorf("connect refused: %.200s", msg)
		case kindClose, kindDisconnect:
			return errors.New("closed by server")
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
}

// newPage builds a page for code, with its packets encoded once.
func newPage(code, register string) *page {
	q, _ := json.Marshal(code) // a string always marshals
	p := &page{code: code, connect: plainConnect}
	if register == "handshake" {
		p.connect = fmt.Appendf(nil, `40{"code":%s}`, q)
	}
	p.regEvent = fmt.Appendf(nil, `42["REGISTER",{"code":%s}]`, q)
	return p
}

func (p *page) onEvent(conn *websocket.Conn, env *pageEnv, name, msg []byte, now int64, ready func()) error {
	switch {
	case bytes.Equal(name, env.event):
		p.count.Add(1)
		p.lastRecv = now
		if t, ok := intField(msg, "t"); ok {
			p.lat = append(p.lat, now-t)
		} else {
			p.badT++
		}
	case string(name) == probeEvent:
		if g, ok := intField(msg, "g"); ok && g > p.probeGen.Load() {
			p.probeGen.Store(g)
		}
	case string(name) == "WELCOME" && env.register == "event" && p.state.Load() == stateConnecting:
		if err := conn.WriteMessage(websocket.TextMessage, p.regEvent); err != nil {
			return err
		}
		ready()
	}
	return nil
}

// readMessage reads one websocket message into buf's storage, growing it
// as needed, so a page allocates nothing per delivery.
func readMessage(conn *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := conn.NextReader()
	if err != nil {
		return nil, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
