package eio

import (
	"log/slog"
	"runtime"
	"sync"
)

// Batch sends one delivery to many pages. Send claims each page whose
// socket is free, as Conn.Send would, but leaves the write to the batch,
// which makes a ring-full of them together: where the kernel has io_uring,
// one system call for up to ringEntries pages instead of one per page.
// On loopback and in virtual machines a system call's fixed cost is a
// large share of a small write, and a room's delivery is exactly many
// small writes at once.
//
// A Batch is used by one goroutine; its zero value is ready, and it can be
// reused after Flush. A page claimed by Send is held (its other frames
// queue behind) until its ring-full is written, so Flush must follow every
// batch of Sends.
type Batch struct {
	items []batchItem
	cut   []*Conn
	ring  ringScratch
}

type batchItem struct {
	c   *Conn
	b   []byte
	n   int   // bytes written
	err error // the write failed: the page is cut off
}

// Send queues f to c, or claims c's socket for the batch; it reports what
// Conn.Send reports.
func (b *Batch) Send(c *Conn, f *Frame) bool {
	return b.SendMany(c, []*Frame{f})
}

// SendMany is Conn.SendMany through the batch.
func (b *Batch) SendMany(c *Conn, fs []*Frame) bool {
	if len(fs) == 0 {
		return true
	}
	ok := c.send(fs, b)
	if len(b.items) == ringEntries {
		b.write()
	}
	return ok
}

// Flush makes the writes still pending, and appends to cutOff the pages
// that a failed write cut off (Send reported them sent).
func (b *Batch) Flush(cutOff []*Conn) []*Conn {
	b.write()
	cutOff = append(cutOff, b.cut...)
	clear(b.cut)
	b.cut = b.cut[:0]
	return cutOff
}

// write makes the pending writes and hands every socket back.
func (b *Batch) write() {
	if len(b.items) == 0 {
		return
	}
	b.items[0].c.srv.rings.write(b)
	for i := range b.items {
		it := &b.items[i]
		if !it.c.handBack(it.b, it.n, it.err) {
			b.cut = append(b.cut, it.c)
		}
	}
	clear(b.items)
	b.items = b.items[:0]
}

// writeEach makes items' writes one system call each.
func writeEach(items []batchItem) {
	for i := range items {
		it := &items[i]
		it.n, it.err = it.c.tryWrite(it.b)
	}
}

// ringPool lends io_uring rings to batches, made when first needed: four
// per processor at most, since a delivery holding one may be descheduled
// while others run. A batch that finds none free (or a kernel with no
// io_uring, or one that refused it) writes each page itself.
type ringPool struct {
	log *slog.Logger

	mu     sync.Mutex
	free   []*ring
	made   int
	max    int
	off    bool // no ring can be made, one failed, or the server was told not to
	closed bool
}

func newRingPool(disabled bool, log *slog.Logger) *ringPool {
	return &ringPool{log: log, max: 4 * runtime.GOMAXPROCS(0), off: disabled || !ringsSupported}
}

// write makes the batch's writes.
func (p *ringPool) write(b *Batch) {
	r := p.get()
	if r == nil {
		writeEach(b.items)
		return
	}
	defer p.put(r)
	for items := b.items; len(items) > 0; {
		chunk := items[:min(len(items), r.size)]
		items = items[len(chunk):]
		if r.broken {
			writeEach(chunk)
			continue
		}
		if err := b.ring.write(r, chunk); err != nil {
			p.turnOff(err)
		}
	}
}

// turnOff stops lending rings after one failed: what made the kernel
// refuse a submission is unlikely to pass, and one log line says so
// where an error per delivery would flood the log.
func (p *ringPool) turnOff(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.off {
		p.off = true
		p.log.Error("io_uring write failed: writing each page with its own system call from now on", "err", err)
	}
}

func (p *ringPool) get() *ring {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off || p.closed {
		return nil
	}
	if n := len(p.free); n > 0 {
		r := p.free[n-1]
		p.free = p.free[:n-1]
		return r
	}
	if p.made >= p.max {
		return nil
	}
	r, err := newRing(ringEntries)
	if err != nil {
		p.off = true
		p.log.Info("io_uring unavailable: writing each page with its own system call", "err", err)
		return nil
	}
	if p.made == 0 {
		p.log.Debug("writing pages through io_uring")
	}
	p.made++
	return r
}

func (p *ringPool) put(r *ring) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.broken || p.closed || p.off {
		r.close()
		p.made--
		return
	}
	p.free = append(p.free, r)
}

// close releases the free rings; those lent out are released when they
// come back.
func (p *ringPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, r := range p.free {
		r.close()
	}
	p.free = nil
}

// ringEntries is the most pages one submission writes: a room of 100
// pages takes two, and the rings stay a few pages of memory each.
const ringEntries = 64
