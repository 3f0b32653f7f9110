package eio

import (
	"errors"
	"syscall"
)

const ringsSupported = true

// ringScratch is a batch's reusable room for one ring submission.
type ringScratch struct {
	r     *ring
	items []batchItem
	fds   []int32 // per item, -1 for a socket closed under us
	sub   []int32 // per submitted write
	bufs  [][]byte
	res   []int32
	at    []int // items index of each submitted write
	err   error // the ring's, from the last submission
}

// write makes items' writes through r. Every socket is pinned open
// (RawConn.Control) for the whole submission: a page closed meanwhile
// must not have its descriptor reused under a write meant for it. An
// error means r broke; the writes were still made, one system call each,
// but for those in an unknown state, whose pages are cut off.
func (w *ringScratch) write(r *ring, items []batchItem) error {
	w.r, w.items, w.err = r, items, nil
	w.fds = grow(w.fds, len(items))
	w.pin(0)
	w.r, w.items = nil, nil
	clear(w.bufs)
	return w.err
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// pin pins items[i:] one inside the other, then submits.
func (w *ringScratch) pin(i int) {
	for ; i < len(w.items); i++ {
		pinned := false
		err := w.items[i].c.raw.Control(func(fd uintptr) {
			pinned = true
			w.fds[i] = int32(fd)
			w.pin(i + 1)
		})
		if pinned {
			return
		}
		w.items[i].err = err // closed under us
		w.fds[i] = -1
	}
	w.submit()
}

var errUnknownWrite = errors.New("eio: io_uring write in an unknown state")

func (w *ringScratch) submit() {
	w.at, w.sub, w.bufs, w.res = w.at[:0], w.sub[:0], w.bufs[:0], w.res[:0]
	for i, fd := range w.fds {
		if fd < 0 {
			continue
		}
		w.at = append(w.at, i)
		w.sub = append(w.sub, fd)
		w.bufs = append(w.bufs, w.items[i].b)
		w.res = append(w.res, 0)
	}
	if len(w.sub) == 0 {
		return
	}
	w.err = w.r.send(w.sub, w.bufs, w.res)
	for k, i := range w.at {
		it := &w.items[i]
		switch res := w.res[k]; {
		case res >= 0:
			it.n = int(res)
		case res == -int32(syscall.EAGAIN):
			it.n = 0
		case res == resNotSent:
			it.n, it.err = writeFD(uintptr(w.sub[k]), it.b)
		case res == resUnset:
			it.err = errUnknownWrite
		default:
			it.err = syscall.Errno(-res)
		}
	}
}
