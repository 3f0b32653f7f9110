package socketio

import (
	"context"
	"net/url"

	"github.com/heraldhq/herald"
)

// Event names of the page protocol.
const (
	eventWelcome  = "WELCOME"
	eventRegister = "REGISTER"
	eventError    = "ERROR"
)

// protocolEvents are the events pages send that the protocol handles.
var protocolEvents = []string{eventRegister}

// welcome is the WELCOME payload, byte for byte the original service's.
var welcome = map[string]any{"message": "Please register your code"}

// The protocol below is the only one: both connections (conn_library.go,
// conn_native.go) call connected, event, acked and disconnected.

// handshake is what a page sent when it connected: its CONNECT auth and
// its handshake URL's query.
type handshake struct {
	auth  map[string]any
	query url.Values
}

// connected runs once per page, when it joined the default namespace.
// WELCOME is always the page's first event, as with the original service.
// With a code in the handshake, WELCOME is queued under the room lock right
// after the join: no delivery can overtake it, and a page that sees it is
// already in its room. Pages of the original kind answer it with REGISTER,
// which is then a no-op.
//
// Connection state recovery (issue 10) hooks in here: resume looks up
// h.auth's {pid, offset}, restores the page's code and replays what it
// missed before the live deliveries start.
func (s *Sink) connected(p *page, h handshake) {
	if !s.rooms.add(p) {
		if p.resumed != nil { // looked up before it left (native path)
			s.unclaim(p.resumed.Code, p.resumed.Claimed)
		}
		return
	}
	if s.recovery != nil {
		s.refresher.Do(func() { go s.refreshSessions() })
	}
	if s.recover(p, h) {
		return
	}
	code, err := handshakeCode(h)
	greet := func() { p.c.emit(eventWelcome, welcome) }
	switch {
	case err != nil:
		greet()
		s.refuse(p, err.Error())
	case code != "":
		s.join(p, code, "handshake", greet)
	default:
		greet()
	}
	s.log.Debug("page connected", "sid", p.id, "transport", p.c.transport())
}

// event handles one event a page emitted. ok reports whether the protocol
// knows the event; only then does a page that asked for an acknowledgement
// get one, as the Socket.IO library does for an event nobody listens to.
func (s *Sink) event(p *page, name string, args []any) (ack []any, ok bool) {
	if name != eventRegister {
		return nil, false
	}
	var data any
	if len(args) > 0 {
		data = args[0]
	}
	return []any{s.register(p, data)}, true
}

// acked runs when a page acknowledged a delivery it was sent with an ack
// id: the id is the delivery's offset in the page's room, and the journal
// counts the ack.
func (s *Sink) acked(p *page, id uint64, _ []any) {
	if s.recovery == nil || id == 0 {
		return
	}
	room, sent := p.unacked.acked(id)
	s.rooms.mu.Lock()
	code := p.code
	// An acknowledged alert was shown: the page's session resumes after
	// it. socket.io-client keeps no offset for an event that carries an
	// acknowledgement callback (the callback, not the position, is its
	// last argument), so a page that acks with the official client alone
	// comes back with its pid and no offset, or an old one; without this
	// it would get every alert of its session again. Only an offset this
	// page was sent in its current room counts.
	if code != "" && (!sent || room == code) && id <= p.offset.Load() && id > p.since {
		p.since = id
	}
	s.rooms.mu.Unlock()
	if sent {
		code = room // an alert of its old room, acked after the page changed codes
	}
	if code == "" {
		return
	}
	s.journalWrite(func() {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		if err := s.recovery.Acked(ctx, code, id); err != nil {
			s.log.Warn("recovery: ack not counted", "err", err)
		}
	})
}

// disconnected runs once when the page's connection ended.
func (s *Sink) disconnected(p *page, reason string) {
	s.keepSession(p)
	s.forgetOwed(p, "")
	if s.rooms.remove(p) {
		s.roomsChanged()
	}
	s.giveBack(p)
	s.log.Debug("page disconnected", "sid", p.id, "reason", reason)
}

// register joins p to the room its REGISTER names and returns the
// acknowledgement to send if the page asked for one (herald's extension;
// pages of the original service do not): {"ok":true,"code":C} once it is
// in the room, or {"ok":false,"error":…}. A REGISTER without a usable code
// is ignored, and the page is told why with an ERROR event.
func (s *Sink) register(p *page, data any) map[string]any {
	code, err := registerCode(data)
	if err == nil && code == "" {
		err = errNoCode
	}
	if err != nil {
		s.log.Debug("REGISTER refused", "sid", p.id, "err", err)
		return s.refuse(p, err.Error())
	}
	pending, err := s.pendingFor(code)
	joined := s.join(p, code, "register", func() {
		p.since = pending.Since
		s.settle(code, pending.Claimed, s.send(p, pending.Missed))
	})
	if !joined { // it left meanwhile: what was claimed for it is pending again
		s.unclaim(code, pending.Claimed)
	}
	if err != nil {
		s.owePending(p, code, pending.ClaimToken)
	} else {
		s.forgetOwed(p, "")
	}
	s.keepSession(p)
	return map[string]any{"ok": true, "code": code}
}

// refuse tells the page why its code was not taken, as an ERROR event, and
// returns the matching negative acknowledgement.
func (s *Sink) refuse(p *page, reason string) map[string]any {
	p.c.emit(eventError, map[string]any{"message": reason})
	return map[string]any{"ok": false, "error": reason}
}

// join puts p in room code and runs then under the rooms' lock, unless p
// is gone; it reports whether it did.
func (s *Sink) join(p *page, code, via string, then func()) bool {
	old, ok := s.rooms.join(p, code, then)
	if ok && old != code {
		s.roomsChanged()
	}
	if ok {
		s.log.Debug("page registered", "sid", p.id, "code", logCode(code), "previous", logCode(old), "via", via)
	}
	return ok
}

// registerCode extracts the code from a REGISTER argument: {code: "…"} as
// pages of the original service send it, or a bare code.
func registerCode(data any) (string, error) {
	if m, ok := data.(map[string]any); ok {
		data = m["code"]
	}
	return codeOf(data)
}

// codeError is why a page's code was not taken.
type codeError string

func (e codeError) Error() string { return string(e) }

const (
	errNoCode   = codeError("REGISTER needs a code: emit REGISTER {code: \"…\"}")
	errLongCode = codeError("code too long: at most 256 bytes")
)

// codeOf reads a code as pages send it (herald.CodeText: a string, or an
// integral number as its decimal text). A code longer than maxCodeBytes is
// an error.
func codeOf(v any) (string, error) {
	code := herald.CodeText(v)
	if len(code) > maxCodeBytes {
		return "", errLongCode
	}
	return code, nil
}

// handshakeCode is the code a page passed when connecting: auth.code
// (io(url, {auth: {code}})) first, then the code query parameter
// (io(url, {query: {code}})); with ?code=a&code=b the first one wins.
func handshakeCode(h handshake) (string, error) {
	code, err := codeOf(h.auth["code"])
	if code != "" || err != nil {
		return code, err
	}
	return codeOf(h.query.Get("code"))
}
