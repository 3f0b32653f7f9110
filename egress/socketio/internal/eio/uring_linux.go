package eio

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/heraldhq/herald/internal/uring"
)

// ring is one io_uring instance: it sends a batch of writes, each to its
// own socket, in one system call. One goroutine uses it at a time.
type ring struct {
	*uring.Ring
	size   int  // most writes in one batch
	broken bool // a submission failed: the ring is not used again
}

// newRing sets up a ring for up to entries writes per batch.
func newRing(entries uint32) (*ring, error) {
	var p uring.Params
	r, err := uring.Setup(entries, &p)
	if err != nil {
		return nil, err
	}
	return &ring{Ring: r, size: int(min(r.SQEntries, r.CQEntries))}, nil
}

func (r *ring) close() { r.Close() }

// send writes bufs[i] to socket fds[i] without blocking, for every i, and
// sets res[i] to the bytes written or -errno (-EAGAIN for a full socket). It
// returns once every write has completed, so the buffers are free again.
// An error means the ring is broken (not to be used again); see fail for
// what res then holds.
func (r *ring) send(fds []int32, bufs [][]byte, res []int32) error {
	n := uint32(len(fds))
	tail := r.SQTail()
	for i := range n {
		*r.SQE(tail + i) = uring.SQE{
			Opcode: uring.OpSend,
			FD:     fds[i],
			Addr:   uint64(uintptr(unsafe.Pointer(unsafe.SliceData(bufs[i])))),
			Len:    uint32(len(bufs[i])),
			// MSG_DONTWAIT makes a full socket complete with EAGAIN rather
			// than wait in the kernel for room: the page's writer
			// goroutine takes the rest, as with an inline write.
			OpFlags:  syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL,
			UserData: uint64(i),
		}
		res[i] = resUnset
	}
	r.SetSQTail(tail + n)
	end := tail + n
	pending := n
	// A send with MSG_DONTWAIT completes while it is submitted, so the
	// submission need not wait, and goes in as a raw system call: the
	// runtime then does not hand this thread's processor to another
	// thread (and wake one) while the kernel makes the writes. Should a
	// completion still be owed, the loop below waits for it.
	if errno := r.EnterNow(toSubmit(r, end), 0); errno != 0 && errno != syscall.EINTR && errno != syscall.EAGAIN && errno != syscall.EBUSY {
		return r.fail(errno, res, tail, end, pending)
	}
	pending -= r.reap(res)
	for pending > 0 {
		errno := r.Enter(toSubmit(r, end), pending, uring.EnterGetevents, nil, 0)
		pending -= r.reap(res)
		if errno != 0 && errno != syscall.EINTR {
			return r.fail(errno, res, tail, end, pending)
		}
	}
	return nil
}

// toSubmit is how many entries up to end the kernel has not taken yet.
func toSubmit(r *ring, end uint32) uint32 { return end - r.SQHead() }

// fail handles a submission the kernel refused: the writes it did not take
// are withdrawn (marked resNotSent: the caller makes them another way),
// and those it took are waited for, since their buffers must not be
// released before. The ring is not used again.
func (r *ring) fail(errno syscall.Errno, res []int32, tail, end, pending uint32) error {
	r.broken = true
	head := r.SQHead()
	r.SetSQTail(head)
	for i := head - tail; i < end-tail; i++ {
		res[i] = resNotSent
	}
	owed := pending - (end - head)
	for tries := 0; owed > 0 && tries < 3; tries++ {
		e := r.Enter(0, owed, uring.EnterGetevents, nil, 0)
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
	head, tail := r.CQHead(), r.CQTail()
	got := tail - head
	for ; head != tail; head++ {
		cqe := r.CQE(head)
		if cqe.UserData < uint64(len(res)) {
			res[cqe.UserData] = cqe.Res
		}
	}
	r.SetCQHead(tail)
	return got
}

// resUnset marks a write with no completion yet, resNotSent one withdrawn
// before the kernel took it; no byte count or -errno takes these values.
const (
	resUnset   = int32(-1 << 31)
	resNotSent = resUnset + 1
)
