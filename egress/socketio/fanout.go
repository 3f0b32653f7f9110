package socketio

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald"
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
// It does what the library's adapter broadcast does, without the adapter:
// the packet is encoded once, the WebSocket frame is prepared once, and each
// page gets the same bytes through its client's write queue. Writing only
// appends to that queue (the engine flushes it on its own goroutines), so a
// slow page never blocks Deliver. Deliver is safe for concurrent use.
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
	encoded, opts := s.encode(d)
	n := 0
	for _, p := range pages {
		if !p.sock.Connected() {
			continue
		}
		p.sock.Client().WriteToEngine(encoded, opts)
		n++
	}
	return n, nil
}

// encode turns d into the engine.io payload every page receives:
// 42["NAME",payload,meta] in the default namespace.
func (s *Sink) encode(d herald.Delivery) ([]types.BufferInterface, *socket.WriteOptions) {
	payload := d.Payload
	if payload == nil {
		// Seed pages read fields of the first argument; never send null.
		payload = map[string]any{}
	}
	packet := &parser.Packet{
		Type: parser.EVENT,
		Nsp:  "/",
		Data: []any{d.Name, payload, d.Meta()},
	}
	encoded := s.enc.Encode(packet)
	opts := &socket.WriteOptions{PreEncoded: true}
	if len(encoded) == 1 {
		if str, ok := encoded[0].(*types.StringBuffer); ok {
			// "4" is the engine.io message type; the library's WebSocket
			// transport sends this frame as is instead of re-encoding it per
			// page (the same trick as the adapter's broadcast).
			frame := types.NewStringBufferString("4")
			_, _ = frame.Write(str.Bytes())
			opts.WsPreEncodedFrame = frame
		}
	}
	return encoded, opts
}
