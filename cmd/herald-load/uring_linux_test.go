package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// uringPage connects one page to a bare TCP server through an io_uring
// reader with one loop, and returns the server's end of the socket and
// what the page's read returns, once it does.
func uringPage(t *testing.T, ctx context.Context, bufs rxBuffers) (*page, net.Conn, <-chan error) {
	t.Helper()
	if err := uringUsable(); err != nil {
		t.Skipf("io_uring refused here: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ur, err := newUringReader(ctx, 1, bufs, &wg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	p := newPage("c", "event")
	l := &link{p: p, env: &pageEnv{event: []byte("EVT"), register: "event"}, ready: func() {}}
	done := make(chan error, 1)
	go func() { done <- ur.read(ctx, client, nil, l) }()
	return p, server, done
}

// event is one delivery as herald frames it, padded to about size bytes.
func event(size int) []byte {
	msg := fmt.Sprintf(`42["EVT",{"t":"%d","pad":"`, time.Now().UnixNano())
	msg += strings.Repeat("x", max(0, size-len(msg)-3)) + `"}]`
	return serverFrame(0x81, msg)
}

// TestUringReaderReadsWhatever arrives, through a loop with eight small
// buffers: messages many times a buffer's size, each split over several
// completions, and a burst that takes every buffer, so the kernel ends the
// receive and the loop must arm it again. Every delivery is counted once;
// the server's close ends the page with EOF.
func TestUringReaderReadsWhatever(t *testing.T) {
	bufs := rxBuffers{count: 8, size: 256}
	p, server, done := uringPage(t, t.Context(), bufs)
	var stream bytes.Buffer
	const big, small = 20, 20_000
	for range big {
		stream.Write(event(100 << 10))
	}
	for range small {
		stream.Write(event(150))
	}
	go server.Write(stream.Bytes())
	deadline := time.Now().Add(30 * time.Second)
	for p.count.Load() < big+small && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.count.Load(); got != big+small {
		t.Fatalf("counted %d deliveries, want %d", got, big+small)
	}
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("page ended with %v, want EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the page did not end when the server closed")
	}
	if len(p.lat) != big+small || p.badT != 0 {
		t.Errorf("%d latencies, %d without t; want %d and 0", len(p.lat), p.badT, big+small)
	}
}

// TestUringReaderClosesOnCancel ends the run: the page's read returns, and
// the server sees its socket closed, so no page outlives its run.
func TestUringReaderClosesOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	_, server, done := uringPage(t, ctx, defaultRxBuffers)
	server.Write(event(150))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("page ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the page did not end with its run")
	}
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := server.Read(make([]byte, 64)); err != io.EOF {
		t.Errorf("server read %d bytes, %v; want EOF", n, err)
	}
}
