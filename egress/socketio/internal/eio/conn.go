package eio

import (
	"net"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is one page connected over WebSocket.
type Conn struct {
	srv    *Server
	ws     *websocket.Conn
	nc     net.Conn
	id     string // the Socket.IO socket id pages see
	query  string // raw: parsed on demand, idle pages keep no map
	remote string
	start  time.Time

	// fd is the socket's descriptor, for inline and batched writes, when
	// hasFD: nc is a plain TCP socket on unix. It is not pinned: a write
	// that uses it holds direct, and nc is closed only once no write does,
	// so the number cannot pass to another socket under the write.
	fd    int
	hasFD bool

	// Value is the handler's own per-connection data. Handler methods run
	// on the connection's goroutine, so setting it in Connect and reading
	// it in Event and Disconnect needs no lock.
	Value any

	mu      sync.Mutex
	queue   net.Buffers // frames waiting for the writer
	spare   net.Buffers // the writer's last batch, reused
	queued  int         // bytes in queue
	writing bool        // a writer goroutine owns the connection's writes
	direct  bool        // ...and it is an inline or batched write on fd, which never blocks
	owed    bool        // abort came while direct: the write that holds fd closes nc
	closed  bool
	reason  string

	connected atomic.Bool  // Socket.IO CONNECT done
	nextPing  atomic.Int64 // unix nanos
	pongBy    atomic.Int64 // unix nanos; 0 when no ping is outstanding
}

// ID is the Socket.IO socket id.
func (c *Conn) ID() string { return c.id }

// Query is the handshake URL's query, parsed anew on each call (the
// Socket.IO layer reads it once, at connect).
func (c *Conn) Query() url.Values {
	q, _ := url.ParseQuery(c.query)
	return q
}

// RemoteAddr is the peer's address as the HTTP server saw it.
func (c *Conn) RemoteAddr() string { return c.remote }

// Connected is when the WebSocket was accepted.
func (c *Conn) Connected() time.Time { return c.start }

// Send queues f to the page and returns at once. It reports false if the
// connection is closed, or if f overflows the page's queue: a page that
// cannot keep up is cut off (it reconnects and registers again) rather
// than slowing anyone else.
//
// When nothing is queued and the socket is plain TCP, Send first tries to
// write f itself with one non-blocking write: the common case, a page
// whose socket has room, then costs no goroutine and no hand-off. Whatever
// does not fit goes to the writer goroutine, as everything does otherwise.
func (c *Conn) Send(f *Frame) bool { return c.send([]*Frame{f}, nil) }

// send queues fs in order, or writes them at once (joined, when there are
// several) when the socket is free; see Send and SendMany. With a batch,
// that write is left to the batch's Flush, which holds the socket till
// then.
func (c *Conn) send(fs []*Frame, b *Batch) bool {
	size := 0
	for _, f := range fs {
		size += len(f.b)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if c.queued+size > c.srv.opts.QueueBytes && c.queued > 0 {
		c.mu.Unlock()
		c.abort("send queue full")
		return false
	}
	if !c.writing && c.hasFD {
		c.writing, c.direct = true, true // the socket is ours until we hand it back
		c.mu.Unlock()
		out := joined(fs, size)
		if b != nil {
			b.items = append(b.items, batchItem{c: c, b: out})
			return true
		}
		n, err := c.tryWrite(out)
		return c.handBack(out, n, err)
	}
	for _, f := range fs {
		c.queue = append(c.queue, f.b)
	}
	c.queued += size
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.flush()
	}
	return true
}

// joined is the frames' bytes in one slice.
func joined(fs []*Frame, size int) []byte {
	if len(fs) == 1 {
		return fs[0].b
	}
	b := make([]byte, 0, size)
	for _, f := range fs {
		b = append(b, f.b...)
	}
	return b
}

// handBack follows an inline write of b that wrote n bytes (or failed with
// err) by handing the socket back: to nobody if everything went out and
// nothing was queued meanwhile, to a writer goroutine otherwise. The
// caller holds the writing flag, and holds fd (direct).
func (c *Conn) handBack(b []byte, n int, err error) bool {
	c.mu.Lock()
	c.direct = false
	if c.owed {
		// Aborted during the write: fd is free to close now, and the
		// page is cut off, whatever the write did.
		c.mu.Unlock()
		c.nc.Close()
		return false
	}
	if err != nil {
		c.mu.Unlock()
		c.abort("transport error")
		return false
	}
	if n < len(b) {
		// The rest goes first: frames queued meanwhile come after it.
		c.queue = append(c.queue, nil)
		copy(c.queue[1:], c.queue)
		c.queue[0] = b[n:]
		c.queued += len(b) - n
	}
	if len(c.queue) == 0 {
		c.writing = false
		closeNow := c.closed
		c.mu.Unlock()
		if closeNow {
			c.nc.Close()
		}
		return true
	}
	c.mu.Unlock()
	go c.flush()
	return true
}

// flush writes queued frames until the queue is empty, each batch in one
// writev. It runs only while there is something to write, so an idle page
// costs no goroutine.
func (c *Conn) flush() {
	closeNow := false
	defer func() {
		if closeNow {
			c.nc.Close()
		}
	}()
	// Let the deliveries already running queue their frames too: under
	// load that folds several alerts into one write; when the machine is
	// idle it returns at once.
	runtime.Gosched()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			// The deadline bounds this writer's batches only, so it is
			// cleared before the socket is handed back, while no other
			// writer can run. Left set, it would expire while the page
			// idles and fail any later write that honours deadlines: it
			// once dropped healthy pages that way.
			_ = c.nc.SetWriteDeadline(time.Time{})
			c.writing = false
			closeNow = c.closed
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.queued = 0
		c.mu.Unlock()

		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
		out := batch
		_, err := out.WriteTo(c.nc)
		clear(batch)

		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		if err != nil {
			c.abort("transport error")
		}
	}
}

// Close ends the connection: queued frames are still written (bounded by
// the write timeout), then the socket closes and the handler's Disconnect
// runs. It is idempotent; the first reason wins.
func (c *Conn) Close(reason string) { c.closeAfter(nil, reason) }

// closeAfter is Close with a last frame (a WebSocket close frame) queued in
// the same step, so no frame a concurrent Send queues can follow it: a page
// ignores whatever comes after a close frame.
func (c *Conn) closeAfter(last *Frame, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason = true, reason
	start := false
	if last != nil {
		c.queue = append(c.queue, last.b)
		c.queued += len(last.b)
		start = !c.writing
		c.writing = true
	}
	// With a writer running, it closes the socket once the queue is out.
	// Closing happens outside the lock: a TLS close may block on a page
	// that does not read, and Send must not wait for that.
	closeNow := !c.writing
	c.mu.Unlock()
	switch {
	case start:
		go c.flush()
	case closeNow:
		c.nc.Close()
	}
}

// abort closes the socket at once, dropping whatever is queued; during an
// inline or batched write, as soon as that write is done.
func (c *Conn) abort(reason string) {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.reason = true, reason
	}
	c.queue, c.queued = nil, 0
	if c.direct {
		// A write is on fd. It does not block, and it closes nc when it
		// is done: closed now, fd could be another socket's by then.
		c.owed = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.nc.Close()
}

// closeReason is why the connection ended. It records fallback but does
// not mark the connection closed: the caller closes it next, and Close on
// an already closed connection does nothing, so marking it here left the
// socket of a page that vanished (a WebSocket 1006, no close frame) open
// until the garbage collector found it.
func (c *Conn) closeReason(fallback string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		c.reason = fallback
	}
	return c.reason
}
