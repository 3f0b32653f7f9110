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
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

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
// layout is refused (it is a newer herald's: not ours to move); a file of
// an older one (format 1, per-room buckets, written only by development
// builds before the first release) is moved aside like a corrupt one.
const formatVersion = 2

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
)

// Options tune a Store; the zero value is the production default.
type Options struct {
	// MaxBytes bounds the file. Past it appends fail (and are counted)
	// until trimming frees pages. 0 means DefaultMaxBytes.
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
	epoch     string
	log       *slog.Logger

	mu     sync.RWMutex // read-held around every use of db by callers
	closed bool

	ops       chan *op
	committed chan struct{} // closed when the committer has drained ops
	kick      chan struct{}
	markKick  chan struct{} // a mark changed counters (see Mark)
	stopTrim  chan struct{}
	trimmed   chan struct{} // closed when the trimmer stopped

	// idx, nextSeq and tx belong to the committer (see index).
	idx     *index
	nextSeq uint64
	tx      txState
	stager  *stager

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
	path := filepath.Join(dir, FileName)
	db, epoch, idx, nextSeq, err := openFile(path, opts, log)
	var notice string
	var corrupt *corruptError
	if errors.As(err, &corrupt) {
		aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("journal: %s is corrupt (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		notice = fmt.Sprintf("journal file was corrupt (%v); moved to %s, started a new history", corrupt.err, aside)
		log.Error("journal file corrupt, moved aside; alert history before now is lost",
			"path", path, "moved_to", aside, "err", corrupt.err)
		db, epoch, idx, nextSeq, err = openFile(path, opts, log)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	// A file copied in or created by an older build may be wider.
	_ = os.Chmod(path, 0o600)
	s := &Store{
		path:      path,
		db:        db,
		softLimit: opts.MaxBytes - max(opts.MaxBytes/8, 256<<10),
		epoch:     epoch,
		log:       log,
		idx:       idx,
		nextSeq:   nextSeq,
		tx:        txState{drops: map[string]uint64{}, reserved: map[string]uint64{}},
		stager:    newStager(),
		ops:       make(chan *op, 4*maxBatch),
		committed: make(chan struct{}),
		kick:      make(chan struct{}, 1),
		markKick:  make(chan struct{}, 1),
		stopTrim:  make(chan struct{}),
		trimmed:   make(chan struct{}),
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

// corruptError marks a file that is not a usable journal.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt journal file: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// openFile opens the bbolt file, checks it, makes sure the buckets and the
// epoch exist and loads the index. Errors that mean the file is damaged
// (or of the older layout) come back as *corruptError; a lock held by
// another process does not.
func openFile(path string, opts Options, log *slog.Logger) (db *bbolt.DB, epoch string, idx *index, nextSeq uint64, err error) {
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged pages
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, &corruptError{fmt.Errorf("bbolt panicked: %v", p)}
		}
	}()
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      2 * time.Second,
		FreelistType: bbolt.FreelistMapType,
		// NoFreelistSync stays off: with it bbolt rebuilds the freelist
		// at open in a goroutine of its own that panics on a damaged page,
		// which no recover can catch.
		MaxSize: int(opts.MaxBytes),
	})
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) ||
			errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrInvalidMapping) {
			return nil, "", nil, 0, &corruptError{err}
		}
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, "", nil, 0, fmt.Errorf("%w (is another herald using the same --data directory?)", err)
		}
		return nil, "", nil, 0, err
	}
	fail := func(err error) (*bbolt.DB, string, *index, uint64, error) {
		_ = db.Close()
		return nil, "", nil, 0, err
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
		return fail(&corruptError{err})
	}
	if err := checkFormat(db); err != nil {
		return fail(err)
	}
	var bad [][]byte
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
	if err != nil {
		return fail(err)
	}
	if len(bad) > 0 {
		log.Warn("journal: dropped unreadable records", "path", path, "records", len(bad))
	}
	return db, epoch, idx, nextSeq, nil
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
		case binary.BigEndian.Uint64(f) < formatVersion:
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

// Stats implements journal.Journal; Bytes is the file's size.
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
	if fi, err := os.Stat(s.path); err == nil {
		st.Bytes = fi.Size()
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
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// view runs fn in a read transaction unless the store is closed.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return journal.ErrClosed
	}
	return s.db.View(fn)
}
