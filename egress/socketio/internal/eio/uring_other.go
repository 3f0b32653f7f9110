//go:build !linux

package eio

const ringsSupported = false

// ring is io_uring's, which only Linux has; no ring is ever made here.
type ring struct {
	size   int
	broken bool
}

func newRing(uint32) (*ring, error) { panic("eio: no io_uring here") }
func (*ring) close()                {}

type ringScratch struct{}

func (*ringScratch) write(_ *ring, items []batchItem) error { writeEach(items); return nil }
