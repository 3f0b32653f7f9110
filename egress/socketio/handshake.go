package socketio

import (
	"context"
	"log/slog"
	"math"
	"strconv"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/heraldhq/herald/egress/socketio/internal/eio"
)

// Event names of the page protocol.
const (
	eventWelcome  = "WELCOME"
	eventRegister = "REGISTER"
	eventError    = "ERROR"
)

// welcome is the WELCOME payload, byte for byte the seed's.
var welcome = map[string]any{"message": "Please register your code"}

// welcomeFrame is WELCOME as native pages receive it; immutable.
var welcomeFrame = func() *eio.Frame {
	f, err := eio.EventFrame(eventWelcome, welcome)
	if err != nil {
		panic(err) // a constant map always encodes
	}
	return f
}()

// onConnection runs on the socket's own task queue, which the library also
// uses for the socket's incoming events: a REGISTER is never handled before
// this returns.
func (s *Sink) onConnection(args ...any) {
	sock, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	p := &page{
		sock:      sock,
		id:        string(sock.Id()),
		connected: s.now(),
		address:   sock.Handshake().Address,
	}
	// Listen before adding, and check Connected after: a disconnect racing
	// this handler then removes the page either way.
	_ = sock.On("disconnect", func(reason ...any) {
		s.rooms.remove(p)
		s.log.Debug("page disconnected", "sid", p.id, "reason", first(reason))
	})
	_ = sock.On(eventRegister, func(args ...any) { s.onRegister(p, args) })
	if !s.rooms.add(p) || !sock.Connected() {
		s.rooms.remove(p)
		return
	}
	s.greet(p, handshakeCode(sock.Handshake()))
}

// greet sends WELCOME, always the page's first event, as with the seed.
// With a handshake code it is queued under the room lock right after the
// join: no delivery can overtake it, and a page that sees it is already in
// its room. Seed-style pages answer it with REGISTER, which is then a no-op.
func (s *Sink) greet(p *page, code string) {
	emitWelcome := func() {
		if p.conn != nil {
			p.conn.Send(welcomeFrame) // framed once for every native page
			return
		}
		p.emit(eventWelcome, welcome)
	}
	if code != "" {
		s.join(p, code, "handshake", emitWelcome)
	} else {
		emitWelcome()
	}
	s.log.Debug("page connected", "sid", p.id, "transport", p.transport())
}

// onRegister handles REGISTER {code} from a library socket. If the page
// asked for an acknowledgement (herald's extension; seed pages do not) it
// gets {"ok":true,"code":C} once it is in the room, or {"ok":false,"error":…}.
func (s *Sink) onRegister(p *page, args []any) {
	var ack socket.Ack
	if n := len(args); n > 0 {
		if fn, ok := args[n-1].(socket.Ack); ok {
			ack, args = fn, args[:n-1]
		}
	}
	var data any
	if len(args) > 0 {
		data = args[0]
	}
	reply := s.register(p, data)
	if ack != nil {
		ack([]any{reply}, nil)
	}
}

// register joins p to the room its REGISTER names and returns the
// acknowledgement to send if the page asked for one. A REGISTER without a
// code is ignored, and the page is told why with an ERROR event.
func (s *Sink) register(p *page, data any) map[string]any {
	code := registerCode(data)
	if code == "" {
		s.log.Debug("REGISTER without a code ignored", "sid", p.id)
		const reason = "REGISTER needs a code: emit REGISTER {code: \"…\"}"
		p.emit(eventError, map[string]any{"message": reason})
		return map[string]any{"ok": false, "error": reason}
	}
	s.join(p, code, "register", nil)
	return map[string]any{"ok": true, "code": code}
}

func (s *Sink) join(p *page, code, via string, then func()) {
	old, ok := s.rooms.join(p, code, then)
	if !ok || !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.log.Debug("page registered", "sid", p.id, "code", logCode(code), "previous", logCode(old), "via", via)
}

// registerCode extracts the code from a REGISTER argument. The seed's pages
// send {code: "…"}; a bare string is accepted too, and so is an integral
// number (a page that wrote {code: 1234}), as its decimal text. Anything
// else yields "".
func registerCode(data any) string {
	if m, ok := data.(map[string]any); ok {
		data = m["code"]
	}
	return codeString(data)
}

func codeString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}

// handshakeCode is the code a page passed when connecting: auth.code
// (io(url, {auth: {code}})) first, then the code query parameter
// (io(url, {query: {code}})).
func handshakeCode(h *socket.Handshake) string {
	if h == nil {
		return ""
	}
	if code := codeString(h.Auth["code"]); code != "" {
		return code
	}
	// Query values are lists; with ?code=a&code=b the first one wins.
	if vs, ok := h.Query["code"].([]string); ok && len(vs) > 0 {
		return vs[0]
	}
	return codeString(h.Query["code"])
}

func first(v []any) any {
	if len(v) == 0 {
		return nil
	}
	return v[0]
}
