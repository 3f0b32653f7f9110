package socketio

import (
	"net/url"
	"slices"
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// libConn is a page served by the Socket.IO library: long-polling, and
// WebSockets upgraded from it.
//
// The library buffers every packet for a socket in its engine socket's
// write buffer until the transport can take it (for long-polling: until
// the page polls), without a bound. libConn counts what is in there from
// the engine socket's own events, packetCreate (a packet entered the
// buffer) and flush (the buffer went to the transport), so the page model's
// queue bound holds on this path too.
type libConn struct {
	sock    *socket.Socket
	enc     parser.Encoder
	bound   int                 // the queue bound: more waiting, and the page is cut off
	pending atomic.Int64        // bytes in the engine socket's write buffer
	onAck   func(offset uint64) // the page acknowledged the alert at offset
}

var _ conn = (*libConn)(nil)

// newLibConn wraps sock, with bound as its queue bound, and starts counting
// its write buffer.
func newLibConn(sock *socket.Socket, enc parser.Encoder, bound int) *libConn {
	l := &libConn{sock: sock, enc: enc, bound: bound}
	engine := sock.Conn()
	_ = engine.On("packetCreate", func(args ...any) {
		if p, ok := first(args).(*packet.Packet); ok {
			l.pending.Add(int64(packetSize(p)))
		}
	})
	_ = engine.On("flush", func(args ...any) {
		if ps, ok := first(args).([]*packet.Packet); ok {
			n := 0
			for _, p := range ps {
				n += packetSize(p)
			}
			l.pending.Add(-int64(n))
		}
	})
	return l
}

func packetSize(p *packet.Packet) int {
	if b, ok := p.Data.(interface{ Len() int }); ok {
		return b.Len()
	}
	return 0
}

// send writes the delivery encoded once for every library page; with ack
// it asks the page to acknowledge it instead. The library keeps its own
// ack ids (the native path uses the offset), so such an alert is encoded
// for this page alone, with a callback that reports its offset. A page
// with more than its bound already buffered is closed instead, so what
// waits for it passes the bound by one delivery at most.
func (l *libConn) send(e *outgoing, ack bool) bool {
	if !l.sock.Connected() {
		return false
	}
	if l.queued() > l.bound {
		l.close("send queue full")
		return false
	}
	if ack && l.onAck != nil {
		off, onAck := e.d.Offset, l.onAck
		args := append(slices.Clip(e.list()[1:]), socket.Ack(func(_ []any, err error) {
			if err == nil {
				onAck(off)
			}
		}))
		return l.sock.Emit(e.d.Name, args...) == nil
	}
	packets, opts := e.library.encode(e, l.enc)
	l.sock.Client().WriteToEngine(packets, opts)
	return true
}

func (l *libConn) emit(name string, args ...any) bool {
	return l.sock.Emit(name, args...) == nil
}

func (l *libConn) queued() int { return int(l.pending.Load()) }

// close drops the page at once, discarding what its buffer holds: a page
// over its queue bound would otherwise be flushed first.
func (l *libConn) close(string) { l.sock.Conn().Close(true) }

// idle reports whether the page has collected everything handed to it:
// nothing buffered, and the transport writable again. For long-polling
// that means the page's next GET is waiting, so it has read the answer
// that carried the last packets.
func (l *libConn) idle() bool {
	if l.queued() > 0 {
		return false
	}
	t := l.sock.Conn().Transport()
	return t == nil || t.Writable()
}

func (l *libConn) transport() string {
	if t := l.sock.Conn().Transport(); t != nil {
		return t.Name()
	}
	return ""
}

// libraryEncoding is a delivery encoded once for every library socket:
// 42["NAME",payload,meta] in the default namespace, pre-encoded so the
// library does not encode it again per socket. (The library's
// WsPreEncodedFrame option is not used: it builds a new prepared WebSocket
// message per socket, which cost more than it saved.)
type libraryEncoding struct {
	packets []types.BufferInterface
	opts    *socket.WriteOptions
}

func (l *libraryEncoding) encode(e *outgoing, enc parser.Encoder) ([]types.BufferInterface, *socket.WriteOptions) {
	if l.opts == nil {
		l.packets = enc.Encode(&parser.Packet{Type: parser.EVENT, Nsp: "/", Data: e.list()})
		l.opts = &socket.WriteOptions{PreEncoded: true}
	}
	return l.packets, l.opts
}

// onConnection runs on the socket's own task queue, which the library also
// uses for the socket's incoming events: a REGISTER is never handled before
// this returns.
func (s *Sink) onConnection(args ...any) {
	sock, ok := first(args).(*socket.Socket)
	if !ok {
		return
	}
	h := sock.Handshake()
	lc := newLibConn(sock, s.enc, s.limits.queueBytes)
	p := &page{c: lc, id: string(sock.Id()), connected: s.openedAt(sock.Conn())}
	lc.onAck = func(offset uint64) { s.acked(p, offset, nil) }
	if h != nil {
		p.address = h.Address
	}
	// Listen before connecting, and check Connected after: a disconnect
	// racing this handler then removes the page either way.
	_ = sock.On("disconnect", func(reason ...any) {
		r, _ := first(reason).(string)
		s.disconnected(p, r)
	})
	// Only the events the protocol knows are listened to: the library
	// acknowledges no event nobody listens to, as the native path does.
	for _, name := range protocolEvents {
		_ = sock.On(name, func(args ...any) {
			var ack socket.Ack
			if n := len(args); n > 0 {
				if fn, ok := args[n-1].(socket.Ack); ok {
					ack, args = fn, args[:n-1]
				}
			}
			reply, _ := s.event(p, name, args)
			if ack != nil {
				ack(reply, nil)
			}
		})
	}
	var hs handshake
	if h != nil {
		hs = handshake{auth: h.Auth, query: libraryQuery(h.Query)}
	}
	s.connected(p, hs)
	if !sock.Connected() {
		s.disconnected(p, "transport close")
	}
}

// libraryQuery turns the library's handshake query into url.Values.
func libraryQuery(q map[string]any) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		switch v := v.(type) {
		case []string:
			out[k] = v
		case string:
			out[k] = []string{v}
		}
	}
	return out
}

func first(v []any) any {
	if len(v) == 0 {
		return nil
	}
	return v[0]
}
