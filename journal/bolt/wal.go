package bolt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	bbolt "go.etcd.io/bbolt"
)

// WALFileName is the write-ahead log beside FileName in the data
// directory (mode 0600, like the journal: it holds the same records).
//
// A bbolt commit is two fdatasyncs (the pages, then the meta page that
// points at them) and a rewrite of every page the commit touched. The
// committer therefore keeps one bbolt transaction open across group
// commits and makes each group durable with one frame appended to this
// log and one fdatasync; the open transaction is committed to bbolt (a
// checkpoint) about once a second, and the same commit moves the log on
// to a new generation, whose first frame goes back to the start of the
// file. At open the frames of the generation bbolt names are replayed
// into bbolt, so a group answered before a kill -9 is there after it.
const WALFileName = "herald.wal"

// Each frame is
//
//	crc32c   u32, of everything after it, seeded with the history's epoch
//	gen      u64, the log's generation when the frame was written
//	length   u32, of the payload
//	payload  the group's operations (see walOps)
//
// Replay stops at the first frame that is short, fails its checksum or
// has another generation: a write torn by the crash, or the previous
// generation's frames, which its checkpoint already put in bbolt. (At
// open, redoWAL goes on past such a frame when a whole frame of the
// generation follows it: that is damage on disk, not the log's end.) The
// epoch in the checksum keeps a log from being redone into another
// history's file (a herald.db restored from a backup beside a newer log).
const frameHead = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal appends frames of one generation to the log file. The committer
// owns it.
type wal struct {
	f    *os.File
	seed uint32 // walSeed of the history's epoch
	gen  uint64
	end  int64 // where the next frame goes: just past the last synced one
	buf  []byte
}

// openWAL opens the log, creating it (and syncing its directory, so the
// new name survives a power cut as its frames do) on first run.
func openWAL(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write-ahead log: %w", err)
	}
	_ = os.Chmod(path, 0o600)
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("write-ahead log: %w", err)
		}
	}
	return f, nil
}

// commit appends payload as one frame and syncs it: once it returns nil
// the group is on disk.
func (w *wal) commit(payload []byte) error {
	w.buf = appendFrame(w.buf[:0], w.seed, w.gen, payload)
	if _, err := w.f.WriteAt(w.buf, w.end); err != nil {
		w.spoil()
		return fmt.Errorf("journal: write-ahead log: %w", err)
	}
	if err := datasync(w.f); err != nil {
		w.spoil()
		return fmt.Errorf("journal: write-ahead log sync: %w", err)
	}
	w.end += int64(len(w.buf))
	return nil
}

// spoil overwrites the head of a frame whose write or sync failed, best
// effort: its callers were told it failed, so a restart must not replay
// it. (The next frame, written at the same place, overwrites it anyway.)
func (w *wal) spoil() {
	var zero [frameHead]byte
	if _, err := w.f.WriteAt(zero[:], w.end); err == nil {
		_ = datasync(w.f)
	}
}

// restart begins generation gen at the start of the file; the caller
// committed the checkpoint that names gen.
func (w *wal) restart(gen uint64) {
	w.gen, w.end = gen, 0
}

// walSeed is the checksum of epoch, which every frame's checksum starts
// from.
func walSeed(epoch string) uint32 { return crc32.Checksum([]byte(epoch), castagnoli) }

func appendFrame(b []byte, seed uint32, gen uint64, payload []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[start:], crc32.Update(seed, castagnoli, b[start+4:]))
	return b
}

// replayWAL calls fn with the payload of each frame of generation gen
// (checksums seeded with seed) in the first limit bytes of f (all of it
// when limit is negative), in order, and returns the offset just past the
// last one. It stops quietly at the end of the generation (see
// frameHead); only a read error or fn's error is an error.
func replayWAL(f *os.File, seed uint32, gen uint64, limit int64, fn func(payload []byte) error) (end int64, err error) {
	return replayFrom(f, seed, gen, 0, limit, fn)
}

// replayFrom is replayWAL starting at the frame at offset from.
func replayFrom(f *os.File, seed uint32, gen uint64, from, limit int64, fn func(payload []byte) error) (end int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return from, fmt.Errorf("write-ahead log: %w", err)
	}
	size := fi.Size()
	if limit >= 0 {
		size = min(size, limit)
	}
	end = from
	if end >= size {
		return end, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, size-from), 64<<10)
	var head [frameHead]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return end, nil
			}
			return end, fmt.Errorf("write-ahead log: %w", err)
		}
		n := binary.BigEndian.Uint32(head[12:])
		// A length past the file's end is damage, not a frame.
		if binary.BigEndian.Uint64(head[4:]) != gen || int64(n) > size-end-frameHead {
			return end, nil
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return end, nil
			}
			return end, fmt.Errorf("write-ahead log: %w", err)
		}
		crc := crc32.Update(crc32.Update(seed, castagnoli, head[4:]), castagnoli, payload)
		if crc != binary.BigEndian.Uint32(head[:4]) {
			return end, nil
		}
		if err := fn(payload); err != nil {
			return end, err
		}
		end += frameHead + int64(n)
	}
}

// walDamage is a stretch of the log, at offset at, that held no whole
// frame of the generation being redone although frames of it follow: the
// groups written there are lost.
type walDamage struct{ at, length int64 }

// redoWAL replays generation gen as replayWAL does, and where replay
// stops, looks for another frame of the generation further on. A crash
// tears only the last frame written, so such a frame means the stretch
// before it was damaged on disk: redoWAL reports the stretch and goes on
// from the frame, so one damaged group costs only its own alerts.
func redoWAL(f *os.File, seed uint32, gen uint64, fn func(payload []byte) error) ([]walDamage, error) {
	var damage []walDamage
	end, err := replayWAL(f, seed, gen, -1, fn)
	for err == nil {
		next, ok, ferr := findFrame(f, seed, gen, end+1)
		if ferr != nil || !ok {
			return damage, ferr
		}
		damage = append(damage, walDamage{at: end, length: next - end})
		end, err = replayFrom(f, seed, gen, next, -1, fn)
	}
	return damage, err
}

// findFrame returns the offset of the first whole frame of generation gen
// at or after from, found by its generation and checksum.
func findFrame(f *os.File, seed uint32, gen uint64, from int64) (int64, bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("write-ahead log: %w", err)
	}
	if fi.Size()-from < frameHead {
		return 0, false, nil
	}
	b := make([]byte, fi.Size()-from) // a generation is at most a few MiB
	if _, err := f.ReadAt(b, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("write-ahead log: %w", err)
	}
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], gen)
	for i := 0; i+frameHead <= len(b); i++ {
		if [8]byte(b[i+4:i+12]) != want {
			continue
		}
		n := int64(binary.BigEndian.Uint32(b[i+12:]))
		if n > int64(len(b)-i-frameHead) {
			continue
		}
		if crc32.Update(seed, castagnoli, b[i+4:i+frameHead+int(n)]) == binary.BigEndian.Uint32(b[i:]) {
			return from + int64(i), true, nil
		}
	}
	return 0, false, nil
}

// The operations a frame carries, each a kind byte then its fields
// (strings and byte strings are a uvarint length then the bytes, numbers
// uvarints). They are redone on replay exactly as the committer did them
// in the open transaction: puts of whole values and deletes, so replaying
// a frame whose effect is already in bbolt changes nothing. Expired
// sessions and de-duplication keys are not logged: the trimmer finds them
// again by their times. Trimmed log entries are, because the index that
// chose them forgets them.
const (
	walRecord  = 'L' // seq, record: a log entry
	walReserve = 'R' // room, offset: a room's reservation
	walSession = 'S' // pid, session value
	walSeen    = 'K' // key, expiry (Unix nanoseconds)
	walForget  = 'F' // key
	walCounts  = 'C' // seq, reached, acked: a record's counters
	walTrim    = 'D' // seq: a log entry retention removed
)

// walOps builds a frame's payload.
type walOps struct{ b []byte }

func (w *walOps) record(seq uint64, rec []byte) {
	w.b = append(w.b, walRecord)
	w.b = binary.AppendUvarint(w.b, seq)
	w.b = appendString(w.b, string(rec))
}

func (w *walOps) reserve(room string, to uint64) {
	w.b = appendString(append(w.b, walReserve), room)
	w.b = binary.AppendUvarint(w.b, to)
}

func (w *walOps) session(pid string, v []byte) {
	w.b = appendString(append(w.b, walSession), pid)
	w.b = appendString(w.b, string(v))
}

func (w *walOps) seen(key string, expiry uint64) {
	w.b = appendString(append(w.b, walSeen), key)
	w.b = binary.AppendUvarint(w.b, expiry)
}

func (w *walOps) forget(key string) {
	w.b = appendString(append(w.b, walForget), key)
}

func (w *walOps) trim(seq uint64) {
	w.b = append(w.b, walTrim)
	w.b = binary.AppendUvarint(w.b, seq)
}

func (w *walOps) counts(seq uint64, reached, acked int) {
	w.b = append(w.b, walCounts)
	w.b = binary.AppendUvarint(w.b, seq)
	w.b = binary.AppendUvarint(w.b, uint64(clampCount(reached)))
	w.b = binary.AppendUvarint(w.b, uint64(clampCount(acked)))
}

// log appends the operations add writes to the group's frame and applies
// them to tx with redo: a write takes effect through the same code that
// replays it after a crash.
func (t *txState) log(tx *bbolt.Tx, add func(w *walOps)) error {
	start := len(t.wal.b)
	add(&t.wal)
	return redo(tx, t.wal.b[start:])
}

// redo applies a frame's payload to tx, as the committer applied it in
// the transaction the crash lost. A payload it cannot read is an error:
// its checksum held, so a newer herald or a bug wrote it.
func redo(tx *bbolt.Tx, payload []byte) error { return redoOps(tx, payload, false) }

// redoDeletes applies only the deletes of a frame's payload: what frees
// pages (see Store.trimAlone).
func redoDeletes(tx *bbolt.Tx, payload []byte) error { return redoOps(tx, payload, true) }

func redoOps(tx *bbolt.Tx, payload []byte, deletesOnly bool) error {
	r := reader{b: payload}
	logs, last := tx.Bucket(bucketLog), tx.Bucket(bucketLast)
	for len(r.b) > 0 && r.err == nil {
		var err error
		switch kind := r.byte(); kind {
		case walRecord:
			seq, rec := r.uvarint(), r.string()
			if r.err == nil && !deletesOnly {
				err = logs.Put(u64(seq), []byte(rec))
			}
		case walReserve:
			room, to := r.string(), r.uvarint()
			if r.err == nil && !deletesOnly {
				err = last.Put([]byte(room), u64(to))
			}
		case walSession:
			pid, v := r.string(), r.string()
			if r.err == nil && !deletesOnly {
				err = tx.Bucket(bucketSessions).Put([]byte(pid), []byte(v))
			}
		case walSeen:
			key, exp := r.string(), r.uvarint()
			if r.err == nil && !deletesOnly {
				err = tx.Bucket(bucketSeen).Put([]byte(key), u64(exp))
			}
		case walForget:
			key := r.string()
			if r.err == nil {
				err = tx.Bucket(bucketSeen).Delete([]byte(key))
			}
		case walTrim:
			seq := r.uvarint()
			if r.err == nil {
				err = logs.Delete(u64(seq))
			}
		case walCounts:
			seq, reached, acked := r.uvarint(), r.count(), r.count()
			if r.err == nil && !deletesOnly {
				err = writeCounts(tx, []countsWrite{{seq: seq, reached: reached, acked: acked}})
			}
		default:
			r.fail("operation %q unknown", kind)
		}
		if err != nil {
			return fmt.Errorf("write-ahead log: redo: %w", err)
		}
	}
	if r.err != nil {
		return fmt.Errorf("write-ahead log: frame unreadable: %w", r.err)
	}
	return nil
}
