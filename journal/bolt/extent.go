package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// bbolt maps its file and reads, at open, the pages its header names
// (the freelist, then the root). A file cut short, by a copy that did not
// finish or a disk that filled under another program, names pages past
// its end, and reading one is a memory fault that no recover catches:
// herald would crash before it listens. checkExtent reads the header
// itself, as bbolt does, and refuses such a file as corrupt, so it is
// moved aside like any other damaged journal.

// The header's layout (bbolt's file format, version 2): each of the first
// two pages holds a page header and a meta; the meta with the higher
// transaction id among those whose checksum holds is the current one.
const (
	pageHeaderSize = 16
	metaSize       = 64 // through the checksum
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
	noFreelist     = ^uint64(0)
)

// meta is what checkExtent reads of one meta page.
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
	le := binary.NativeEndian // bbolt writes its structs as they are in memory
	if le.Uint32(b[0:]) != metaMagic || le.Uint32(b[4:]) != metaVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return m, false
	}
	return meta{
		pageSize: le.Uint32(b[8:]),
		root:     le.Uint64(b[16:]),
		freelist: le.Uint64(b[32:]),
		pgid:     le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
	}, true
}

// checkExtent returns a *corruptError when the file at path is shorter
// than its current meta says, or too short to hold the two meta pages
// bbolt needs. A missing or empty file passes (bbolt starts it); so does
// one with no valid meta, which bbolt itself refuses as invalid.
func checkExtent(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // bbolt's open says what is wrong
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return nil
	}
	size := st.Size()
	cur, ok := currentMeta(f)
	if !ok {
		if size < 2*int64(os.Getpagesize()) {
			return &corruptError{fmt.Errorf("file of %d bytes holds no journal header", size)}
		}
		return nil
	}
	ps := int64(cur.pageSize)
	switch {
	case size < 2*ps:
		return &corruptError{fmt.Errorf("file of %d bytes is shorter than its two header pages (%d bytes)", size, 2*ps)}
	case cur.pgid > uint64(size/ps):
		return &corruptError{fmt.Errorf("file is %d bytes but its header names %d pages of %d bytes: it was cut short", size, cur.pgid, ps)}
	case cur.root >= cur.pgid, cur.freelist != noFreelist && cur.freelist >= cur.pgid:
		return &corruptError{fmt.Errorf("header names pages past its own end (root %d, freelist %d, %d pages)", cur.root, cur.freelist, cur.pgid)}
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
