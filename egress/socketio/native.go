package socketio

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald/egress/socketio/internal/eio"
)

// nativeHandler gives pages on the native WebSocket path (internal/eio)
// the same protocol as library sockets: WELCOME, REGISTER {code}, a code
// in the handshake, rooms shared with every other page.
type nativeHandler struct{ s *Sink }

var _ eio.Handler = nativeHandler{}

func (h nativeHandler) Connect(c *eio.Conn, auth map[string]any) {
	p := &page{conn: c, id: c.ID(), connected: c.Connected(), address: c.RemoteAddr()}
	c.Value = p
	if !h.s.rooms.add(p) {
		return
	}
	// auth.code first, then ?code=, as for library sockets.
	code := codeString(auth["code"])
	if code == "" {
		code = c.Query().Get("code")
	}
	h.s.greet(p, code)
}

func (h nativeHandler) Event(c *eio.Conn, name string, args []json.RawMessage) ([]any, bool) {
	p := pageOf(c)
	if p == nil || name != eventRegister {
		return nil, false
	}
	var data any
	if len(args) > 0 {
		_ = json.Unmarshal(args[0], &data)
	}
	return []any{h.s.register(p, data)}, true
}

func (h nativeHandler) Disconnect(c *eio.Conn, reason string) {
	if p := pageOf(c); p != nil {
		h.s.rooms.remove(p)
		h.s.log.Debug("page disconnected", "sid", p.id, "reason", reason)
	}
}

func pageOf(c *eio.Conn) *page {
	p, _ := c.Value.(*page)
	return p
}

func nativeOptions(opts Options, log *slog.Logger) eio.Options {
	o := eio.Options{
		PingInterval: opts.PingInterval, PingTimeout: opts.PingTimeout,
		MaxPayload: opts.MaxBody, Log: log,
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
