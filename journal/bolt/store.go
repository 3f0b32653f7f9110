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

// formatVersion is the layout this package writes; a file of another
// layout is refused (not moved aside: it may be a newer herald's).
const formatVersion = 1

// maxKey bounds rooms and event ids: bbolt keys must stay under 32 KiB and
// an event index key holds both.
const maxKey = 4 << 10

var (
	bucketMeta     = []byte("meta")
	bucketLog      = []byte("log")
	bucketLast     = []byte("last")
	bucketEvents   = []byte("events")
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
	stopTrim  chan struct{}
	trimmed   chan struct{} // closed when the trimmer stopped

	retention    atomic.Pointer[journal.Retention]
	entries      atomic.Int64
	rooms        atomic.Int64
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
	db, epoch, err := openFile(path, opts)
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
		db, epoch, err = openFile(path, opts)
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
		ops:       make(chan *op, 4*maxBatch),
		committed: make(chan struct{}),
		kick:      make(chan struct{}, 1),
		stopTrim:  make(chan struct{}),
		trimmed:   make(chan struct{}),
	}
	if notice != "" {
		s.lastErr.Store(&notice)
	}
	r := journal.Retention{}.WithDefaults()
	s.retention.Store(&r)
	if err := s.count(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	go s.commitLoop()
	go s.trimLoop(opts.TrimEvery)
	return s, nil
}

// corruptError marks a file that is not a usable journal.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt journal file: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// openFile opens the bbolt file, checks it and makes sure the buckets and
// the epoch exist. Errors that mean the file is damaged come back as
// *corruptError; a lock held by another process does not.
func openFile(path string, opts Options) (db *bbolt.DB, epoch string, err error) {
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
			return nil, "", &corruptError{err}
		}
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, "", fmt.Errorf("%w (is another herald using the same --data directory?)", err)
		}
		return nil, "", err
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
		_ = db.Close()
		return nil, "", &corruptError{err}
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketLog, bucketLast, bucketEvents, bucketSessions, bucketSeen} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if f := meta.Get(keyFormat); f != nil {
			if len(f) != 8 || binary.BigEndian.Uint64(f) != formatVersion {
				return fmt.Errorf("journal format %x, this herald reads %d: use the herald that wrote it or another --data directory", f, formatVersion)
			}
		} else if err := meta.Put(keyFormat, u64(formatVersion)); err != nil {
			return err
		}
		if e := meta.Get(keyEpoch); len(e) > 0 {
			epoch = string(e)
			return nil
		}
		epoch = newEpoch()
		return meta.Put(keyEpoch, []byte(epoch))
	})
	if err != nil {
		_ = db.Close()
		return nil, "", err
	}
	return db, epoch, nil
}

// newEpoch names a new history: random, short, dash-free (a position is
// "<epoch>-<offset>").
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "b" + hex.EncodeToString(b[:])
}

// count sets the entry and room counters from the file.
func (s *Store) count() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLog).ForEachBucket(func(k []byte) error {
			n := tx.Bucket(bucketLog).Bucket(k).Stats().KeyN
			s.entries.Add(int64(n))
			if n > 0 {
				s.rooms.Add(1)
			}
			return nil
		})
	})
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
	st := journal.Stats{
		Store:        "bolt",
		Epoch:        s.epoch,
		Rooms:        int(s.rooms.Load()),
		Entries:      int(s.entries.Load()),
		AppendErrors: s.appendErrors.Load(),
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
