package main

import (
	"bytes"
	"math"
)

// kind is what a page does with one Engine.IO packet it received.
type kind int

const (
	kindOther      kind = iota // noop, upgrade, message we do not use
	kindOpen                   // "0{…}" Engine.IO handshake
	kindClose                  // "1" server closes the transport
	kindPing                   // "2" heartbeat: the page must answer "3"
	kindConnect                // "40…" Socket.IO CONNECT ack
	kindConnectErr             // "44…" Socket.IO CONNECT refused
	kindDisconnect             // "41" Socket.IO DISCONNECT
	kindEvent                  // "42[…]" Socket.IO EVENT in the main namespace
)

// frame is the part of a received packet the load tool needs. Event names
// the Socket.IO event ("" unless kind is kindEvent); the payload stays in
// msg so pages look up only the one field they need, without a JSON decode
// per delivery (the loader shares the CPU with the server it measures).
type frame struct {
	kind  kind
	event []byte
}

// parseFrame classifies one websocket text message carrying one Engine.IO v4
// packet. It never fails: anything it does not understand is kindOther.
func parseFrame(msg []byte) frame {
	if len(msg) == 0 {
		return frame{}
	}
	switch msg[0] {
	case '0':
		return frame{kind: kindOpen}
	case '1':
		return frame{kind: kindClose}
	case '2':
		return frame{kind: kindPing}
	case '4':
	default:
		return frame{}
	}
	if len(msg) < 2 {
		return frame{}
	}
	switch msg[1] {
	case '0':
		return frame{kind: kindConnect}
	case '1':
		return frame{kind: kindDisconnect}
	case '4':
		return frame{kind: kindConnectErr}
	case '2':
		return frame{kind: kindEvent, event: eventName(msg[2:])}
	}
	return frame{}
}

// eventName returns the first array element of a Socket.IO EVENT body,
// `["NAME",…]`, or nil. An ack id before the array is skipped. Names with
// escapes are returned raw, which is fine: herald-load only compares them
// with its own plain names.
func eventName(body []byte) []byte {
	for len(body) > 0 && body[0] >= '0' && body[0] <= '9' {
		body = body[1:] // ack id
	}
	if len(body) < 3 || body[0] != '[' || body[1] != '"' {
		return nil
	}
	body = body[2:]
	end := bytes.IndexByte(body, '"')
	if end < 0 {
		return nil
	}
	return body[:end]
}

// stringField finds `"key":"value"` in a JSON message and returns value. It
// relies on encoding rules every server follows: a quote inside a string is
// escaped, so the raw byte sequence `"key":"` can only be a key. Values with
// escapes are returned raw; herald-load only reads its own digits back.
func stringField(msg []byte, key string) ([]byte, bool) {
	var pat [64]byte
	p := append(pat[:0], '"')
	p = append(p, key...)
	p = append(p, '"', ':', '"')
	i := bytes.Index(msg, p)
	if i < 0 {
		return nil, false
	}
	rest := msg[i+len(p):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, false
	}
	return rest[:end], true
}

// intField reads a decimal integer sent as a query parameter, which servers
// echo back as a JSON string.
func intField(msg []byte, key string) (int64, bool) {
	v, ok := stringField(msg, key)
	if !ok {
		return 0, false
	}
	return parseDigits(v)
}

// parseDigits parses a non-negative decimal without allocating (one call per
// delivery on the loader's hot path).
func parseDigits(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}
