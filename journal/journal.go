// Package journal is herald's memory of what it sent: a per-room log of
// deliveries with offsets, the private session ids of pages (for Socket.IO
// connection state recovery), deliveries that reached no page yet
// (pending), and the ids of webhook messages already accepted
// (de-duplication that survives a restart).
//
// The Journal interface is in herald's own terms; stores implement it in
// sub-packages (journal/bolt on go.etcd.io/bbolt, the default; journal/mem
// for tests and throwaway runs; journal/redis for cluster mode). Every store
// passes the same behavioural suite, journal/journaltest.
//
// # Guarantees every store gives
//
//   - Offsets are unique and strictly increasing within a room and never
//     reused, even after a crash: a store may skip offsets (gaps are fine)
//     but never hands out one it handed out before.
//   - Append returns only once the entry is durable (for a persistent
//     store: on disk, fsync'd, or acknowledged by Redis). A sender that was
//     answered 2xx after Append loses nothing to a kill -9.
//   - A store that cannot write returns an error; it never blocks live
//     delivery for longer than the caller's context allows. The caller
//     (router) delivers live anyway and counts the failure.
//
// # Personal data
//
// Entries hold payloads (donor names, messages). Stores keep their files
// private (0600), honour Retention, and store nothing the ingress dropped.
package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Journal is the store behind recovery, pending delivery, acks, replay and
// de-duplication. All methods are safe for concurrent use; every call that
// may touch a disk or a network takes a context.
type Journal interface {
	// Append stores d as the next entry of room d.Room and returns it with
	// its offset. It returns when the entry is durable. Concurrent appends
	// may share one commit (group commit).
	Append(ctx context.Context, d herald.Delivery) (Entry, error)
	// After returns up to limit entries of room with an offset greater than
	// after, oldest first. An empty room, or nothing after, is nil, nil.
	After(ctx context.Context, room string, after uint64, limit int) ([]Entry, error)
	// Last returns the newest n entries of room, oldest first (history and
	// replay of the last N).
	Last(ctx context.Context, room string, n int) ([]Entry, error)
	// Find returns the entries made from one event (by herald.Event ID),
	// across rooms, oldest first (replay of one alert).
	Find(ctx context.Context, eventID string) ([]Entry, error)
	// Mark adds to an entry's counters: pages reached and acks received. A
	// negative count takes a mark back (a pending alert claimed for a page
	// that left before it was sent is pending again); counters never go
	// below zero. A mark for an entry that retention already removed is
	// not an error.
	// Reads see a mark once Mark returned; a persistent store may write it
	// with its next commit rather than one of its own (bolt does).
	Mark(ctx context.Context, room string, offset uint64, reached, acked int) error
	// Pending returns the entries of room that have reached no page and
	// were appended at or after since, oldest first.
	Pending(ctx context.Context, room string, since time.Time) ([]Entry, error)
	// Claim marks each of room's entries at offsets as reached by one
	// page, if no page has reached it yet, and returns the offsets it
	// marked, in the order given. Of pages that claim the same pending
	// entries at once, from one process or several sharing the store,
	// each entry goes to one. Entries retention removed are not claimed.
	// token names the claim: one made again with the token of an earlier
	// one also gets what that one marked, for a claim whose answer was
	// lost (a Redis that stalled past the caller's deadline ran it
	// later). A store whose failed claims mark nothing may ignore it.
	Claim(ctx context.Context, room, token string, offsets []uint64) ([]uint64, error)

	// SaveSession remembers a page's private session id until s.Expires.
	SaveSession(ctx context.Context, s Session) error
	// Session looks a private session id up; ok is false when it is
	// unknown or expired.
	Session(ctx context.Context, pid string) (s Session, ok bool, err error)

	// Seen records key until now+ttl and reports whether it was already
	// recorded and not expired: webhook de-duplication across restarts and,
	// in cluster mode, across nodes.
	Seen(ctx context.Context, key string, ttl time.Duration) (dup bool, err error)
	// Forget removes key, so a message whose delivery failed after Seen is
	// accepted when the platform retries.
	Forget(ctx context.Context, key string) error

	// SetRetention changes how much history is kept; trimming happens in
	// the background and after it.
	SetRetention(r Retention)
	// Epoch names this store's history. It changes when the history was
	// lost (a new file, a corrupt file moved aside, a flushed Redis), so a
	// page that recovers from an offset of another epoch is told recovery
	// is impossible instead of silently missing entries.
	Epoch() string
	// Stats reports size and counters for /api/status and /metrics.
	Stats() Stats
	// Close flushes and releases the store.
	Close() error
}

// Stager is implemented by a Journal that can give an entry its offset
// before the entry is durable, so the caller can send the delivery to
// pages while the commit is on disk and answer its sender once durable
// returns. Such a store reserves offsets ahead on disk: an offset a page
// ever received is never handed out again, even when a crash lost the
// entry before its commit (the page saw it live; its sender was never
// answered 2xx). Reads wait for the entries staged before them, so a page
// recovering at that moment finds every delivery that may have gone live.
type Stager interface {
	// Stage queues d as the next entry of d.Room and returns it with its
	// offset. durable waits until the entry is on disk and returns the
	// error Append would have returned; it must be called once, and
	// before Mark is called for the entry.
	Stage(ctx context.Context, d herald.Delivery) (e Entry, durable func(context.Context) error, err error)
}

// LiveMarker is implemented by a Journal that can add, to an entry it
// holds, pages that had its delivery live before it was journaled
// (herald.Delivery.LiveTo), so recovery on any node leaves it out for
// them. A cluster node needs it when an append it gave up on reached the
// journal after all (a Redis that stalled ran it on resuming), without
// the LiveTo the node recorded meanwhile.
type LiveMarker interface {
	// MarkLive adds pids to the LiveTo of room's entry at offset; those it
	// names already are kept once. An entry that retention already
	// removed is not an error.
	MarkLive(ctx context.Context, room string, offset uint64, pids []string) error
}

// Volatile is implemented by a Journal whose history ends with the
// process (the in-memory store): an entry it holds does not reach pages
// that come back after herald restarts.
type Volatile interface {
	Volatile()
}

// SessionLister is a journal that can list its live sessions at once: herald
// reads them at start to know which rooms had pages lately (a trigger for
// a page away while herald restarted is no guess at a code). The
// embedded store has it; a shared store with many nodes' sessions need
// not.
type SessionLister interface {
	LiveSessions(ctx context.Context) ([]Session, error)
}

// Entry is one journaled delivery with what became of it.
type Entry struct {
	// Offset is the entry's place in its room, from 1.
	Offset uint64 `json:"offset"`
	// Delivery is what was sent; Delivery.Offset equals Offset.
	Delivery herald.Delivery `json:"delivery"`
	// At is when the entry was appended.
	At time.Time `json:"at"`
	// Reached counts the pages the entry reached, live or replayed.
	Reached int `json:"reached"`
	// Acked counts the acknowledgements pages sent for it.
	Acked int `json:"acked"`
}

// Offsets returns the offsets of es, in their order (nil for none).
func Offsets(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Offset)
	}
	return out
}

// Session is what a page's private session id (Socket.IO's pid) stands for.
type Session struct {
	PID     string    `json:"pid"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
	// Since is the room's offset the page's session starts after. A page
	// that comes back with its pid but no offset received nothing in that
	// session (the client keeps the offset of the last alert it got), so
	// it resumes after Since.
	Since uint64 `json:"since,omitempty"`
	// Formerly is the session id the page came with when it was given
	// this one instead: a cluster node that could not look it up (Redis
	// away) greets the page as new. Deliveries that went live to Formerly
	// before they were journaled are not sent to this session again.
	Formerly string `json:"formerly,omitempty"`
	// SID is the page's Socket.IO socket id in this session: a page that
	// recovers it gets the same socket.id back, as from Node's server.
	SID string `json:"sid,omitempty"`
}

// Retention bounds each room's history: entries beyond MaxEntries or older
// than MaxAge are trimmed. Zero fields take the defaults.
type Retention struct {
	MaxEntries int           `json:"max_entries"`
	MaxAge     time.Duration `json:"max_age"`
}

// Default retention: the last 200 entries of a room, for a day.
const (
	DefaultMaxEntries = 200
	DefaultMaxAge     = 24 * time.Hour
)

// WithDefaults fills zero fields.
func (r Retention) WithDefaults() Retention {
	if r.MaxEntries <= 0 {
		r.MaxEntries = DefaultMaxEntries
	}
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultMaxAge
	}
	return r
}

// Stats is a store's size and health.
type Stats struct {
	Store   string `json:"store"`
	Epoch   string `json:"epoch"`
	Rooms   int    `json:"rooms"`
	Entries int    `json:"entries"`
	// Bytes is the store's size on disk or in memory, where known.
	Bytes int64 `json:"bytes"`
	// AppendErrors counts appends that failed since start.
	AppendErrors uint64 `json:"append_errors"`
	// Commits counts the group commits of a store that has them (bolt)
	// and CommitOps the writes they carried: their ratio is the mean
	// batch, which grows with load.
	Commits   uint64 `json:"commits,omitempty"`
	CommitOps uint64 `json:"commit_ops,omitempty"`
	// LastError is the most recent store failure, "" when healthy.
	LastError string `json:"last_error,omitempty"`
}

// ErrClosed is returned by every method once Close was called.
var ErrClosed = errors.New("journal: closed")

// Position is where a page stands in its room's history, as the page sees
// it: the last argument of every event it received, an opaque string to
// the Socket.IO client ("<epoch>-<offset>").
type Position struct {
	Epoch  string
	Offset uint64
}

// String renders p as pages receive it.
func (p Position) String() string { return p.Epoch + "-" + strconv.FormatUint(p.Offset, 10) }

// ParsePosition reads a position a page sent back. The epoch may contain
// dashes; the offset is after the last one.
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 || len(s) > 128 {
		return Position{}, fmt.Errorf("journal: bad position %q", s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("journal: bad position %q: %w", s, err)
	}
	return Position{Epoch: s[:i], Offset: off}, nil
}
