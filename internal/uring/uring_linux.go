package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// System calls and constants from linux/io_uring.h.
const (
	sysSetup    = 425
	sysEnter    = 426
	sysRegister = 427

	SetupCQSize       = 1 << 3  // Params.CQEntries sets the completion queue's size
	SetupSingleIssuer = 1 << 12 // one thread submits (Linux 6.0)
	SetupDeferTaskrun = 1 << 13 // completions run only when that thread enters (6.1)

	EnterGetevents = 1 << 0
	EnterExtArg    = 1 << 3

	featSingleMmap = 1 << 0
	offSQEs        = 0x10000000

	OpSend = 26 // Linux 5.6, as OpRecv
	OpRecv = 27

	RecvMultishot   = 1 << 1 // in SQE.Ioprio of an OpRecv (Linux 6.0)
	SQEBufferSelect = 1 << 5

	CQEFBuffer = 1 << 0 // CQE.Flags>>16 is the buffer the kernel took
	CQEFMore   = 1 << 1 // a multishot request goes on

	RegisterPbufRing = 22

	SQESize = 64
	CQESize = 16
)

// Params is struct io_uring_params.
type Params struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFD uint32
	resv                                                                   [3]uint32
	SQOff                                                                  struct {
		Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, resv1 uint32
		UserAddr                                                        uint64
	}
	CQOff struct {
		Head, Tail, RingMask, RingEntries, Overflow, CQEs, Flags, resv1 uint32
		UserAddr                                                        uint64
	}
}

// SQE is struct io_uring_sqe, with the unions named as herald uses them.
type SQE struct {
	Opcode   uint8
	Flags    uint8
	Ioprio   uint16
	FD       int32
	Off      uint64
	Addr     uint64
	Len      uint32
	OpFlags  uint32 // msg_flags of a send or receive
	UserData uint64
	BufGroup uint16 // buf_index, or buf_group with SQEBufferSelect
	_        uint16 // personality
	_        int32  // splice_fd_in
	_        uint64 // addr3
	_        uint64
}

// CQE is struct io_uring_cqe.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// BufReg is struct io_uring_buf_reg, for RegisterPbufRing.
type BufReg struct {
	RingAddr    uint64
	RingEntries uint32
	BGID        uint16
	Flags       uint16
	_           [3]uint64
}

// GeteventsArg is struct io_uring_getevents_arg, for EnterExtArg.
type GeteventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	_         uint32
	TS        uint64 // *Timespec
}

// Timespec is struct __kernel_timespec.
type Timespec struct{ Sec, Nsec int64 }

// Ring is one io_uring instance with its queues mapped. It does no locking:
// its user decides who may touch it when.
type Ring struct {
	FD        int
	SQEntries uint32
	CQEntries uint32
	rings     []byte // the SQ and CQ rings, one mapping
	sqeMem    []byte
	sqHead    *uint32
	sqTail    *uint32
	sqMask    uint32
	cqHead    *uint32
	cqTail    *uint32
	cqMask    uint32
	cqes      unsafe.Pointer
	sqes      unsafe.Pointer
}

// Setup makes a ring of entries submission slots; p carries the flags in
// (and CQEntries with SetupCQSize) and the kernel's answers out.
func Setup(entries uint32, p *Params) (*Ring, error) {
	fd, _, errno := syscall.Syscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &Ring{FD: int(fd)}
	if err := r.mapQueues(p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mapQueues(p *Params) error {
	if p.Features&featSingleMmap == 0 {
		return errors.New("io_uring: kernel too old (no single mmap)")
	}
	size := max(p.SQOff.Array+p.SQEntries*4, p.CQOff.CQEs+p.CQEntries*CQESize)
	mem, err := syscall.Mmap(r.FD, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mapping the rings: %w", err)
	}
	r.rings = mem
	sqes, err := syscall.Mmap(r.FD, offSQEs, int(p.SQEntries*SQESize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mapping the submission entries: %w", err)
	}
	r.sqeMem = sqes
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqMask = at(p.SQOff.Head), at(p.SQOff.Tail), *at(p.SQOff.RingMask)
	r.cqHead, r.cqTail, r.cqMask = at(p.CQOff.Head), at(p.CQOff.Tail), *at(p.CQOff.RingMask)
	r.SQEntries, r.CQEntries = *at(p.SQOff.RingEntries), p.CQEntries
	r.cqes = unsafe.Pointer(&mem[p.CQOff.CQEs])
	r.sqes = unsafe.Pointer(&sqes[0])
	// Submission entry i always sits in slot i of the index array, so the
	// array is filled once.
	for i := range r.SQEntries {
		*at(p.SQOff.Array + i*4) = i
	}
	return nil
}

// Close unmaps the queues and closes the ring, which cancels what it
// still holds.
func (r *Ring) Close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
	}
	if r.rings != nil {
		_ = syscall.Munmap(r.rings)
	}
	_ = syscall.Close(r.FD)
}

// SQHead is how far the kernel has taken submissions.
func (r *Ring) SQHead() uint32 { return atomic.LoadUint32(r.sqHead) }

// SQTail is how far submissions were published.
func (r *Ring) SQTail() uint32 { return atomic.LoadUint32(r.sqTail) }

// SetSQTail publishes the entries before tail to the kernel.
func (r *Ring) SetSQTail(tail uint32) { atomic.StoreUint32(r.sqTail, tail) }

// SQE is the submission entry for position i (a tail value).
func (r *Ring) SQE(i uint32) *SQE {
	return (*SQE)(unsafe.Add(r.sqes, uintptr(i&r.sqMask)*SQESize))
}

// CQHead and CQTail bound the completions in.
func (r *Ring) CQHead() uint32 { return atomic.LoadUint32(r.cqHead) }

// CQTail: see CQHead.
func (r *Ring) CQTail() uint32 { return atomic.LoadUint32(r.cqTail) }

// SetCQHead frees the completions before head.
func (r *Ring) SetCQHead(head uint32) { atomic.StoreUint32(r.cqHead, head) }

// CQE is the completion at position i (a head value).
func (r *Ring) CQE(i uint32) *CQE {
	return (*CQE)(unsafe.Add(r.cqes, uintptr(i&r.cqMask)*CQESize))
}

// Enter is io_uring_enter as a blocking system call: the runtime may hand
// the thread's processor to another while it waits.
func (r *Ring) Enter(toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr) syscall.Errno {
	_, _, errno := syscall.Syscall6(sysEnter, uintptr(r.FD), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), uintptr(arg), argSize)
	return errno
}

// EnterNow is io_uring_enter as a raw system call, for one that does not
// wait (minComplete 0): the runtime need not hand anything over.
func (r *Ring) EnterNow(toSubmit, flags uint32) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(sysEnter, uintptr(r.FD), uintptr(toSubmit), 0, uintptr(flags), 0, 0)
	return errno
}

// Register is io_uring_register.
func (r *Ring) Register(opcode uint32, arg unsafe.Pointer, nrArgs uint32) error {
	if _, _, errno := syscall.Syscall6(sysRegister, uintptr(r.FD), uintptr(opcode), uintptr(arg), uintptr(nrArgs), 0, 0); errno != 0 {
		return fmt.Errorf("io_uring_register(%d): %w", opcode, errno)
	}
	return nil
}
