package faketwitch

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is one EventSub WebSocket connection from herald.
type Conn struct {
	// Session is the session id the welcome gave.
	Session string
	// Reconnected is true for a connection that followed session_reconnect.
	Reconnected bool

	s         *Server
	welcomed  time.Time
	ws        *websocket.Conn
	wmu       sync.Mutex
	quiet     atomic.Bool
	closed    chan struct{}
	inbound   atomic.Int64
	closeCode atomic.Int64
}

var msgSeq atomic.Int64

func nextID() string { return fmt.Sprintf("msg-%06d", msgSeq.Add(1)) }

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &Conn{s: s, ws: ws, closed: make(chan struct{}), welcomed: time.Now()}
	s.mu.Lock()
	if old := r.URL.Query().Get("reconnect"); old != "" {
		c.Session, c.Reconnected = old, true
	} else {
		s.sessions++
		c.Session = fmt.Sprintf("session-%d", s.sessions)
	}
	s.conns = append(s.conns, c)
	keepalive := s.Keepalive
	s.mu.Unlock()
	go c.read()
	var replaced []*Conn
	if c.Reconnected {
		if gate := s.reconnectGate(); gate != nil {
			<-gate
		}
		replaced = s.connsOf(c.Session, c)
	}
	c.send(map[string]any{"metadata": meta("session_welcome"), "payload": map[string]any{"session": map[string]any{
		"id": c.Session, "status": "connected", "connected_at": now(), "keepalive_timeout_seconds": keepalive, "reconnect_url": nil}}})
	go c.keepalives(time.Duration(keepalive) * time.Second)
	if !c.Reconnected {
		go func() {
			select {
			case <-c.closed:
			case <-time.After(subscribeWindow):
				if !s.hasSubs(c.Session) {
					c.CloseWith(4003)
				}
			}
		}()
	}
	// As Twitch does: once the new connection is welcomed, the old one of
	// the same session is closed.
	for _, o := range replaced {
		o.CloseWith(websocket.CloseNormalClosure)
	}
	s.newConn <- c
}

// HoldReconnects makes connections that follow a session_reconnect wait
// for ReleaseReconnects before their welcome.
func (s *Server) HoldReconnects() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

// ReleaseReconnects lets held reconnections be welcomed.
func (s *Server) ReleaseReconnects() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

func (s *Server) reconnectGate() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gate
}

// connsOf lists the open connections of session other than except.
func (s *Server) connsOf(session string, except *Conn) []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Conn
	for _, c := range s.conns {
		if c != except && c.Session == session {
			out = append(out, c)
		}
	}
	return out
}

func meta(typ string) map[string]any {
	return map[string]any{"message_id": nextID(), "message_type": typ, "message_timestamp": now()}
}

func (c *Conn) read() {
	defer close(c.closed)
	for {
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closeCode.Store(int64(ce.Code))
			}
			return
		}
		c.inbound.Add(1) // Twitch would close with 4001
	}
}

// keepalives sends session_keepalive a little before each timeout, as
// Twitch does, until StopKeepalives or the connection ends.
func (c *Conn) keepalives(every time.Duration) {
	t := time.NewTicker(every * 2 / 3)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			if !c.quiet.Load() {
				c.send(map[string]any{"metadata": meta("session_keepalive"), "payload": map[string]any{}})
			}
		}
	}
}

func (c *Conn) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteJSON(v)
}

// SendRaw writes one text frame as is.
func (c *Conn) SendRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

// StopKeepalives makes the connection go silent.
func (c *Conn) StopKeepalives() { c.quiet.Store(true) }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// CloseCode is the close code herald sent, once Done (0 if none).
func (c *Conn) CloseCode() int { return int(c.closeCode.Load()) }

// Inbound counts frames herald sent (Twitch forbids any).
func (c *Conn) Inbound() int64 { return c.inbound.Load() }

// CloseWith closes the connection with code, as Twitch does.
func (c *Conn) CloseWith(code int) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

func (c *Conn) sub(typ string) Sub {
	for _, s := range c.s.Subs() {
		if s.Session == c.Session && s.Type == typ {
			return s
		}
	}
	return Sub{ID: "unknown", Type: typ, Version: "1", Status: "enabled", Session: c.Session}
}

// Notify sends a notification for the session's subscription of typ and
// returns its message id.
func (c *Conn) Notify(typ string, event map[string]any) string {
	id := nextID()
	c.NotifyID(id, typ, event)
	return id
}

// NotifyID sends a notification with a given message id (a redelivery).
func (c *Conn) NotifyID(id, typ string, event map[string]any) {
	sub := c.sub(typ)
	m := meta("notification")
	m["message_id"], m["subscription_type"], m["subscription_version"] = id, typ, sub.Version
	c.send(map[string]any{"metadata": m, "payload": map[string]any{"subscription": subJSON(sub), "event": event}})
}

// Revoke sends a revocation of the session's subscription of typ.
func (c *Conn) Revoke(typ, status string) string {
	sub := c.sub(typ)
	sub.Status = status
	m := meta("revocation")
	m["subscription_type"], m["subscription_version"] = typ, sub.Version
	c.send(map[string]any{"metadata": m, "payload": map[string]any{"subscription": subJSON(sub)}})
	return m["message_id"].(string)
}

// Reconnect sends session_reconnect pointing at a new connection for the
// same session.
func (c *Conn) Reconnect() {
	c.send(map[string]any{"metadata": meta("session_reconnect"), "payload": map[string]any{"session": map[string]any{
		"id": c.Session, "status": "reconnecting", "keepalive_timeout_seconds": nil, "connected_at": now(),
		"reconnect_url": c.s.EventSubURL() + "?reconnect=" + c.Session}}})
}
