package socketio

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald/egress/socketio/internal/eio"
)

// nativeConn is a page on the native WebSocket path (internal/eio): pages
// that open a WebSocket straight away, which is every notificationservice.js
// page. eio holds its queue bound (a Send past it aborts the connection)
// and its write timeout, set from the same limits as library pages.
type nativeConn struct{ c *eio.Conn }

var _ conn = nativeConn{}

func (n nativeConn) send(e *outgoing, ack bool) bool {
	f, err := e.native.frameFor(e, ack)
	if err != nil {
		return false
	}
	if e.batch != nil {
		return e.batch.Send(n.c, f)
	}
	return n.c.Send(f)
}

func (n nativeConn) emit(name string, args ...any) bool {
	if name == eventWelcome && len(args) == 1 {
		return n.c.Send(welcomeFrame) // framed once for every native page
	}
	f, err := eio.EventFrame(name, args...)
	if err != nil {
		return false
	}
	return n.c.Send(f)
}

func (n nativeConn) close(reason string) { n.c.Close(reason) }
func (n nativeConn) transport() string   { return "websocket" }

// welcomeFrame is WELCOME as native pages receive it; immutable.
var welcomeFrame = func() *eio.Frame {
	f, err := eio.EventFrame(eventWelcome, welcome)
	if err != nil {
		panic(err) // a constant map always encodes
	}
	return f
}()

// nativeEncoding is a delivery framed once for every native page (and
// once more, with the offset as ack id, for the pages that acknowledge).
type nativeEncoding struct {
	f, ack *eio.Frame
	err    error
}

func (n *nativeEncoding) ackFrame(e *outgoing) (*eio.Frame, error) {
	if n.ack == nil && n.err == nil {
		n.ack, n.err = eio.EventFrameAck(e.d.Offset, e.d.Name, e.list()[1:]...)
	}
	return n.ack, n.err
}

// frameFor is the frame a native page gets for e, with an ack id when
// ack. The plain frame is encoded either way: its error is the one the
// delivery reports.
func (n *nativeEncoding) frameFor(e *outgoing, ack bool) (*eio.Frame, error) {
	f, err := n.frame(e)
	if ack {
		f, err = n.ackFrame(e)
	}
	return f, err
}

func (n *nativeEncoding) frame(e *outgoing) (*eio.Frame, error) {
	if n.f == nil && n.err == nil {
		n.f, n.err = eio.EventFrameOf(e.list())
		if n.err != nil {
			n.err = fmt.Errorf("socketio: encoding %s: %w", e.d.Name, n.err)
		}
	}
	return n.f, n.err
}

// nativeHandler turns eio's callbacks into the page protocol.
type nativeHandler struct{ s *Sink }

var _ eio.Handler = nativeHandler{}

func (h nativeHandler) Connect(c *eio.Conn, auth map[string]any) {
	p := pageOf(c)
	if p == nil {
		p = h.s.newNativePage(c)
	}
	h.s.connected(p, handshake{auth: auth, query: c.Query()})
}

// newNativePage makes the page of a native connection.
func (s *Sink) newNativePage(c *eio.Conn) *page {
	p := &page{c: nativeConn{c}, id: c.ID(), connected: c.Connected(), address: c.RemoteAddr()}
	c.Value = p
	return p
}

func (h nativeHandler) Event(c *eio.Conn, name string, raw []json.RawMessage) ([]any, bool) {
	p := pageOf(c)
	if p == nil {
		return nil, false
	}
	return h.s.event(p, name, decodeArgs(raw))
}

func (h nativeHandler) Ack(c *eio.Conn, id uint64, raw []json.RawMessage) {
	if p := pageOf(c); p != nil {
		h.s.acked(p, id, decodeArgs(raw))
	}
}

func (h nativeHandler) Disconnect(c *eio.Conn, reason string) {
	if p := pageOf(c); p != nil {
		h.s.disconnected(p, reason)
	}
}

// decodeArgs decodes event arguments as the library does: JSON values
// (string, float64, map[string]any…); one that does not decode is nil.
func decodeArgs(raw []json.RawMessage) []any {
	args := make([]any, len(raw))
	for i, r := range raw {
		_ = json.Unmarshal(r, &args[i])
	}
	return args
}

func pageOf(c *eio.Conn) *page {
	p, _ := c.Value.(*page)
	return p
}

func nativeOptions(opts Options, l limits, log *slog.Logger) eio.Options {
	o := eio.Options{
		PingInterval: opts.PingInterval, PingTimeout: opts.PingTimeout,
		MaxPayload: opts.MaxBody, QueueBytes: l.queueBytes, WriteTimeout: l.writeTimeout,
		PlainWrites: opts.PlainWrites, Log: log,
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = defaultMaxBody
	}
	if origin := opts.CORSOrigin; origin != "" && origin != "*" {
		// Browsers send Origin on WebSocket handshakes; a page loaded from
		// another origin is refused as its polling requests would be. OBS
		// browser sources with no Origin (local files) are let in.
		o.CheckOrigin = func(r *http.Request) bool {
			got := r.Header.Get("Origin")
			return got == "" || got == origin
		}
	}
	return o
}
