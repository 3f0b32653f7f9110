package eio

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// Frame is a complete, immutable WebSocket text frame holding one
// Engine.IO packet. The same Frame may be queued to any number of
// connections.
type Frame struct {
	b []byte
}

// Bytes returns the frame as sent; callers must not modify it.
func (f *Frame) Bytes() []byte { return f.b }

// NewFrame frames an Engine.IO packet: its type byte followed by data.
func NewFrame(packetType byte, data []byte) *Frame {
	n := 1 + len(data)
	var hdr [10]byte
	hdr[0] = 0x81 // FIN + text
	h := 2
	switch {
	case n <= 125:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	b := make([]byte, 0, h+n)
	b = append(b, hdr[:h]...)
	b = append(b, packetType)
	b = append(b, data...)
	return &Frame{b: b}
}

// Engine.IO packet types herald handles (upgrade and noop belong to
// polling sessions, which the library serves).
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
)

// Socket.IO packet types herald handles (the first byte of an Engine.IO
// message); binary events and acks are not part of herald's protocol.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
)

// EventFrame frames a Socket.IO EVENT packet for the default namespace:
// 42["name",arg…]. It encodes the arguments once.
func EventFrame(name string, args ...any) (*Frame, error) {
	list := make([]any, 0, 1+len(args))
	list = append(list, name)
	list = append(list, args...)
	return EventFrameOf(list)
}

// EventFrameOf is EventFrame for a list that already starts with the
// event's name: ["name", arg…].
func EventFrameOf(list []any) (*Frame, error) {
	data, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return messageFrame(sioEvent, data), nil
}

// EventFrameAck is EventFrame asking for an acknowledgement with ack id
// id: 42id["name",arg…]. The page's ACK comes back to Handler.Ack.
func EventFrameAck(id uint64, name string, args ...any) (*Frame, error) {
	list := make([]any, 0, 1+len(args))
	list = append(list, name)
	list = append(list, args...)
	data, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return messageFrame(sioEvent, append(strconv.AppendUint(nil, id, 10), data...)), nil
}

// messageFrame frames an Engine.IO message holding a Socket.IO packet of
// type t with data.
func messageFrame(t byte, data []byte) *Frame {
	payload := make([]byte, 0, 1+len(data))
	payload = append(payload, t)
	payload = append(payload, data...)
	return NewFrame(eioMessage, payload)
}

// pingFrame is the heartbeat every connection shares.
var pingFrame = NewFrame(eioPing, nil)

// closeFrame is a WebSocket close frame with status 1000 (normal closure).
var closeFrame = &Frame{b: []byte{0x88, 0x02, 0x03, 0xE8}}

// invalidTextFrame closes with status 1007: a text message that is not
// UTF-8 (RFC 6455 §8.1: the connection must be failed).
var invalidTextFrame = &Frame{b: []byte{0x88, 0x02, 0x03, 0xEF}}

// pongFrame answers a WebSocket ping with the same application data.
func pongFrame(appData []byte) *Frame {
	if len(appData) > 125 {
		appData = appData[:125]
	}
	b := make([]byte, 0, 2+len(appData))
	b = append(b, 0x8A, byte(len(appData)))
	return &Frame{b: append(b, appData...)}
}
