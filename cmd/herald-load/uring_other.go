//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
	"sync"
)

// The io_uring reader is Linux only; elsewhere every page reads its own
// socket (readConn).
const uringSupported = false

func uringUsable() error { return errors.New("io_uring is Linux only") }

type uringReader struct{}

type rxBuffers struct{ count, size int }

var defaultRxBuffers rxBuffers

func newUringReader(context.Context, int, rxBuffers, *sync.WaitGroup) (*uringReader, error) {
	return nil, errors.New("the io_uring reader needs Linux")
}

func (*uringReader) read(context.Context, net.Conn, []byte, *link) error {
	return errors.New("the io_uring reader needs Linux")
}
