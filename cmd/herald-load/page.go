package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"time"
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

// page is one simulated browser source: one websocket. The coordinator
// reads the atomics while the page runs; everything else is written only by
// the reader of the page's socket, and read after the page's run has
// returned.
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
	dialSem  chan struct{}
	event    []byte
	register string // "event" or "handshake"
	settled  func() // called once per page when it is ready or dead
	// read serves one page's open connection until the page ends or ctx
	// does: readConn, or an io_uring loop's (uring_linux.go).
	read func(ctx context.Context, conn net.Conn, pending []byte, l *link) error
}

// dialTimeout bounds a page's TCP connect and websocket handshake.
const dialTimeout = 10 * time.Second

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
	conn, pending, err := p.dial(ctx, env)
	if err != nil {
		p.err, p.dialFailed = err, true
		settle(stateDead)
		return
	}
	l := &link{p: p, env: env, ready: func() { settle(stateReady) }}
	err = env.read(ctx, conn, pending, l)
	if ctx.Err() == nil {
		p.err = err
	}
	settle(stateDead)
}

func (p *page) dial(ctx context.Context, env *pageEnv) (net.Conn, []byte, error) {
	select {
	case env.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-env.dialSem }()
	target := env.wsURL
	if p.wsURL != "" {
		target = p.wsURL
	}
	return wsDial(ctx, target, dialTimeout)
}

// link is one page's open websocket as its reader sees it: bytes in, the
// page's answers out.
type link struct {
	p     *page
	env   *pageEnv
	ready func()
	write func(frame []byte) error // writes one whole frame to the socket
	dec   wsDecoder
	out   []byte // the frame being written; reused
	now   int64  // unix ns when the bytes being decoded were read
}

// feed handles every complete message at the start of data, read at now,
// and returns how many bytes it used; the rest is an incomplete frame.
func (l *link) feed(data []byte, now int64) (int, error) {
	l.now = now
	return l.dec.decode(data, l.onFrame)
}

func (l *link) onFrame(op byte, payload []byte) error {
	switch op {
	case opText:
		return l.p.onMessage(l, payload)
	case opPing:
		return l.send(opPong, payload)
	case opClose:
		return errClosedByServer
	}
	return nil // binary messages and pongs mean nothing to a page
}

// send writes one masked frame. Its mask is not random: it only has to
// keep proxies from reading the frame as HTTP, and there is none here.
func (l *link) send(op byte, payload []byte) error {
	l.out = appendClientFrame(l.out[:0], op, payload, 0x9e3779b9)
	return l.write(l.out)
}

// onMessage is the page's protocol step for one Engine.IO packet: the
// heartbeat, Socket.IO connect, registration, and counting deliveries.
func (p *page) onMessage(l *link, msg []byte) error {
	f := parseFrame(msg)
	switch f.kind {
	case kindOpen:
		return l.send(opText, p.connect)
	case kindPing:
		return l.send(opText, pong)
	case kindConnect:
		if l.env.register == "handshake" {
			l.ready()
		}
	case kindEvent:
		return p.onEvent(l, f.event, msg)
	case kindConnectErr:
		return fmt.Errorf("connect refused: %.200s", msg)
	case kindClose, kindDisconnect:
		return errClosedByServer
	}
	return nil
}

// readConn is the portable reader: a blocking read loop on the page's own
// goroutine.
func readConn(ctx context.Context, conn net.Conn, pending []byte, l *link) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	l.write = func(frame []byte) error {
		_, err := conn.Write(frame)
		return err
	}
	buf := append(make([]byte, 0, 4096), pending...)
	for {
		used, err := l.feed(buf, time.Now().UnixNano())
		if err != nil {
			return err
		}
		buf = buf[:copy(buf, buf[used:])]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if n == 0 && err != nil {
			return fmt.Errorf("read: %w", err)
		}
		buf = buf[:len(buf)+n]
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

func (p *page) onEvent(l *link, name, msg []byte) error {
	switch {
	case bytes.Equal(name, l.env.event):
		p.count.Add(1)
		p.lastRecv = l.now
		if t, ok := intField(msg, "t"); ok {
			p.lat = append(p.lat, l.now-t)
		} else {
			p.badT++
		}
	case string(name) == probeEvent:
		if g, ok := intField(msg, "g"); ok && g > p.probeGen.Load() {
			p.probeGen.Store(g)
		}
	case string(name) == "WELCOME" && l.env.register == "event" && p.state.Load() == stateConnecting:
		if err := l.send(opText, p.regEvent); err != nil {
			return err
		}
		l.ready()
	}
	return nil
}
