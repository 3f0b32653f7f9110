package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/heraldhq/herald/internal/uring"
)

// The io_uring reader: a few loops, one per CPU, each with a ring that
// keeps one multishot receive armed per page socket. When the loop enters
// the ring, the kernel reads every socket that has data into buffers the
// loop lent it and posts the bytes as completions: one system call for
// all the pages that received something. Against a server that writes
// many pages at once, the loader then makes a fraction of a system call
// per delivery instead of one or two, at about half the CPU. It wakes for
// every delivery of a server that writes one page at a time, though, and
// on cores shared with such a server it costs the server more than a
// goroutine per page does; compare.sh uses it with the loader on cores of
// its own (--pin; BENCHMARKS.md, tenth pass).

const uringSupported = true

const (
	rxSQEntries = 256
	rxCQEntries = 8192
	rxGroup     = 1 // the loop's one group of provided buffers
)

// rxBuffers sizes the buffers a loop lends the kernel to receive into:
// count (a power of two) buffers of size bytes. A message larger than a
// buffer arrives over several; a burst that takes them all stops the
// receive until the loop has given them back.
type rxBuffers struct{ count, size int }

// defaultRxBuffers: 4 MiB per loop, far more than the deliveries that
// arrive between two turns of a loop.
var defaultRxBuffers = rxBuffers{count: 2048, size: 2048}

// rxRing is one loop's ring and its provided buffers. Only its loop's
// thread uses it (the ring is set up single-issuer, with completions run
// only when that thread asks for them).
type rxRing struct {
	*uring.Ring
	queued   uint32 // entries written since the last submission
	bufRing  []byte // io_uring_buf entries; the tail is in the first
	bufs     []byte // the buffers, one after another
	bufCfg   rxBuffers
	bufTail  uint16
	bufDirty bool
}

func newRxRing(bufs rxBuffers) (*rxRing, error) {
	p := uring.Params{Flags: uring.SetupCQSize | uring.SetupSingleIssuer | uring.SetupDeferTaskrun, CQEntries: rxCQEntries}
	ring, err := uring.Setup(rxSQEntries, &p)
	if err != nil {
		return nil, err
	}
	r := &rxRing{Ring: ring, bufCfg: bufs}
	if err := r.provideBuffers(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// provideBuffers registers the buffer ring the receives take their buffers
// from, full.
func (r *rxRing) provideBuffers() error {
	n := r.bufCfg.count
	ringMem, err := syscall.Mmap(-1, 0, n*16, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("io_uring: buffer ring: %w", err)
	}
	r.bufRing = ringMem
	r.bufs = make([]byte, n*r.bufCfg.size)
	reg := uring.BufReg{RingAddr: uint64(uintptr(unsafe.Pointer(&ringMem[0]))), RingEntries: uint32(n), BGID: rxGroup}
	if err := r.Register(uring.RegisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		return fmt.Errorf("provided buffers: %w", err)
	}
	for bid := range uint16(n) {
		r.recycle(bid)
	}
	r.publishBuffers()
	return nil
}

// recycle gives buffer bid back to the kernel (seen at publishBuffers).
func (r *rxRing) recycle(bid uint16) {
	e := unsafe.Pointer(&r.bufRing[uintptr(r.bufTail&uint16(r.bufCfg.count-1))*16])
	*(*uint64)(e) = uint64(uintptr(unsafe.Pointer(&r.bufs[int(bid)*r.bufCfg.size])))
	*(*uint32)(unsafe.Add(e, 8)) = uint32(r.bufCfg.size)
	*(*uint16)(unsafe.Add(e, 12)) = bid
	r.bufTail++
	r.bufDirty = true
}

// publishBuffers stores the buffer ring's tail. The kernel reads it only
// during this thread's own io_uring_enter (DEFER_TASKRUN), after the store.
func (r *rxRing) publishBuffers() {
	if r.bufDirty {
		*(*uint16)(unsafe.Pointer(&r.bufRing[14])) = r.bufTail
		r.bufDirty = false
	}
}

func (r *rxRing) buffer(bid uint16, n int) []byte {
	off := int(bid) * r.bufCfg.size
	return r.bufs[off : off+n]
}

// armRecv queues a multishot receive on fd, tagged id.
func (r *rxRing) armRecv(fd int, id uint64) error {
	if r.queued == r.SQEntries {
		if err := r.enter(nil); err != nil {
			return err
		}
	}
	tail := r.SQTail()
	*r.SQE(tail) = uring.SQE{Opcode: uring.OpRecv, Flags: uring.SQEBufferSelect, Ioprio: uring.RecvMultishot, FD: int32(fd), UserData: id, BufGroup: rxGroup}
	r.SetSQTail(tail + 1)
	r.queued++
	return nil
}

// enter submits what is queued and runs the completions due; with wait, it
// blocks until one is in or wait passes.
func (r *rxRing) enter(wait *uring.Timespec) error {
	r.publishBuffers()
	var errno syscall.Errno
	if wait == nil {
		errno = r.EnterNow(r.queued, uring.EnterGetevents)
	} else {
		arg := uring.GeteventsArg{TS: uint64(uintptr(unsafe.Pointer(wait)))}
		errno = r.Enter(r.queued, 1, uring.EnterGetevents|uring.EnterExtArg, unsafe.Pointer(&arg), unsafe.Sizeof(arg))
	}
	switch errno {
	case 0, syscall.ETIME, syscall.EINTR:
		r.queued = r.SQTail() - r.SQHead()
		return nil
	}
	return fmt.Errorf("io_uring_enter: %w", errno)
}

// completions calls f for each completion in, in order, then frees them.
func (r *rxRing) completions(f func(*uring.CQE)) {
	head, tail := r.CQHead(), r.CQTail()
	for ; head != tail; head++ {
		f(r.CQE(head))
	}
	r.SetCQHead(tail)
}

// close closes the ring, which ends its receives, and frees its buffers.
func (r *rxRing) close() {
	r.Close()
	if r.bufRing != nil {
		_ = syscall.Munmap(r.bufRing)
	}
}

// uringUsable reports why this kernel will not give herald-load a ring,
// or nil.
func uringUsable() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newRxRing(rxBuffers{count: 1, size: 1})
	if err != nil {
		return err
	}
	r.close()
	return nil
}

// uringReader owns the loops of one load run.
type uringReader struct {
	loops []*uringLoop
	mu    sync.Mutex
	next  int
}

// uringLoop is one ring and the pages it reads.
type uringLoop struct {
	mu    sync.Mutex
	adds  []*uringConn // waiting for the loop to arm them
	dead  error        // why the loop stopped; pages are no longer taken
	conns map[uint64]*uringConn
	ids   uint64
}

// uringConn is one page's socket in a loop.
type uringConn struct {
	mu       sync.Mutex // held while the page handles bytes, writes, or ends
	fd       int
	finished bool
	l        *link
	in       []byte     // bytes of an incomplete frame
	done     chan error // gets why the page ended, once
}

// newUringReader starts n loops, each on its own thread; they stop when
// ctx ends, and wg waits for that.
func newUringReader(ctx context.Context, n int, bufs rxBuffers, wg *sync.WaitGroup) (*uringReader, error) {
	ur := &uringReader{}
	for range n {
		lp := &uringLoop{conns: make(map[uint64]*uringConn)}
		started := make(chan error, 1)
		wg.Go(func() { lp.run(ctx, bufs, started) })
		if err := <-started; err != nil {
			return nil, err
		}
		ur.loops = append(ur.loops, lp)
	}
	return ur, nil
}

// read is a pageEnv.read: it hands the connection's socket to a loop and
// waits until the page ends or ctx does.
func (ur *uringReader) read(ctx context.Context, conn net.Conn, pending []byte, l *link) error {
	fd, err := takeFD(conn)
	if err != nil {
		return err
	}
	ur.mu.Lock()
	lp := ur.loops[ur.next%len(ur.loops)]
	ur.next++
	ur.mu.Unlock()
	c := &uringConn{fd: fd, l: l, done: make(chan error, 1)}
	l.write = c.write
	c.mu.Lock()
	c.consume(pending, time.Now().UnixNano())
	c.mu.Unlock()
	lp.mu.Lock()
	if lp.dead != nil {
		c.mu.Lock()
		c.finish(lp.dead)
		c.mu.Unlock()
		syscall.Close(fd)
	} else {
		lp.adds = append(lp.adds, c)
	}
	lp.mu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		c.finish(ctx.Err())
		c.mu.Unlock()
		return ctx.Err()
	}
}

// addWait bounds how long a loop with nothing to read waits before it
// looks for new pages and for ctx's end.
var addWait = uring.Timespec{Nsec: int64(5 * time.Millisecond)}

func (lp *uringLoop) run(ctx context.Context, bufs rxBuffers, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newRxRing(bufs)
	started <- err
	if err != nil {
		return
	}
	err = lp.serve(ctx, r)
	if err == nil {
		err = ctx.Err()
	}
	lp.shutdown(r, err)
}

func (lp *uringLoop) serve(ctx context.Context, r *rxRing) error {
	for ctx.Err() == nil {
		if err := lp.arm(r); err != nil {
			return err
		}
		// One call submits, runs the receives due and waits for the
		// first completion if none is in: a wait that finds work returns
		// at once, so a second, non-blocking call would only add a system
		// call per wake-up (against Node, which writes one page at a
		// time, a wake-up is a delivery).
		if err := r.enter(&addWait); err != nil {
			return err
		}
		lp.reap(r)
	}
	return nil
}

// arm takes the pages added since the last turn and arms their receives.
func (lp *uringLoop) arm(r *rxRing) error {
	lp.mu.Lock()
	adds := lp.adds
	lp.adds = nil
	lp.mu.Unlock()
	for _, c := range adds {
		lp.ids++
		lp.conns[lp.ids] = c
		c.mu.Lock()
		fd, finished := c.fd, c.finished
		c.mu.Unlock()
		if finished {
			delete(lp.conns, lp.ids)
			syscall.Close(fd)
			continue
		}
		if err := r.armRecv(fd, lp.ids); err != nil {
			return err
		}
	}
	return nil
}

// reap handles the completions in.
func (lp *uringLoop) reap(r *rxRing) {
	now := time.Now().UnixNano()
	r.completions(func(cqe *uring.CQE) {
		c := lp.conns[cqe.UserData]
		if cqe.Flags&uring.CQEFBuffer != 0 {
			bid := uint16(cqe.Flags >> 16)
			if c != nil && cqe.Res > 0 {
				c.mu.Lock()
				if !c.finished {
					c.consume(r.buffer(bid, int(cqe.Res)), now)
				}
				c.mu.Unlock()
			}
			r.recycle(bid)
		}
		if c == nil {
			return
		}
		if cqe.Res == 0 || (cqe.Res < 0 && cqe.Res != -int32(syscall.ENOBUFS)) {
			c.mu.Lock()
			if cqe.Res == 0 {
				c.finish(fmt.Errorf("read: %w", io.EOF))
			} else {
				c.finish(fmt.Errorf("read: %w", syscall.Errno(-cqe.Res)))
			}
			c.mu.Unlock()
		}
		if cqe.Flags&uring.CQEFMore != 0 {
			return
		}
		// The receive ended: run out of buffers (ENOBUFS), or the socket
		// is done. Only now may its descriptor be closed: an armed
		// receive would read whatever socket reused the number.
		c.mu.Lock()
		finished := c.finished
		c.mu.Unlock()
		if finished {
			delete(lp.conns, cqe.UserData)
			syscall.Close(c.fd)
			return
		}
		if err := r.armRecv(c.fd, cqe.UserData); err != nil {
			c.mu.Lock()
			c.finish(err)
			c.mu.Unlock()
		}
	})
}

// shutdown ends the loop's pages, armed or not, with err and releases the
// ring and the sockets; closing the ring cancels the receives. Pages
// handed over later end at once.
func (lp *uringLoop) shutdown(r *rxRing, err error) {
	r.close()
	lp.mu.Lock()
	lp.dead = err
	all := lp.adds
	lp.adds = nil
	lp.mu.Unlock()
	for _, c := range lp.conns {
		all = append(all, c)
	}
	for _, c := range all {
		c.mu.Lock()
		c.finish(err)
		c.mu.Unlock()
		syscall.Close(c.fd)
	}
}

// takeFD returns a descriptor of conn's socket that the loader owns, and
// closes conn. The descriptor shares conn's non-blocking mode; Go's own
// poller forgets the socket when conn is closed.
func takeFD(conn net.Conn) (int, error) {
	defer conn.Close()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no file descriptor", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) {
		syscall.ForkLock.RLock()
		fd, err = syscall.Dup(int(s))
		if err == nil {
			syscall.CloseOnExec(fd)
		}
		syscall.ForkLock.RUnlock()
	})
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	return fd, nil
}

// consume decodes data after what an earlier receive left. c.mu is held.
func (c *uringConn) consume(data []byte, now int64) {
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	used, err := c.l.feed(data, now)
	if err != nil {
		c.finish(err)
		return
	}
	c.in = append(c.in[:0], data[used:]...)
}

// write writes one frame. Frames are a few bytes and the socket's buffer
// is empty but for them, so a short write means the server stopped
// reading: the page fails rather than waits. c.mu is held (the page's
// answers are written while its messages are handled).
func (c *uringConn) write(frame []byte) error {
	for len(frame) > 0 {
		if c.finished {
			return net.ErrClosed
		}
		n, err := syscall.Write(c.fd, frame)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		frame = frame[n:]
	}
	return nil
}

// finish reports err as the page's end and shuts the socket down, which
// ends its armed receive; the loop closes the descriptor when the receive
// has ended. c.mu is held; only the first call counts.
func (c *uringConn) finish(err error) {
	if c.finished {
		return
	}
	c.finished = true
	_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	c.done <- err
}
