//go:build unix

package eio

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/heraldhq/herald/internal/limit"
)

// TestRawConnOf: the inline write path is kept for plain TCP and for a
// wrapper that exposes its socket (cmd/herald counts connections through
// one), and never taken for TLS, whose bytes must go through the TLS
// layer.
func TestRawConnOf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	tests := []struct {
		name    string
		conn    net.Conn
		wantRaw bool
	}{
		{name: "plain TCP", conn: server, wantRaw: true},
		{name: "counting wrapper", conn: &limit.Conn{Conn: server}, wantRaw: true},
		{name: "TLS", conn: tls.Server(server, &tls.Config{}), wantRaw: false},
		{name: "pipe", conn: func() net.Conn { a, _ := net.Pipe(); return a }(), wantRaw: false},
	}
	for _, tc := range tests {
		if got := rawConnOf(tc.conn) != nil; got != tc.wantRaw {
			t.Errorf("%s: rawConnOf != nil is %v, want %v", tc.name, got, tc.wantRaw)
		}
	}
}
