package eio

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// io_uring's ABI, from linux/io_uring.h (stable since Linux 5.6, when
// IORING_OP_SEND arrived).
const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426

	ioringOpSend         = 26
	ioringEnterGetevents = 1 << 0
	ioringFeatSingleMmap = 1 << 0
	ioringOffSQEs        = 0x10000000

	sqeSize = 64
	cqeSize = 16
)

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	pad         uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is one io_uring instance: it sends a batch of writes, each to its
// own socket, in one system call. One goroutine uses it at a time.
type ring struct {
	fd      int
	rings   []byte // the SQ and CQ rings, one mapping
	sqeMem  []byte
	sqHead  *uint32
	sqTail  *uint32
	sqMask  uint32
	entries uint32
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer
	sqes    unsafe.Pointer
	size    int  // most writes in one batch
	broken  bool // a submission failed: the ring is not used again
}

// newRing sets up a ring for up to entries writes per batch.
func newRing(entries uint32) (*ring, error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &ring{fd: int(fd)}
	if err := r.mapRings(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *ring) mapRings(p *uringParams) error {
	if p.features&ioringFeatSingleMmap == 0 {
		return errors.New("io_uring: kernel too old (no single mmap)")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*cqeSize)
	mem, err := syscall.Mmap(r.fd, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mapping the rings: %w", err)
	}
	r.rings = mem
	sqes, err := syscall.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries*sqeSize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mapping the submission entries: %w", err)
	}
	r.sqeMem = sqes
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail = at(p.sqOff.head), at(p.sqOff.tail)
	r.sqMask, r.entries = *at(p.sqOff.ringMask), *at(p.sqOff.ringEntries)
	r.cqHead, r.cqTail = at(p.cqOff.head), at(p.cqOff.tail)
	r.cqMask = *at(p.cqOff.ringMask)
	r.cqes = unsafe.Pointer(&mem[p.cqOff.cqes])
	r.sqes = unsafe.Pointer(&sqes[0])
	// Submission entry i always sits in slot i of the index array, so the
	// array is filled once.
	for i := range r.entries {
		*at(p.sqOff.array + i*4) = i
	}
	r.size = int(min(r.entries, p.cqEntries))
	return nil
}

func (r *ring) close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
	}
	if r.rings != nil {
		_ = syscall.Munmap(r.rings)
	}
	_ = syscall.Close(r.fd)
}

// send writes bufs[i] to socket fds[i] without blocking, for every i, and
// sets res[i] to the bytes written or -errno (-EAGAIN for a full socket). It
// returns once every write has completed, so the buffers are free again.
// An error means the ring is broken (not to be used again); see fail for
// what res then holds.
func (r *ring) send(fds []int32, bufs [][]byte, res []int32) error {
	n := uint32(len(fds))
	tail := atomic.LoadUint32(r.sqTail)
	for i := range n {
		sqe := (*uringSQE)(unsafe.Add(r.sqes, uintptr((tail+i)&r.sqMask)*sqeSize))
		*sqe = uringSQE{
			opcode: ioringOpSend,
			fd:     fds[i],
			addr:   uint64(uintptr(unsafe.Pointer(unsafe.SliceData(bufs[i])))),
			len:    uint32(len(bufs[i])),
			// MSG_DONTWAIT makes a full socket complete with EAGAIN rather
			// than wait in the kernel for room: the page's writer
			// goroutine takes the rest, as with an inline write.
			opFlags:  syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL,
			userData: uint64(i),
		}
		res[i] = resUnset
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	end := tail + n
	pending := n
	for pending > 0 {
		toSubmit := end - atomic.LoadUint32(r.sqHead)
		_, _, errno := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), uintptr(toSubmit), uintptr(pending), ioringEnterGetevents, 0, 0)
		pending -= r.reap(res)
		if errno != 0 && errno != syscall.EINTR {
			return r.fail(errno, res, tail, end, pending)
		}
	}
	return nil
}

// fail handles a submission the kernel refused: the writes it did not take
// are withdrawn (marked resNotSent: the caller makes them another way),
// and those it took are waited for, since their buffers must not be
// released before. The ring is not used again.
func (r *ring) fail(errno syscall.Errno, res []int32, tail, end, pending uint32) error {
	r.broken = true
	head := atomic.LoadUint32(r.sqHead)
	atomic.StoreUint32(r.sqTail, head)
	for i := head - tail; i < end-tail; i++ {
		res[i] = resNotSent
	}
	owed := pending - (end - head)
	for tries := 0; owed > 0 && tries < 3; tries++ {
		_, _, e := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), 0, uintptr(owed), ioringEnterGetevents, 0, 0)
		owed -= r.reap(res)
		if e != 0 && e != syscall.EINTR {
			break
		}
	}
	if owed > 0 {
		return fmt.Errorf("io_uring_enter: %w (%d writes in an unknown state)", errno, owed)
	}
	return fmt.Errorf("io_uring_enter: %w", errno)
}

// reap records the completions that are in and reports how many.
func (r *ring) reap(res []int32) uint32 {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	got := tail - head
	for ; head != tail; head++ {
		cqe := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize))
		if cqe.userData < uint64(len(res)) {
			res[cqe.userData] = cqe.res
		}
	}
	atomic.StoreUint32(r.cqHead, tail)
	return got
}

// resUnset marks a write with no completion yet, resNotSent one withdrawn
// before the kernel took it; no byte count or -errno takes these values.
const (
	resUnset   = int32(-1 << 31)
	resNotSent = resUnset + 1
)
