// Package boltfile checks a bbolt file's header before bbolt opens it.
//
// bbolt maps its file and reads, while it opens it, the pages its header
// names: the meta pages, then the freelist. Some damage there is not an
// error but a panic (a freelist page of another type) or a memory fault
// (a page past the end of a file cut short by a copy that did not finish
// or a disk that filled under another program). A fault is no panic at
// all unless the goroutine asked for one (debug.SetPanicOnFault), and a
// panic inside bbolt.Open leaves the file open, locked and mapped: the
// caller cannot close what Open never returned, and Windows then refuses
// to move the damaged file aside. Check reads the header itself, as bbolt
// does, and names such damage before bbolt is given the file.
package boltfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// Damage says what is wrong with a file bbolt must not be given.
type Damage struct{ reason string }

func (d *Damage) Error() string { return d.reason }

func damaged(format string, args ...any) *Damage {
	return &Damage{fmt.Sprintf(format, args...)}
}

// The header's layout (bbolt's file format, version 2): each of the first
// two pages holds a page header and a meta; the meta with the higher
// transaction id among those whose checksum holds is the current one.
// bbolt writes its structs as they are in memory.
const (
	pageHeaderSize = 16 // id uint64, flags uint16, count uint16, overflow uint32
	metaSize       = 64 // through the checksum
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
	noFreelist     = ^uint64(0)
	freelistFlag   = 0x10
	bigCount       = 0xFFFF // a freelist's count: the real one is its first id
)

// meta is what Check reads of one meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // the high-water mark: pages 0..pgid-1 are in the file
	txid     uint64
}

// parseMeta decodes a meta page's first bytes; ok is false unless its
// magic, version and checksum hold.
func parseMeta(b []byte) (m meta, ok bool) {
	if len(b) < pageHeaderSize+metaSize {
		return m, false
	}
	b = b[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != metaMagic || ne.Uint32(b[4:]) != metaVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != ne.Uint64(b[56:]) {
		return m, false
	}
	return meta{
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
	}, true
}

// Check returns a *Damage when the file at path is shorter than its
// current meta says, too short to hold the two meta pages bbolt needs, or
// names a freelist that is not one or does not fit in the file. A missing
// or empty file passes (bbolt starts it); so does one with no valid meta,
// which bbolt itself refuses as invalid, and one Check cannot read, whose
// open bbolt fails with the cause.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // bbolt's open says what is wrong
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	before, _ := currentMeta(f)
	if err := check(f, st.Size()); err != nil && !changing(f, st.Size(), before) {
		return err
	}
	return nil
}

// changing reports whether the file moved on while Check read it: another
// process holds it and commits (Check reads without bbolt's lock). What
// looked damaged then was a page read between two of its commits, and
// bbolt's open, which waits for the lock, says the file is in use.
func changing(f *os.File, size int64, before meta) bool {
	st, err := f.Stat()
	after, _ := currentMeta(f)
	return err != nil || st.Size() != size || after != before
}

// check is Check of a file of size bytes read through r.
func check(r io.ReaderAt, size int64) error {
	if size == 0 {
		return nil
	}
	cur, ok := currentMeta(r)
	if !ok {
		if size < 2*int64(os.Getpagesize()) {
			return damaged("file of %d bytes holds no bbolt header", size)
		}
		return nil
	}
	ps := int64(cur.pageSize)
	switch {
	case size < 2*ps:
		return damaged("file of %d bytes is shorter than its two header pages (%d bytes)", size, 2*ps)
	case cur.pgid > uint64(size/ps):
		return damaged("file is %d bytes but its header names %d pages of %d bytes: it was cut short", size, cur.pgid, ps)
	case cur.root >= cur.pgid, cur.freelist != noFreelist && cur.freelist >= cur.pgid:
		return damaged("header names pages past its own end (root %d, freelist %d, %d pages)", cur.root, cur.freelist, cur.pgid)
	}
	if cur.freelist == noFreelist {
		return nil
	}
	return checkFreelist(r, cur)
}

// checkFreelist reads the freelist page's header as bbolt's open does: it
// must be a freelist, and its page ids must lie within its own pages and
// the file's.
func checkFreelist(r io.ReaderAt, m meta) error {
	ps := int64(m.pageSize)
	var head [pageHeaderSize + 8]byte
	if _, err := r.ReadAt(head[:], int64(m.freelist)*ps); err != nil {
		return damaged("freelist page %d cannot be read: %v", m.freelist, err)
	}
	ne := binary.NativeEndian
	flags, count, overflow := ne.Uint16(head[8:]), uint64(ne.Uint16(head[10:])), uint64(ne.Uint32(head[12:]))
	if flags != freelistFlag {
		return damaged("page %d, which the header names as the freelist, is not one (flags %#x)", m.freelist, flags)
	}
	pages := overflow + 1
	if m.freelist+pages > m.pgid {
		return damaged("freelist page %d spans %d pages, past the file's %d", m.freelist, pages, m.pgid)
	}
	room := (pages*uint64(ps) - pageHeaderSize) / 8 // the ids its pages can hold
	if count == bigCount {
		count = ne.Uint64(head[pageHeaderSize:]) // the real count comes first, then the ids
		if count >= room {
			return damaged("freelist page %d counts %d ids where %d fit", m.freelist, count, room-1)
		}
	} else if count > room {
		return damaged("freelist page %d counts %d ids where %d fit", m.freelist, count, room)
	}
	return nil
}

// currentMeta reads both meta pages and returns the one bbolt would use.
// The second page's place depends on the page size, which the first
// tells; if the first is damaged, the second is looked for where the
// usual page sizes put it.
func currentMeta(r io.ReaderAt) (meta, bool) {
	buf := make([]byte, pageHeaderSize+metaSize)
	read := func(off int64) (meta, bool) {
		if _, err := r.ReadAt(buf, off); err != nil {
			return meta{}, false
		}
		m, ok := parseMeta(buf)
		return m, ok && m.pageSize >= 1024 && m.pageSize&(m.pageSize-1) == 0
	}
	m0, ok0 := read(0)
	sizes := []int64{int64(os.Getpagesize()), 4096, 16384, 65536}
	if ok0 {
		sizes = []int64{int64(m0.pageSize)}
	}
	for _, ps := range sizes {
		m1, ok1 := read(ps)
		if !ok1 || int64(m1.pageSize) != ps {
			continue
		}
		if !ok0 || m1.txid > m0.txid {
			return m1, true
		}
		break
	}
	return m0, ok0
}
