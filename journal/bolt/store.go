package bolt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhq/herald/internal/boltfile"
	"github.com/heraldhq/herald/internal/outage"
	"github.com/heraldhq/herald/journal"
)

// FileName is the journal's file in the data directory.
const FileName = "herald.db"

// Defaults for Options.
const (
	DefaultMaxBytes  = 1 << 30
	DefaultTrimEvery = time.Minute
)

// formatVersion is the layout this package writes. A file of a newer
// layout is refused (it is a newer herald's: not ours to move); format 2
// (the same buckets, before the write-ahead log) is read and upgraded; a
// file of format 1 (per-room buckets, written only by development builds
// before the first release) is moved aside like a corrupt one. Format 3
// means "has a write-ahead log": a build that reads only format 2 would
// ignore the log and lose what it holds, so it must refuse the file.
const (
	formatVersion  = 3
	oldestReadable = 2
)

// maxKey bounds rooms and event ids: bbolt keys must stay under 32 KiB and
// an event index key holds both.
const maxKey = 4 << 10

var (
	bucketMeta     = []byte("meta")
	bucketLog      = []byte("log")
	bucketLast     = []byte("last")
	bucketSessions = []byte("sessions")
	bucketSeen     = []byte("seen")
	keyEpoch       = []byte("epoch")
	keyFormat      = []byte("format")
	keyWALGen      = []byte("wal")
)

// Options tune a Store; the zero value is the production default.
type Options struct {
	// MaxBytes bounds the file. Past it appends fail (and are counted)
	// until trimming frees pages. 0 means DefaultMaxBytes. The
	// write-ahead log beside it stays within a sixteenth of it.
	MaxBytes int64
	// TrimEvery is how often retention runs in the background; 0 means
	// DefaultTrimEvery. SetRetention also trims at once.
	TrimEvery time.Duration
	// Logger receives what needs a human: a corrupt file moved aside, a
	// failing trim. nil discards.
	Logger *slog.Logger
}

// Store is a journal.Journal in one bbolt file.
type Store struct {
	path      string
	db        *bbolt.DB
	softLimit int64 // appends need free pages past this file size
	walLimit  int64 // a write-ahead log generation this long is checkpointed
	epoch     string
	log       *slog.Logger

	mu     sync.RWMutex // read-held around every use of db by callers
	closed bool
	tail   *tail

	ops       chan *op
	committed chan struct{} // closed when the committer has drained ops
	kick      chan struct{}
	markKick  chan struct{} // a mark changed counters (see Mark)
	stopTrim  chan struct{}
	trimmed   chan struct{} // closed when the trimmer stopped

	// idx, nextSeq and tx belong to the committer (see index), and so do
	// the write-ahead log and the transaction it stands in front of.
	idx           *index
	nextSeq       uint64
	tx            txState
	stager        *stager
	wal           *wal
	pending       int64        // record bytes in open and not yet checkpointed
	open          *bbolt.Tx    // the transaction groups write into until the checkpoint
	checkpointDue *time.Timer  // fires checkpointEvery after open was begun
	broken        bool         // open was dropped: begin the next from the log
	checkpoints   outage.Pacer // paces the log of failing checkpoints

	retention    atomic.Pointer[journal.Retention]
	appendErrors atomic.Uint64
	lastErr      atomic.Pointer[string]
	commits      atomic.Uint64
	commitOps    atomic.Uint64
}

var _ journal.Journal = (*Store)(nil)

// Open opens (or creates) the journal in dir. A corrupt file is moved
// aside and a new history started; the store then reports it in
// Stats.LastError. Open starts the committer and the trimmer; Close stops
// them.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.TrimEvery <= 0 {
		opts.TrimEvery = DefaultTrimEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: data dir: %w", err)
	}
	warnIfOthersMayWrite(dir, log)
	path := filepath.Join(dir, FileName)
	walPath := filepath.Join(dir, WALFileName)
	orphan := setAsideOrphanWAL(path, walPath, log)
	f, err := openFile(path, walPath, opts, log)
	notice := orphan
	var corrupt *corruptError
	if errors.As(err, &corrupt) {
		suffix := ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
		aside := path + suffix
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("journal: %s is corrupt (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		// The log's frames belong to the file moved aside (its sequence
		// numbers, its epoch's offsets): they go with it.
		if rerr := os.Rename(walPath, walPath+suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return nil, fmt.Errorf("journal: %s cannot be moved aside with %s: %w", walPath, path, rerr)
		}
		notice = fmt.Sprintf("journal file was corrupt (%v); moved to %s, started a new history", corrupt.err, aside)
		log.Error("journal file corrupt, moved aside; alert history before now is lost",
			"path", path, "moved_to", aside, "err", corrupt.err)
		f, err = openFile(path, walPath, opts, log)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	// A file copied in or created by an older build may be wider.
	_ = os.Chmod(path, 0o600)
	due := time.NewTimer(checkpointEvery)
	due.Stop()
	s := &Store{
		path:          path,
		db:            f.db,
		softLimit:     opts.MaxBytes - max(opts.MaxBytes/8, 256<<10),
		walLimit:      walLimit(opts.MaxBytes),
		epoch:         f.epoch,
		log:           log,
		tail:          newTail(),
		idx:           f.idx,
		nextSeq:       f.nextSeq,
		tx:            txState{drops: map[string]uint64{}, reserved: map[string]uint64{}},
		stager:        newStager(),
		wal:           f.wal,
		checkpointDue: due,
		ops:           make(chan *op, 4*maxBatch),
		committed:     make(chan struct{}),
		kick:          make(chan struct{}, 1),
		markKick:      make(chan struct{}, 1),
		stopTrim:      make(chan struct{}),
		trimmed:       make(chan struct{}),
	}
	if f.notice != "" {
		notice = f.notice
	}
	if notice != "" {
		s.lastErr.Store(&notice)
	}
	r := journal.Retention{}.WithDefaults()
	s.retention.Store(&r)
	go s.commitLoop()
	go s.trimLoop(opts.TrimEvery)
	return s, nil
}

// warnIfOthersMayWrite warns of a data directory that other users may
// write to (one made before herald's first run, with a wide mode): the
// files in it are private, but another user could delete or replace
// them. herald leaves the mode to its owner. Windows has no such bits.
func warnIfOthersMayWrite(dir string, log *slog.Logger) {
	fi, err := os.Stat(dir)
	if err != nil || runtime.GOOS == "windows" || fi.Mode().Perm()&0o022 == 0 {
		return
	}
	log.Warn("journal: other users may write to the data directory and so delete or replace the journal; chmod 700 it",
		"dir", dir, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
}

// setAsideOrphanWAL moves a non-empty write-ahead log aside when the
// file it belongs to is missing or empty (deleted, or replaced by hand):
// its frames are of a history that is gone, and the new one would ignore
// them without a word. It returns the notice the store reports, or "".
func setAsideOrphanWAL(path, walPath string, log *slog.Logger) string {
	db, err := os.Stat(path)
	if err == nil && db.Size() > 0 || err != nil && !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	w, err := os.Stat(walPath)
	if err != nil || w.Size() == 0 {
		return ""
	}
	aside := walPath + ".orphan-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(walPath, aside); err != nil {
		return ""
	}
	log.Warn("journal: the journal file was missing or empty beside its write-ahead log; started a new history and moved the log aside",
		"path", path, "moved_to", aside, "log_bytes", w.Size())
	return fmt.Sprintf("journal file was missing or empty; its write-ahead log (%d bytes) was moved to %s and a new history started", w.Size(), aside)
}

// walLimit is the length of a write-ahead log generation that brings its
// checkpoint forward: a sixteenth of the file's bound, 4 MiB at most. It
// bounds the log beside the file and, as much, the memory that waits for
// the checkpoint (the open transaction's pages and the tail's copies: a
// burst of 100 KB alerts held about twice 16 MiB with the earlier bound).
// Alerts of usual size reach it only above 5,000 a second, so the one-
// second checkpoint comes first.
func walLimit(maxBytes int64) int64 { return min(4<<20, maxBytes/16) }

// ErrInUse is returned by Open when another process holds the file.
var ErrInUse = errors.New("journal file held by another process")

// corruptError marks a file that is not a usable journal.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt journal file: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// opened is what openFile found.
type opened struct {
	db      *bbolt.DB
	epoch   string
	idx     *index
	nextSeq uint64
	wal     *wal
	notice  string // what the store reports until its next error: a damaged log
}

// openFile opens the bbolt file, checks it, redoes what the write-ahead
// log holds of the current generation, makes sure the buckets and the
// epoch exist and loads the index. Errors that mean the file is damaged
// (or of the older layout) come back as *corruptError; a lock held by
// another process does not. The log is opened only once bbolt holds the
// file's lock, which guards both.
func openFile(path, walPath string, opts Options, log *slog.Logger) (o opened, err error) {
	var db *bbolt.DB
	var walFile *os.File
	// A damaged page can send bbolt's reads outside its map; this
	// goroutine's fault then panics, and the recover below sees it.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged pages
			err = &corruptError{fmt.Errorf("bbolt panicked: %v", p)}
		}
		if err != nil {
			if walFile != nil {
				_ = walFile.Close()
			}
			if db != nil {
				_ = db.Close()
			}
			o = opened{}
		}
	}()
	// Damage bbolt would panic or fault on while it opens the file is
	// found first: a panic inside bbolt.Open leaves the file open and
	// mapped, which Windows will not let be moved aside.
	if err := boltfile.Check(path); err != nil {
		return o, &corruptError{err}
	}
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      2 * time.Second,
		FreelistType: bbolt.FreelistMapType,
		// NoFreelistSync stays off: with it bbolt rebuilds the freelist
		// at open in a goroutine of its own that panics on a damaged page,
		// which no recover can catch.
		MaxSize: int(opts.MaxBytes),
	})
	if err != nil {
		db = nil
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) ||
			errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrInvalidMapping) {
			return o, &corruptError{err}
		}
		if errors.Is(err, berrors.ErrTimeout) {
			return o, fmt.Errorf("%w: %w (is another herald using the same --data directory?)", ErrInUse, err)
		}
		return o, err
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		var first error
		for cerr := range tx.Check() { // drained to the end: the checker reads tx until it closes the channel
			if first == nil {
				first = cerr
			}
		}
		return first
	}); err != nil {
		return o, &corruptError{err}
	}
	if err := checkFormat(db); err != nil {
		return o, err
	}
	if walFile, err = openWAL(walPath); err != nil {
		return o, err
	}
	var (
		bad     [][]byte
		epoch   string
		idx     *index
		nextSeq uint64
		gen     uint64
		redone  int
		damage  []walDamage
	)
	// The log holds what the last run answered; redoing it must not be
	// refused because the file was at its bound (it would be refused at
	// every start, and history stay off). The log is bounded (walLimit),
	// so the file passes the bound by that and one of bbolt's growth steps
	// at most, until trimming brings it back.
	db.MaxSize = 0
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketLog, bucketLast, bucketSessions, bucketSeen} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyFormat, u64(formatVersion)); err != nil {
			return err
		}
		if e := meta.Get(keyEpoch); len(e) > 0 {
			epoch = string(e)
		} else {
			epoch = newEpoch()
			if err := meta.Put(keyEpoch, []byte(epoch)); err != nil {
				return err
			}
		}
		if g := meta.Get(keyWALGen); len(g) == 8 {
			gen = binary.BigEndian.Uint64(g)
		}
		if damage, err = redoWAL(walFile, walSeed(epoch), gen, func(p []byte) error {
			redone++
			return redo(tx, p)
		}); err != nil {
			return &corruptError{err}
		}
		// The frames just redone commit with this transaction; the log
		// starts its next generation.
		gen++
		if err := meta.Put(keyWALGen, u64(gen)); err != nil {
			return err
		}
		var err error
		if idx, nextSeq, bad, err = loadIndex(tx); err != nil {
			return &corruptError{err}
		}
		// A record that cannot be read has no room to be found under; it
		// would only take space.
		for _, k := range bad {
			if err := tx.Bucket(bucketLog).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	db.MaxSize = int(opts.MaxBytes)
	if err != nil {
		return o, err
	}
	if len(bad) > 0 {
		log.Warn("journal: dropped unreadable records", "path", path, "records", len(bad))
	}
	if redone > 0 {
		log.Info("journal: redid the write-ahead log of the last run", "path", walPath, "groups", redone)
	}
	o = opened{db: db, epoch: epoch, idx: idx, nextSeq: nextSeq, wal: &wal{f: walFile, seed: walSeed(epoch), gen: gen}}
	if len(damage) > 0 {
		o.notice = reportDamage(walPath, damage, log)
	}
	return o, nil
}

// reportDamage logs a write-ahead log damaged on disk and keeps a copy
// of it, which the log's next generation would overwrite, for whoever
// looks into it; it returns the notice the store reports.
func reportDamage(walPath string, damage []walDamage, log *slog.Logger) string {
	var lost int64
	for _, d := range damage {
		lost += d.length
	}
	kept := walPath + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	b, err := os.ReadFile(walPath)
	if err == nil {
		err = os.WriteFile(kept, b, 0o600)
	}
	if err != nil {
		kept = "(not kept: " + err.Error() + ")"
	}
	log.Error("journal: write-ahead log damaged on disk; the alerts written there are lost, those after it were redone",
		"path", walPath, "at", damage[0].at, "damaged_bytes", lost, "stretches", len(damage), "copy", kept)
	return fmt.Sprintf("write-ahead log was damaged (%d bytes at offset %d); alerts written there are lost; copy kept at %s", lost, damage[0].at, kept)
}

// checkFormat refuses a file of another layout: an older one as corrupt
// (moved aside), a newer one as an error (it belongs to a newer herald).
func checkFormat(db *bbolt.DB) error {
	return db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		f := meta.Get(keyFormat)
		switch {
		case f == nil:
			return nil
		case len(f) != 8:
			return &corruptError{fmt.Errorf("journal format %x unreadable", f)}
		case binary.BigEndian.Uint64(f) < oldestReadable:
			return &corruptError{fmt.Errorf("journal format %d is an older layout than this herald's (%d)", binary.BigEndian.Uint64(f), formatVersion)}
		case binary.BigEndian.Uint64(f) > formatVersion:
			return fmt.Errorf("journal format %d, this herald reads %d: use the herald that wrote it or another --data directory", binary.BigEndian.Uint64(f), formatVersion)
		}
		return nil
	})
}

// newEpoch names a new history: random, short, dash-free (a position is
// "<epoch>-<offset>").
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "b" + hex.EncodeToString(b[:])
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Path is the journal file.
func (s *Store) Path() string { return s.path }

// Epoch implements journal.Journal.
func (s *Store) Epoch() string { return s.epoch }

// SetRetention implements journal.Journal; trimming starts at once in the
// background.
func (s *Store) SetRetention(r journal.Retention) {
	r = r.WithDefaults()
	s.retention.Store(&r)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Stats implements journal.Journal; Bytes is the size of the file and
// its write-ahead log.
func (s *Store) Stats() journal.Stats {
	entries, rooms := s.idx.counts()
	st := journal.Stats{
		Store:        "bolt",
		Epoch:        s.epoch,
		Rooms:        rooms,
		Entries:      entries,
		AppendErrors: s.appendErrors.Load(),
		Commits:      s.commits.Load(),
		CommitOps:    s.commitOps.Load(),
	}
	for _, p := range []string{s.path, s.wal.f.Name()} {
		if fi, err := os.Stat(p); err == nil {
			st.Bytes += fi.Size()
		}
	}
	if e := s.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// BatchStats reports how many commits the store made and how many
// operations they carried: their ratio is the mean group-commit size.
func (s *Store) BatchStats() (commits, ops uint64) {
	return s.commits.Load(), s.commitOps.Load()
}

func (s *Store) noteError(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// Close implements journal.Journal: queued writes are committed, then the
// trimmer stops and the file is closed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.committed
	close(s.stopTrim)
	<-s.trimmed
	// The committer checkpointed on its way out; should that have
	// failed, the log holds what it could not, for the next open.
	werr := s.wal.f.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("journal: close: %w", werr)
	}
	return nil
}

// view runs fn in a read transaction unless the store is closed. What
// groups wrote since the last checkpoint is in the tail, which stays put
// until fn returns.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx, t *tail) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return journal.ErrClosed
	}
	s.tail.mu.RLock()
	defer s.tail.mu.RUnlock()
	return s.db.View(func(tx *bbolt.Tx) error { return fn(tx, s.tail) })
}
