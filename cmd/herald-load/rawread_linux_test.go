package main

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestRawReads: a connection read with raw read(2) calls behaves as
// net.Conn's own: data, then io.EOF once the peer closes; a read deadline
// still ends a read that waits.
func TestRawReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c
		}
	}()
	dial := dialRawReads(&net.Dialer{Timeout: 5 * time.Second})

	c, err := dial(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*rawReadConn); !ok {
		t.Fatalf("dial returned %T, want the raw-read connection", c)
	}
	peer := <-peers
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	// Bounded: a Read that never reports the end would loop here.
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadAll = %q, %v; want hello and a clean io.EOF", got, err)
	}

	idle, err := dial(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	defer (<-peers).Close()
	if err := idle.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}
