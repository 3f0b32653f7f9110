package eio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Handler is what the Socket.IO layer above does with a connection. Its
// methods are called from the connection's reader goroutine, one at a time
// per connection, concurrently across connections.
type Handler interface {
	// Connect runs when the page joined the default namespace; auth is the
	// CONNECT packet's payload (nil if none).
	Connect(c *Conn, auth map[string]any)
	// Event runs for every event the page emits. If the page asked for an
	// acknowledgement and the handler knows the event (ok), ack is sent
	// back as its arguments; an unknown event is not acknowledged, as the
	// Socket.IO library does with an event nobody listens to.
	Event(c *Conn, name string, args []json.RawMessage) (ack []any, ok bool)
	// Ack runs when the page acknowledged an event the server sent with
	// ack id id.
	Ack(c *Conn, id uint64, args []json.RawMessage)
	// Disconnect runs once, after Connect, when the connection ended.
	Disconnect(c *Conn, reason string)
}

// Sessioner is an optional capability of a Handler: the private session id
// (Socket.IO connection state recovery's pid) to put in the CONNECT answer,
// and the socket id of a recovered session, which replaces the Conn's. It
// runs before the answer is sent and before Connect; "" sends no pid, or
// keeps the socket id.
type Sessioner interface {
	Session(c *Conn, auth map[string]any) (pid, sid string)
}

// Options tunes a Server. Zero values take the defaults in parentheses.
type Options struct {
	PingInterval time.Duration // (25s) as the Socket.IO server's default
	PingTimeout  time.Duration // (20s)
	MaxPayload   int64         // largest message a page may send (1 MB)
	QueueBytes   int           // per-page send queue before it is cut off (4 MiB)
	WriteTimeout time.Duration // a write that takes longer closes the page (10s)
	// ConnectTimeout is how long a WebSocket may stay open without joining
	// the namespace (45s, as the Socket.IO server's connectTimeout).
	ConnectTimeout time.Duration
	// CheckOrigin vets the handshake's Origin; nil accepts every origin,
	// as browser sources often have none or file://.
	CheckOrigin func(r *http.Request) bool
	// PlainWrites makes a Batch write each page with its own system call
	// even where io_uring is there (a kernel policy may forbid it; this
	// also lets both ways be tested).
	PlainWrites bool
	Log         *slog.Logger
}

// Server accepts WebSocket pages. Create it with NewServer.
type Server struct {
	opts     Options
	handler  Handler
	upgrader websocket.Upgrader
	log      *slog.Logger
	rings    *ringPool

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	closing bool
	readers sync.WaitGroup
	beating sync.Once
	stop    chan struct{}
}

// NewServer returns a server that hands connections to h. It starts
// nothing: the heartbeat goroutine starts with the first connection, and
// Close stops it.
func NewServer(opts Options, h Handler) *Server {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 20 * time.Second
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 1e6
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 4 << 20
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 45 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	check := opts.CheckOrigin
	if check == nil {
		check = func(*http.Request) bool { return true }
	}
	s := &Server{
		opts: opts, handler: h, log: opts.Log, rings: newRingPool(opts.PlainWrites, opts.Log),
		conns: map[*Conn]struct{}{}, stop: make(chan struct{}),
		// A small read buffer (pages send little: pongs and REGISTER) and
		// a write-buffer pool that is never drawn from (frames are written
		// straight to the socket) keep an idle page's memory small: the
		// HTTP server's 4 KiB buffers are released after the upgrade.
		upgrader: websocket.Upgrader{ReadBufferSize: 512, WriteBufferPool: unusedPool{}, CheckOrigin: check},
	}
	return s
}

// unusedPool satisfies websocket.BufferPool; herald never writes through
// the websocket library, so it is never asked for a buffer.
type unusedPool struct{}

func (unusedPool) Get() any { return nil }
func (unusedPool) Put(any)  {}

// Accepts reports whether r is a direct WebSocket handshake this server
// takes: Engine.IO v4, transport=websocket and no session id (an upgrade
// of a polling session belongs to the session's owner).
func Accepts(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("transport") == "websocket" && q.Get("sid") == "" && q.Get("EIO") == "4" &&
		websocket.IsWebSocketUpgrade(r)
}

// ServeHTTP upgrades the request and returns; the page is served on a
// goroutine of its own until it leaves. Returning lets the HTTP server
// release what it kept for the request (its 4 KiB read and write buffers
// and a grown stack), which is most of an idle page's memory otherwise.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.readers.Add(1)
	}
	s.mu.Unlock()
	if closing {
		http.Error(w, `{"code":3,"message":"Server shutting down"}`, http.StatusServiceUnavailable)
		return
	}
	gw := &guardedWriter{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(gw, r, nil)
	if err != nil {
		s.readers.Done()
		s.log.Debug("websocket handshake refused", "err", err, "remote", r.RemoteAddr)
		return // the upgrader has answered
	}
	c := &Conn{srv: s, ws: ws, nc: gw.conn.Conn, id: newID(), query: r.URL.RawQuery,
		remote: r.RemoteAddr, start: time.Now()}
	c.fd, c.hasFD = fdOf(c.nc)
	gw.conn.owner.Store(c) // from here on the Conn is the socket's only writer
	go s.serve(c)
}

// serve runs one page: the open packet, then its packets until it leaves.
func (s *Server) serve(c *Conn) {
	defer s.readers.Done()
	c.ws.SetReadLimit(s.opts.MaxPayload)
	c.ws.SetPingHandler(func(data string) error { c.Send(pongFrame([]byte(data))); return nil })
	c.ws.SetCloseHandler(func(int, string) error { c.closeAfter(closeFrame, "transport close"); return nil })
	if !s.track(c) {
		c.abort("server shutting down")
		return
	}
	defer s.untrack(c)
	open, _ := json.Marshal(map[string]any{
		"sid": c.id, "upgrades": []string{},
		"pingInterval": s.opts.PingInterval.Milliseconds(), "pingTimeout": s.opts.PingTimeout.Milliseconds(),
		"maxPayload": s.opts.MaxPayload,
	})
	c.nextPing.Store(time.Now().Add(s.opts.PingInterval).UnixNano())
	c.Send(NewFrame(eioOpen, open))
	reason := c.closeReason(s.read(c))
	if reason == "transport close" || reason == "protocol error" {
		c.Close(reason) // the close frame queued in reply still goes out
	} else {
		c.abort(reason)
	}
	if c.connected.Load() {
		s.handler.Disconnect(c, reason)
	}
}

// read handles the page's packets until the connection ends and returns
// why it ended.
func (s *Server) read(c *Conn) string {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return "transport close"
			}
			return "transport error"
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return "transport error"
		}
		if typ != websocket.TextMessage || len(data) == 0 {
			continue // binary attachments are not part of herald's protocol
		}
		if !utf8.Valid(data) {
			// gorilla leaves this check to us; a page that sends such a
			// frame is broken, and what it meant cannot be known.
			c.closeAfter(invalidTextFrame, "protocol error")
			return "protocol error"
		}
		if reason := s.packet(c, data); reason != "" {
			return reason
		}
	}
}

// packet handles one Engine.IO packet; a non-empty result ends the connection.
func (s *Server) packet(c *Conn, p []byte) string {
	switch p[0] {
	case eioPong:
		c.pongBy.Store(0)
	case eioPing: // Engine.IO v3 clients ping the server themselves
		c.Send(NewFrame(eioPong, p[1:]))
	case eioClose:
		return "client close"
	case eioMessage:
		if len(p) > 1 {
			return s.socketPacket(c, p[1:])
		}
	}
	return ""
}

// socketPacket handles a Socket.IO packet.
func (s *Server) socketPacket(c *Conn, p []byte) string {
	nsp, rest := namespace(p[1:])
	if nsp != "/" {
		if p[0] == sioConnect {
			msg, _ := json.Marshal(map[string]string{"message": "Invalid namespace"})
			c.Send(messageFrame(sioConnectError, append([]byte(nsp+","), msg...)))
		}
		return ""
	}
	switch p[0] {
	case sioConnect:
		if c.connected.Load() {
			return ""
		}
		var auth map[string]any
		if len(rest) > 0 && json.Unmarshal(rest, &auth) != nil {
			auth = nil
		}
		answer := map[string]string{}
		if ss, ok := s.handler.(Sessioner); ok {
			pid, sid := ss.Session(c, auth)
			if pid != "" {
				answer["pid"] = pid
			}
			if sid != "" {
				c.id = sid // read only on this goroutine, and by the handler's Connect
			}
		}
		answer["sid"] = c.id
		ack, _ := json.Marshal(answer)
		c.Send(messageFrame(sioConnect, ack))
		c.connected.Store(true)
		s.handler.Connect(c, auth)
	case sioDisconnect:
		return "client namespace disconnect"
	case sioEvent:
		if c.connected.Load() {
			s.event(c, rest)
		}
	case sioAck:
		if c.connected.Load() {
			s.ack(c, rest)
		}
	}
	return ""
}

// event decodes [id]["name",args…] and calls the handler.
func (s *Server) event(c *Conn, p []byte) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	ackID := string(p[:i])
	if _, err := strconv.ParseUint(ackID, 10, 53); ackID != "" && err != nil {
		// Socket.IO ack ids are JavaScript safe integers; a longer one is
		// not a page's, and must not be echoed back at any length.
		s.log.Debug("malformed ack id", "sid", c.id)
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(p[i:], &list); err != nil || len(list) == 0 {
		s.log.Debug("malformed event", "sid", c.id)
		return
	}
	var name string
	if err := json.Unmarshal(list[0], &name); err != nil {
		s.log.Debug("malformed event name", "sid", c.id)
		return
	}
	ack, ok := s.handler.Event(c, name, list[1:])
	if ackID == "" || !ok {
		return
	}
	if ack == nil {
		ack = []any{}
	}
	if data, err := json.Marshal(ack); err == nil {
		c.Send(messageFrame(sioAck, append([]byte(ackID), data...)))
	}
}

// ack decodes id[args…] and calls the handler; a malformed ack is ignored.
func (s *Server) ack(c *Conn, p []byte) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	id, err := strconv.ParseUint(string(p[:i]), 10, 64)
	var args []json.RawMessage
	if err != nil || json.Unmarshal(p[i:], &args) != nil {
		s.log.Debug("malformed ack", "sid", c.id)
		return
	}
	s.handler.Ack(c, id, args)
}

// namespace splits "/nsp,rest" into its namespace and the rest; packets of
// the default namespace carry none.
func namespace(p []byte) (string, []byte) {
	if len(p) == 0 || p[0] != '/' {
		return "/", p
	}
	for i, b := range p {
		if b == ',' {
			return string(p[:i]), p[i+1:]
		}
	}
	return string(p), nil
}

// track adds c to the open connections; false means Close has begun (it
// may have taken its snapshot already, so c must not start).
func (s *Server) track(c *Conn) bool {
	s.beating.Do(func() { go s.heartbeat() })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// open is the number of open connections.
func (s *Server) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting pages, closes every connection (the pages'
// clients see a transport close and reconnect to the next server) and
// waits for their handlers to finish, or for ctx to end.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	close(s.stop)
	s.rings.close()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeAfter(closeFrame, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.readers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.abort("server shutting down")
		}
		return fmt.Errorf("eio: closing pages: %w", ctx.Err())
	}
}

// newID returns a 20-character URL-safe random id, like Engine.IO's.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
