package socketio

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// reserved are event names the official client handles itself; emitting
// one would fire the page's own connect/disconnect handlers.
var reserved = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Deliver emits d.Name with d.Payload and d.Meta() to every page registered
// under d.Room and returns how many pages it wrote to.
//
// The delivery is encoded once per transport, and only for the transports
// the room's pages use: native WebSocket pages share one pre-built frame,
// library sockets share one encoded packet. Writing only queues (each
// transport flushes on its own goroutines), so a slow page never blocks
// Deliver. Deliver is safe for concurrent use.
func (s *Sink) Deliver(ctx context.Context, d herald.Delivery) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	if reserved[d.Name] || d.Name == "" {
		return 0, fmt.Errorf("socketio: cannot emit event %q: reserved or empty name", d.Name)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("socketio: deliver: %w", err)
	}
	// The member snapshot comes from a per-Sink pool, so a delivery to a
	// busy room does not allocate a slice per call.
	bufp := s.snapshots.Get().(*[]*page)
	defer func() {
		clear(*bufp)
		*bufp = (*bufp)[:0]
		s.snapshots.Put(bufp)
	}()
	pages := s.rooms.members(d.Room, *bufp)
	*bufp = pages
	if len(pages) == 0 {
		return 0, nil
	}
	var enc encoded
	n := 0
	for _, p := range pages {
		if p.conn != nil {
			f, err := enc.frame(d)
			if err != nil {
				return n, err
			}
			if p.conn.Send(f) {
				n++
			}
			continue
		}
		if !p.sock.Connected() {
			continue
		}
		packets, opts := enc.library(s, d)
		p.sock.Client().WriteToEngine(packets, opts)
		n++
	}
	return n, nil
}

// encoded holds one delivery's encodings, each made on first use.
type encoded struct {
	f       *eio.Frame
	packets []types.BufferInterface
	opts    *socket.WriteOptions
}

func (e *encoded) frame(d herald.Delivery) (*eio.Frame, error) {
	if e.f != nil {
		return e.f, nil
	}
	f, err := eio.EventFrame(d.Name, payloadOf(d), d.Meta())
	if err != nil {
		return nil, fmt.Errorf("socketio: encoding %s: %w", d.Name, err)
	}
	e.f = f
	return f, nil
}

// library encodes d as the library's sockets take it:
// 42["NAME",payload,meta] in the default namespace, pre-encoded so the
// library does not encode it again per socket. (The library's
// WsPreEncodedFrame option is not used: it builds a new prepared WebSocket
// message per socket, which cost more than it saved.)
func (e *encoded) library(s *Sink, d herald.Delivery) ([]types.BufferInterface, *socket.WriteOptions) {
	if e.opts == nil {
		e.packets = s.enc.Encode(&parser.Packet{
			Type: parser.EVENT, Nsp: "/", Data: []any{d.Name, payloadOf(d), d.Meta()},
		})
		e.opts = &socket.WriteOptions{PreEncoded: true}
	}
	return e.packets, e.opts
}

// payloadOf is the first emit argument: seed pages read fields of it, so
// it is never null.
func payloadOf(d herald.Delivery) map[string]any {
	if d.Payload == nil {
		return map[string]any{}
	}
	return d.Payload
}
