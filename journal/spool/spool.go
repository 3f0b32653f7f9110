// Package spool keeps, on a cluster node's own disk, the alerts the node
// sent to its own pages while Redis was away, until they are journaled in
// Redis. Without it they wait in memory (router's outbox), and a node
// stopped or killed during the outage takes them with it: its trigger was
// answered 200, yet the other nodes' pages never get the alert. With it the
// node, started again, journals them once Redis is back.
//
// One small bbolt file per node (outbox-PORT.db in --data, mode 0600):
// bbolt gives it a lock, so two nodes never share one, and a commit that
// is on disk when Keep returns, on every system herald runs on.
package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/boltfile"
)

var bucket = []byte("outbox")

// ErrInUse is returned by Open when another process holds the file.
var ErrInUse = errors.New("outbox file held by another process")

// Spool is one node's outbox on disk.
type Spool struct {
	db        *bbolt.DB
	path      string
	mu        sync.Mutex // guards the three below
	closed    bool
	forget    []uint64 // ids to remove, in the next removal's transaction
	forgetter bool     // a goroutine is removing them
	forgets   sync.WaitGroup
}

// Entry is one kept delivery.
type Entry struct {
	ID       uint64          `json:"-"`
	Delivery herald.Delivery `json:"delivery"` // with LiveTo
	At       time.Time       `json:"at"`       // when it went live
	Reached  int             `json:"reached"`  // pages it reached live
}

// Open opens or creates the spool at path, and its directory (0700). A
// file that is not a spool is moved aside (path.corrupt-TIME) and a new
// one started; aside names where it went. A file another process holds is
// ErrInUse at once: the caller keeps its outbox in memory instead.
func Open(path string) (s *Spool, aside string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("outbox directory: %w", err)
	}
	db, err := open(path)
	var bad *corruptError
	if errors.As(err, &bad) {
		aside = fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, "", fmt.Errorf("%w; moving it aside: %w", err, rerr)
		}
		db, err = open(path)
	}
	if err != nil {
		return nil, "", err
	}
	return &Spool{db: db, path: path}, aside, nil
}

type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt outbox file: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

func open(path string) (db *bbolt.DB, err error) {
	// A damaged page can send bbolt's reads outside its map; this
	// goroutine's fault then panics, and the recover below sees it.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged pages
			if db != nil {
				db.Close()
			}
			db, err = nil, &corruptError{fmt.Errorf("bbolt panicked: %v", p)}
		}
	}()
	// What bbolt would panic or fault on while it opens the file is found
	// first: a panic inside bbolt.Open leaves the file open and mapped,
	// which Windows will not let be moved aside.
	if err := boltfile.Check(path); err != nil {
		return nil, &corruptError{err}
	}
	// A lock held by another node is not waited for: that node is alive.
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrInUse, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, &corruptError{err}
	case err != nil:
		return nil, err
	}
	// Keep runs while its alert's room waits: a batch may gather for 1 ms,
	// not bbolt's usual 10.
	db.MaxBatchDelay = time.Millisecond
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, &corruptError{err}
	}
	return db, nil
}

// Path is the spool's file.
func (s *Spool) Path() string { return s.path }

// Keep stores a delivery and returns its id once it is on disk. Deliveries
// kept concurrently share a commit.
func (s *Spool) Keep(d herald.Delivery, at time.Time, reached int) (uint64, error) {
	v, err := json.Marshal(Entry{Delivery: d, At: at, Reached: reached})
	if err != nil {
		return 0, fmt.Errorf("outbox record: %w", err)
	}
	var id uint64
	err = s.db.Batch(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		// Batch may run this again after a failed commit: the sequence
		// of a rolled-back transaction is not used.
		if id, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put(key(id), v)
	})
	if err != nil {
		return 0, fmt.Errorf("outbox on disk: %w", err)
	}
	return id, nil
}

// Forget removes a delivery that was journaled (or given up). It does not
// wait for the disk: if the node dies before the removal is committed, the
// delivery is journaled a second time when it starts again, which the
// pages that had it live skip (herald.Delivery.LiveTo). Close waits.
//
// One goroutine at a time removes what was forgotten meanwhile in one
// transaction: the catch-up after a long outage forgets thousands of
// deliveries in a burst.
func (s *Spool) Forget(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // kept: journaled again at the next start
	}
	s.forget = append(s.forget, id)
	if !s.forgetter {
		s.forgetter = true
		s.forgets.Go(s.removeForgotten)
	}
}

// removeForgotten removes forgotten ids until none is left.
func (s *Spool) removeForgotten() {
	for {
		s.mu.Lock()
		ids := s.forget
		s.forget = nil
		if len(ids) == 0 {
			s.forgetter = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		// A failed removal leaves the deliveries to be journaled again at
		// the next start, which the pages that had them skip.
		_ = s.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, id := range ids {
				if err := b.Delete(key(id)); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// Load calls each with the kept deliveries, oldest first. A record it
// cannot read is removed and counted in bad: it cannot be journaled.
func (s *Spool) Load(each func(Entry)) (bad int, err error) {
	var unreadable [][]byte
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			e, err := decode(k, v)
			if err != nil {
				unreadable = append(unreadable, append([]byte(nil), k...))
				return nil
			}
			each(e)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("reading the outbox: %w", err)
	}
	if len(unreadable) > 0 {
		err = s.db.Update(func(tx *bbolt.Tx) error {
			for _, k := range unreadable {
				if err := tx.Bucket(bucket).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return len(unreadable), err
}

// decode reads one record back.
func decode(k, v []byte) (Entry, error) {
	if len(k) != 8 {
		return Entry{}, fmt.Errorf("outbox key of %d bytes", len(k))
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return Entry{}, fmt.Errorf("outbox record: %w", err)
	}
	if e.Delivery.Room == "" || e.Delivery.Name == "" || e.At.IsZero() {
		return Entry{}, errors.New("outbox record without room, name or time")
	}
	e.ID = binary.BigEndian.Uint64(k)
	return e, nil
}

// Close waits for pending removals and closes the file.
func (s *Spool) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.forgets.Wait()
	return s.db.Close()
}

func key(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }
