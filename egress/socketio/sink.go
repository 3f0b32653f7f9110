package socketio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/recovery"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// ErrClosed is returned by Deliver once Close has been called. It matches
// broker.ErrClosed: the router tells a refused delivery from a failed one
// by it.
var ErrClosed = broker.Closed("socketio: sink closed")

// defaultMaxBody is the original service's limit (python-engineio's max_http_buffer_size).
const defaultMaxBody = 1 << 20

// Options configures a Sink. The zero value is the original service's behaviour.
type Options struct {
	// Log receives connection-level debug lines and failures; nil discards.
	Log *slog.Logger
	// CORSOrigin is the Access-Control-Allow-Origin for long-polling and the
	// handshake. "" or "*" allows any origin by reflecting the request's
	// Origin with credentials allowed, as python-engineio did with
	// cors_allowed_origins="*"; anything else is the one allowed origin.
	CORSOrigin string
	// MaxBody caps a long-polling POST body and a WebSocket message
	// (engine.io's maxHttpBufferSize); 0 means 1 MiB.
	MaxBody int64
	// PingInterval and PingTimeout are the engine.io heartbeat; 0 keeps the
	// library defaults (25s and 20s).
	PingInterval, PingTimeout time.Duration
	// QueueBytes is how much may wait for one page, on any transport,
	// before it is cut off (0: 4 MiB). WriteTimeout is how long one write
	// to a WebSocket page may take before it is closed (0: 10 s).
	QueueBytes   int
	WriteTimeout time.Duration
	// Recovery, when set, answers connecting pages from the journal:
	// Socket.IO connection state recovery (a pid in the CONNECT answer on
	// the native path; {pid, offset} restored), a reloaded page's
	// {code, offset}, and pending alerts for the first page of a room.
	Recovery *recovery.Keeper
	// Position renders a journaled delivery's position (herald.Delivery's
	// Offset with the journal's epoch), which pages receive as the event's
	// last argument and send back to recover. nil: no position argument.
	Position func(herald.Delivery) string
	// PlainWrites makes a delivery write each native page with its own
	// system call even where io_uring could write a room's pages in one.
	PlainWrites bool
}

func (o Options) limits() limits {
	l := limits{queueBytes: o.QueueBytes, writeTimeout: o.WriteTimeout}
	if l.queueBytes <= 0 {
		l.queueBytes = defaultQueueBytes
	}
	if l.writeTimeout <= 0 {
		l.writeTimeout = defaultWriteTimeout
	}
	return l
}

// Client describes one connected page, for the admin listing.
type Client = egress.Client

// Sink is the Socket.IO egress. Create it with New, mount Handler at
// "/socket.io/", and call Close on shutdown.
type Sink struct {
	log    *slog.Logger
	io     *socket.Server
	engine http.Handler
	native *eio.Server
	enc    parser.Encoder
	rooms  *rooms
	closed atomic.Bool
	// delivering is held (read) by every Deliver: Close takes it to know
	// that no Deliver still hands pages a frame after it.
	delivering sync.RWMutex
	closing    sync.Once
	done       chan struct{}
	now        func() time.Time
	limits     limits

	positionOf func(herald.Delivery) string
	recovery   *recovery.Keeper
	onRooms    atomic.Pointer[func()] // OnRoomsChanged
	refresher  sync.Once              // starts refreshSessions with the first page
	// sessionsUnsaved is set when a page's session could not be saved:
	// refreshSessions saves them all again, with backoff.
	sessionsUnsaved atomic.Bool
	// saving are the sessions being saved in the background (keepSession),
	// by pid: until the journal has them, recovery reads the page's
	// acknowledgements from here (ackedFloor).
	savingMu sync.Mutex
	saving   map[string]journal.Session
	// live remembers the pages that got deliveries live without an
	// offset (liveonly.go), so catch-up does not send them again.
	live liveOnly
	// owed are the pages owed their room's pending alerts (owed.go), by
	// page, with what they are owed; owedRetrying is set while
	// retryPending runs; owedSeq numbers them in the order they came.
	owedMu       sync.Mutex
	owed         map[*page]owing
	owedRetrying bool
	owedSeq      uint64
	stopping     chan struct{} // closed when Close begins
	// writes counts the journal writes pages cause (sessions, acks) that
	// are under way, so Close lets them end before the journal under the
	// sink is closed; once sealed (by Close), none starts.
	writes       sync.WaitGroup
	writesMu     sync.Mutex
	writesSealed bool
	// corsOrigin and started are for the client bundle (bundle.go).
	corsOrigin string
	started    time.Time

	snapshots sync.Pool // *[]*page, see Deliver
	opened    sync.Map  // engine session → when it opened (onEngineConnection)
	outgoings sync.Pool // *outgoing, see Deliver
	batches   sync.Pool // *eio.Batch, see Deliver
}

var (
	_ egress.Sink    = (*Sink)(nil)
	_ egress.Mounter = (*Sink)(nil)
	_ egress.Lister  = (*Sink)(nil)
)

func init() {
	egress.Register("socketio", func(p egress.Params) (egress.Sink, error) {
		o := Options{Log: p.Log, CORSOrigin: p.CORSOrigin, MaxBody: p.MaxBody, Recovery: p.Recovery, PlainWrites: p.PlainWrites}
		if k := p.Recovery; k != nil {
			o.Position = func(d herald.Delivery) string { return k.Position(d.Offset) }
		}
		return New(o), nil
	})
}

// Path is where Handler is mounted: the Socket.IO clients' default path.
// Handler answers CORS for everything under it itself.
func (s *Sink) Path() string { return "/socket.io/" }

// New builds a Sink. It starts no goroutine and opens no socket: pages are
// served once Handler is mounted on a running server.
func New(opts Options) *Sink {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sink{
		log:      log,
		rooms:    newRooms(),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
		now:      time.Now,

		limits:     opts.limits(),
		corsOrigin: opts.CORSOrigin,
		started:    time.Now(),
		positionOf: opts.Position,
		recovery:   opts.Recovery,
	}
	s.snapshots.New = func() any { b := make([]*page, 0, 64); return &b }
	s.outgoings.New = func() any { return new(outgoing) }
	s.batches.New = func() any { return new(eio.Batch) }
	s.native = eio.NewServer(nativeOptions(opts, s.limits, log), nativeHandler{s})
	so := serverOptions(opts)
	if s.recovery != nil {
		s.libraryRecovery(so)
	}
	s.io = socket.NewServer(nil, so)
	s.engine = s.io.ServeHandler(nil)
	s.enc = s.io.Encoder()
	_ = s.io.On("connection", s.onConnection)
	_ = s.io.Engine().On("connection", s.onEngineConnection)
	return s
}

func serverOptions(opts Options) *socket.ServerOptions {
	o := socket.DefaultServerOptions()
	// cmd/herald serves our pinned client bundle itself.
	o.SetServeClient(false)
	origin := opts.CORSOrigin
	if origin == "" {
		origin = "*"
	}
	// With credentials on, the library reflects the request Origin for "*",
	// which is what python-engineio did.
	o.SetCors(&types.Cors{Origin: origin, Credentials: true})
	maxBody := opts.MaxBody
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	o.SetMaxHttpBufferSize(maxBody)
	if opts.PingInterval > 0 {
		o.SetPingInterval(opts.PingInterval)
	}
	if opts.PingTimeout > 0 {
		o.SetPingTimeout(opts.PingTimeout)
	}
	return o
}

// Handler serves the Socket.IO endpoint: a page that opens a WebSocket
// straight away is served by the native fan-out path (internal/eio), every
// other request (long-polling, an upgrade from it) by the library. Mount it
// at Path. After Close it answers a new page 503, so a page reconnecting
// during shutdown backs off instead of joining a sink that will never
// deliver.
func (s *Sink) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.clientBundle(w, r) {
			return
		}
		// After Close, a new page is refused; a polling page already
		// connected may still poll, to collect what Close is draining.
		if s.closed.Load() && r.URL.Query().Get("sid") == "" {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if eio.Accepts(r) {
			s.native.ServeHTTP(w, r)
			return
		}
		s.engine.ServeHTTP(w, r)
	})
}

// Close disconnects every page and stops the engine. Pages see a transport
// close, not a server-side disconnect, so the official client reconnects on
// its own once the server is back. Close returns when done or when ctx ends;
// later calls wait for the first.
func (s *Sink) Close(ctx context.Context) error {
	s.closing.Do(func() {
		close(s.stopping)
		s.delivering.Lock()
		s.closed.Store(true)
		s.delivering.Unlock()
		go func() {
			defer close(s.done)
			// Every delivery a sender was told about is handed out
			// before the pages go: native pages write their queues out
			// in Close, library pages (long-polling) are given until
			// their buffers are polled, or ctx ends.
			s.drainLibraryPages(ctx)
			if err := s.native.Close(ctx); err != nil {
				s.log.Warn("closing websocket pages", "err", err)
			}
			s.io.Close(nil)
			// Every socket emits "disconnect" on the way, which removes it;
			// this catches one still inside its connection handler.
			for _, p := range s.rooms.all() {
				s.rooms.remove(p)
			}
			// The pages are gone and have left their sessions to save:
			// a page that reconnects to the restarted herald recovers
			// from them.
			s.writesMu.Lock()
			s.writesSealed = true
			s.writesMu.Unlock()
			s.writes.Wait()
			s.log.Debug("socket.io sink closed")
		}()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// drainLibraryPages waits until every library page has collected what was
// delivered to it (libConn.idle), or until ctx ends or drainTimeout passes:
// a page that does not poll any more is not waited for.
func (s *Sink) drainLibraryPages(ctx context.Context) {
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := false
		for _, p := range s.rooms.all() {
			if l, lib := p.c.(*libConn); lib && !l.idle() {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// drainTimeout bounds how long Close waits for polling pages to collect
// what was delivered to them: a page polls again within a round trip.
const drainTimeout = 2 * time.Second

// Clients lists the connected pages, oldest first.
func (s *Sink) Clients() []Client {
	var out []Client
	s.rooms.each(func(p *page, code string) {
		out = append(out, Client{
			ID:        p.id,
			Code:      code,
			Transport: p.c.transport(),
			Connected: p.connected,
			Address:   p.address,
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Connected.Equal(out[j].Connected) {
			return out[i].Connected.Before(out[j].Connected)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
