package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The page side of RFC 6455, as much as herald-load needs: the client
// handshake, a frame decoder that works on whatever bytes a read returned,
// and masked client frames. It is its own code rather than a websocket
// library's because the io_uring reader (uring_linux.go) reads the socket
// itself: a library that owns the connection reads it twice per message
// and parks a goroutine in between, and on a 2-core machine the loader's
// CPU is taken from the server it measures.

// Websocket opcodes (RFC 6455 §5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xA
)

// maxMessage bounds one message from the server; herald-load's messages are
// a few hundred bytes.
const maxMessage = 1 << 20

var (
	errClosedByServer = errors.New("closed by server")
	errBadFrame       = errors.New("websocket: malformed frame")
	errTooLarge       = errors.New("websocket: message over 1 MiB")
)

// wsDial connects to a ws:// URL and performs the client handshake within
// timeout. It returns the connection, with no deadline set, and the bytes
// that arrived after the handshake's response (the start of the first
// frames: a server may send its first message in the same segment).
func wsDial(ctx context.Context, rawURL string, timeout time.Duration) (net.Conn, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket URL: %w", err)
	}
	if u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("websocket URL %q: want ws://", rawURL)
	}
	dial := dialRawReads(&net.Dialer{Timeout: timeout})
	conn, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(timeout))
	rest, err := handshake(conn, u)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("websocket handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})
	return conn, rest, nil
}

func handshake(conn net.Conn, u *url.URL) ([]byte, error) {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close() // a 101 has none
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, fmt.Errorf("101 without Upgrade: websocket")
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return nil, fmt.Errorf("Sec-WebSocket-Accept %q does not match the key", got)
	}
	rest, _ := br.Peek(br.Buffered())
	return append([]byte(nil), rest...), nil
}

// acceptKey is the server's proof that it read key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// appendClientFrame appends payload as one final frame of opcode op, masked
// with key as every client frame must be (RFC 6455 §5.3).
func appendClientFrame(dst []byte, op byte, payload []byte, key uint32) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	dst = append(dst, k[:]...)
	for i, c := range payload {
		dst = append(dst, c^k[i&3])
	}
	return dst
}

// wsDecoder splits the byte stream from a server into messages and control
// frames. It keeps only the pieces of a fragmented message between calls;
// the caller keeps the bytes of an incomplete frame.
type wsDecoder struct {
	frag   []byte // payload of a fragmented message so far
	fragOp byte   // its opcode; 0 when no fragmented message is open
}

// decode consumes the complete frames at the start of data and calls on
// once per text or binary message and once per control frame, in order.
// It returns how many bytes it consumed: the rest is an incomplete frame
// to be decoded again with the bytes that follow it. A payload passed to on
// is valid only during the call; a masked one is unmasked in place.
func (d *wsDecoder) decode(data []byte, on func(op byte, payload []byte) error) (int, error) {
	used := 0
	for {
		n, op, fin, payload, err := nextFrame(data[used:])
		if n == 0 || err != nil {
			return used, err
		}
		used += n
		if err := d.frame(op, fin, payload, on); err != nil {
			return used, err
		}
	}
}

// nextFrame parses the frame at the start of b. n is 0 when b holds no
// complete frame yet.
func nextFrame(b []byte) (n int, op byte, fin bool, payload []byte, err error) {
	if len(b) < 2 {
		return 0, 0, false, nil, nil
	}
	if b[0]&0x70 != 0 {
		return 0, 0, false, nil, fmt.Errorf("%w: reserved bits set", errBadFrame)
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0F
	size, h := uint64(b[1]&0x7F), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, 0, false, nil, nil
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, false, nil, nil
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	masked := b[1]&0x80 != 0
	if masked {
		h += 4
	}
	if size > maxMessage {
		return 0, 0, false, nil, errTooLarge
	}
	if uint64(len(b)) < uint64(h)+size {
		return 0, 0, false, nil, nil
	}
	payload = b[h : h+int(size)]
	if masked {
		key := b[h-4 : h]
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return h + int(size), op, fin, payload, nil
}

// frame handles one decoded frame: control frames go to on at once, data
// frames once their message is whole.
func (d *wsDecoder) frame(op byte, fin bool, payload []byte, on func(byte, []byte) error) error {
	switch {
	case op >= opClose:
		if op > opPong || !fin || len(payload) > 125 {
			return fmt.Errorf("%w: control frame opcode %#x, %d bytes", errBadFrame, op, len(payload))
		}
		return on(op, payload)
	case op == opContinuation:
		if d.fragOp == 0 {
			return fmt.Errorf("%w: continuation without a message", errBadFrame)
		}
		if len(d.frag)+len(payload) > maxMessage {
			return errTooLarge
		}
		d.frag = append(d.frag, payload...)
		if !fin {
			return nil
		}
		op, d.fragOp = d.fragOp, 0
		msg := d.frag
		d.frag = d.frag[:0]
		return on(op, msg)
	case op == opText || op == opBinary:
		if d.fragOp != 0 {
			return fmt.Errorf("%w: new message inside a fragmented one", errBadFrame)
		}
		if fin {
			return on(op, payload)
		}
		d.fragOp = op
		d.frag = append(d.frag[:0], payload...)
		return nil
	default:
		return fmt.Errorf("%w: reserved opcode %#x", errBadFrame, op)
	}
}
