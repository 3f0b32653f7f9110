package socketio

import (
	"time"

	"github.com/heraldhq/herald/internal/limit"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// engineSession is what the sink uses of the library's engine socket: one
// Engine.IO session, from its handshake to its close, whatever transports
// it moves across (long-polling, then a WebSocket upgraded from it).
type engineSession interface {
	Request() *types.HttpContext
	Once(types.EventName, ...types.EventListener) error
	ReadyState() string
}

// onEngineConnection keeps the count the server took for a session's
// handshake (a limit.Hold in the request's context, cmd/herald's
// --conns-per-ip) until the library closes the session. The engine
// socket emits "close" exactly once, whatever ends the session: the page
// leaving, a ping timeout, a transport error, CloseSession or Close. An
// upgrade to a WebSocket moves the same engine socket to a new transport
// and closes nothing. So a long-polling page counts as one open
// connection between its polls too, and as one after it upgrades. The
// engine emits "connection" inside the handshake request, before that
// request's Hold ends.
//
// It also notes when the session opened: a library page's connect time
// (onConnection), which orders two connections of one page (rooms'
// holdSessionLocked) by when they came, not by when a slow recovery
// lookup let them in.
func (s *Sink) onEngineConnection(args ...any) {
	sess, ok := first(args).(engineSession)
	if !ok || sess.Request() == nil {
		return
	}
	s.opened.Store(sess, s.now())
	release := func() { s.opened.Delete(sess) }
	if hold := limit.HoldOf(sess.Request().Context()); hold != nil {
		keep := hold.Keep()
		release = func() { s.opened.Delete(sess); keep() }
	}
	_ = sess.Once("close", func(...any) { release() })
	// A close between the engine's own check and the line above has
	// been emitted already.
	if sess.ReadyState() == "closed" {
		release()
	}
}

// openedAt is when the engine session conn opened, or now if it is not
// known (nothing recorded it).
func (s *Sink) openedAt(conn any) time.Time {
	if t, ok := s.opened.Load(conn); ok {
		return t.(time.Time)
	}
	return s.now()
}

// CloseSession drops the library session id at once, discarding what its
// buffer holds, as a page over its queue bound is dropped. cmd/herald
// calls it for a long-polling page whose response could not be written in
// time: the page no longer reads, and would otherwise hold its session
// until the heartbeat gives up on it. It reports whether there was one.
func (s *Sink) CloseSession(id string) bool {
	sess, ok := s.io.Engine().Clients().Load(id)
	if !ok {
		return false
	}
	sess.Close(true)
	return true
}
