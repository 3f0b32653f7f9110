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
	sub   []int32 // per item: its descriptor
	bufs  [][]byte
	res   []int32
	err   error // the ring's, from the last submission
}

// write makes items' writes through r. Each item holds its page's
// descriptor (Conn.direct) until its batch hands it back, so no page
// closed meanwhile can have its descriptor reused under a write meant for
// it. An error means r broke; the writes were still made, one system call
// each, but for those in an unknown state, whose pages are cut off.
func (w *ringScratch) write(r *ring, items []batchItem) error {
	w.r, w.items, w.err = r, items, nil
	w.submit()
	w.r, w.items = nil, nil
	clear(w.bufs)
	return w.err
}

var errUnknownWrite = errors.New("eio: io_uring write in an unknown state")

func (w *ringScratch) submit() {
	w.sub, w.bufs, w.res = w.sub[:0], w.bufs[:0], w.res[:0]
	for i := range w.items {
		w.sub = append(w.sub, int32(w.items[i].c.fd))
		w.bufs = append(w.bufs, w.items[i].b)
		w.res = append(w.res, 0)
	}
	w.err = w.r.send(w.sub, w.bufs, w.res)
	for k := range w.items {
		it := &w.items[k]
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
