//go:build !linux

package main

import (
	"context"
	"net"
)

// dialRawReads is d's own dial outside Linux.
func dialRawReads(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.DialContext
}
