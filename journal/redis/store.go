package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outage"
	"github.com/heraldhq/herald/internal/rediswire"
	"github.com/heraldhq/herald/journal"
)

// DefaultPrefix starts every key herald writes.
const DefaultPrefix = rediswire.DefaultPrefix

// Options configures a Store.
type Options struct {
	// Prefix starts every key; "" is DefaultPrefix. Two herald clusters on
	// one Redis need different prefixes. It may not contain '{' or '}'.
	Prefix string
	// Retention bounds each room's history; zero fields take the defaults.
	Retention journal.Retention
	// Log receives the store's state changes; nil discards.
	Log *slog.Logger
	// Now is the clock for expiry and age filters; nil is time.Now.
	Now func() time.Time
	// CheckInterval is how often the epoch key is checked and the stats
	// refreshed in the background; 0 is one second.
	CheckInterval time.Duration
	// Publish makes Append also publish the delivery, with its offset, on
	// the cluster's delivery channel (rediswire.Channel) in the same
	// script: the Redis broker then carries a room's deliveries to every
	// node in offset order, whichever node appended them. broker/redis
	// must be told (its JournalPublishes option).
	Publish bool
	// Counts, when set, makes every append also read the room's presence
	// hash (broker/redis's) and hand the count to the broker through
	// Counts, in the same round trip: the broker then reports the pages
	// of a journaled delivery without one of its own. Give the broker the
	// same Counts.
	Counts *rediswire.Counts
}

// Store is the Redis journal. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	c       goredis.UniversalClient
	prefix  string
	channel string // "" when Append does not publish
	log     *slog.Logger
	now     func() time.Time

	retention atomic.Pointer[journal.Retention]
	epoch     atomic.Pointer[string]
	epochMu   sync.Mutex    // serialises epoch refreshes
	base      atomic.Uint64 // offsets of rooms created in this epoch start above it

	appendErrors atomic.Uint64
	lastErr      atomic.Pointer[string]
	stats        atomic.Pointer[scan]
	interval     time.Duration
	dirty        atomic.Bool // written since the last stats scan
	scanMu       sync.Mutex
	outage       outage.Pacer // paces the log of a failing store

	counts  *rediswire.Counts
	clock   lateClock // Redis's clock, for the appends' deadlines
	appends *batcher  // appends share round trips
	marks   *batcher  // marks share round trips, one script call per room
	halt    chan struct{}

	closed atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}
}

var _ journal.Journal = (*Store)(nil)

// Open checks that Redis answers, reads (or mints) the epoch and starts
// the background check. The client stays the caller's: Close does not
// close it, since the broker shares it.
func Open(ctx context.Context, c goredis.UniversalClient, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redis journal: prefix %q may not contain { or }", opts.Prefix)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	s := &Store{c: c, prefix: opts.Prefix, log: opts.Log, now: opts.Now, done: make(chan struct{}),
		counts: opts.Counts, halt: make(chan struct{})}
	if opts.Publish {
		s.channel = rediswire.Channel(opts.Prefix)
	}
	s.SetRetention(opts.Retention)
	s.stats.Store(&scan{Stats: journal.Stats{Store: "redis"}})
	s.interval = opts.CheckInterval
	if _, err := s.refreshEpoch(ctx); err != nil {
		return nil, fmt.Errorf("redis journal: %w", err)
	}
	// Redis's clock, so the first append already carries a deadline.
	sent := time.Now()
	if t, err := c.Time(ctx).Result(); err == nil {
		s.clock.sample(sent, time.Now(), t.UnixMilli(), false)
	}
	s.appends, s.marks = newBatcher(c), s.markBatcher()
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.background(bg, opts.CheckInterval)
	go s.appends.run(s.halt)
	go s.marks.run(s.halt)
	return s, nil
}

// roomKeys are the keys of a room, in the scripts' order.
func (s *Store) roomKeys(room string) []string {
	tag := rediswire.RoomTag(s.prefix, room)
	return []string{tag + rediswire.RoomMeta, tag + rediswire.RoomLog, tag + rediswire.RoomCounters, tag + rediswire.RoomPresence}
}

func (s *Store) epochKey() string          { return s.prefix + "epoch" }
func (s *Store) eventKey(id string) string { return s.prefix + "ev:" + id }
func (s *Store) sessionKey(p string) string {
	return s.prefix + "s:" + p
}
func (s *Store) seenKey(k string) string { return s.prefix + "seen:" + k }

// Epoch names the history the node currently believes in.
func (s *Store) Epoch() string { return *s.epoch.Load() }

// RefreshEpoch reads the epoch key now (minting a new epoch when Redis
// lost it) instead of waiting for the background check: the Redis broker
// calls it before re-syncing a node after a reconnect.
func (s *Store) RefreshEpoch(ctx context.Context) (string, error) {
	e, err := s.refreshEpoch(ctx)
	if err != nil {
		return "", fmt.Errorf("redis journal: %w", err)
	}
	return e, nil
}

// refreshEpoch reads the epoch key, minting a new epoch when it is
// missing (the first node to notice wins; the others read its epoch).
func (s *Store) refreshEpoch(ctx context.Context) (string, error) {
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	// The key holds "<name>/<base>": rooms created in the epoch start
	// their offsets above base. A node that mints an epoch to replace one
	// it knew (Redis lost its data under running pages) takes a base above
	// any offset the lost history can have handed out, so a
	// live page that compares offsets without epochs never mistakes a new
	// alert for one it already has. A first epoch starts at 0 (offsets
	// from 1). The base is in milliseconds: a room would need more than a
	// thousand alerts a second, for the whole life of the lost epoch, to
	// have gone past it.
	fresh := newEpoch() + "/0"
	if s.epoch.Load() != nil {
		fresh = newEpoch() + "/" + strconv.FormatInt(s.now().UnixMilli(), 10)
	}
	val, err := s.c.SetArgs(ctx, s.epochKey(), fresh, goredis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		val = fresh // the key was missing: ours is the epoch now
	case err != nil:
		return "", fmt.Errorf("read epoch: %w", err)
	}
	name, baseText, _ := strings.Cut(val, "/")
	base, _ := strconv.ParseUint(baseText, 10, 64)
	if old := s.epoch.Load(); old == nil || *old != name {
		if old != nil {
			s.log.Warn("redis journal: history was lost (epoch key missing or changed); pages recovering from the old epoch start afresh",
				"old_epoch", *old, "epoch", name)
		}
		s.base.Store(base)
		s.epoch.Store(&name)
	}
	return name, nil
}

// newEpoch is a random name for a history.
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "r" + hex.EncodeToString(b[:])
}

// SetRetention changes how much history is kept, from the next append on.
func (s *Store) SetRetention(r journal.Retention) {
	r = r.WithDefaults()
	s.retention.Store(&r)
}

func (s *Store) ret() journal.Retention { return *s.retention.Load() }

// Append stores d as the next entry of its room: one round trip (the
// script and the event index, pipelined, and shared with the appends of
// other callers queued meanwhile) unless the room must first be created
// or the epoch re-read. It returns once Redis answered the script.
func (s *Store) Append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	if s.closed.Load() {
		return journal.Entry{}, journal.ErrClosed
	}
	e, err := s.append(ctx, d)
	if err != nil {
		s.appendErrors.Add(1)
		s.fail(err)
		return journal.Entry{}, fmt.Errorf("redis journal: append to a room: %w", err)
	}
	s.ok()
	s.dirty.Store(true)
	return e, nil
}

func (s *Store) append(ctx context.Context, d herald.Delivery) (journal.Entry, error) {
	d.Offset, d.Replayed = 0, false
	data, err := json.Marshal(d)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("encode delivery: %w", err)
	}
	keys := s.roomKeys(d.Room)
	r := s.ret()
	maxAge := strconv.FormatInt(r.MaxAge.Milliseconds(), 10)
	node := ""
	if s.counts != nil {
		node = s.counts.Node()
	}
	// Three tries cover: create the room, adopt a new epoch, append (and a
	// fourth, a clock estimate Redis said was wrong).
	for range 4 {
		epoch := s.Epoch()
		sent := time.Now()
		args := []any{epoch, r.MaxEntries, maxAge, data, s.channel, node, s.clock.deadline(ctx)}
		var script *goredis.Cmd
		err := s.appends.do(ctx, s.halt, &call{queue: func(pipe goredis.Pipeliner) {
			script = appendScript.EvalSha(ctx, pipe, keys, args...)
			if d.EventID != "" {
				pipe.RPush(ctx, s.eventKey(d.EventID), d.Room)
				pipe.PExpire(ctx, s.eventKey(d.EventID), r.MaxAge)
			}
		}})
		if err != nil {
			return journal.Entry{}, err
		}
		res, err := script.Slice()
		if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			res, err = appendScript.Run(ctx, s.c, keys, args...).Slice()
		}
		if err != nil {
			return journal.Entry{}, err
		}
		switch res[0] {
		case "ok":
			if len(res) < 5 {
				return journal.Entry{}, fmt.Errorf("append script answered %v", res)
			}
			off, at := res[1].(int64), res[2].(int64)
			s.clock.sample(sent, time.Now(), at, false)
			d.Offset = uint64(off)
			if s.counts != nil {
				others, _ := res[3].(int64)
				own, _ := res[4].(int64)
				s.counts.Put(d.Room, d.Offset, rediswire.Count{Others: int(others), Own: int(own)})
			}
			return journal.Entry{Offset: d.Offset, Delivery: d, At: time.UnixMilli(at)}, nil
		case "init", "epoch":
			// The room is new, or belongs to another epoch than ours:
			// read the epoch key (minting one if it was lost) and create
			// or reset the room under it.
			current, err := s.refreshEpoch(ctx)
			if err != nil {
				return journal.Entry{}, err
			}
			if res[0] == "epoch" && res[1] == current {
				continue // the room is right, our epoch was stale
			}
			if err := initScript.Run(ctx, s.c, keys, current, s.base.Load()).Err(); err != nil {
				return journal.Entry{}, fmt.Errorf("create room: %w", err)
			}
		case "late":
			// Answered, so in time: the clock estimate was wrong (a
			// clock stepped, a failover to another machine). Redis's
			// clock as it answered corrects it; the append goes again.
			// An answer after the caller's deadline says nothing about
			// the estimate: Redis ran it late (it stalled), and the round
			// trip spans the stall.
			if err := ctx.Err(); err != nil {
				return journal.Entry{}, err
			}
			now, _ := res[1].(int64)
			s.clock.sample(sent, time.Now(), now, true)
		default:
			return journal.Entry{}, fmt.Errorf("append script answered %v", res)
		}
	}
	return journal.Entry{}, errors.New("epoch kept changing during the append")
}

// After returns up to limit entries of room after offset after.
func (s *Store) After(ctx context.Context, room string, after uint64, limit int) ([]journal.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.read(ctx, room, "after", strconv.FormatUint(after+1, 10)+"-0", limit, time.Time{})
}

// Last returns the newest n entries of room, oldest first.
func (s *Store) Last(ctx context.Context, room string, n int) ([]journal.Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.read(ctx, room, "last", "", n, time.Time{})
}

// Pending returns the entries of room that reached no page, appended at
// or after since, oldest first.
func (s *Store) Pending(ctx context.Context, room string, since time.Time) ([]journal.Entry, error) {
	return s.read(ctx, room, "pending", "", s.ret().MaxEntries, since)
}

// read runs readScript and decodes its answer, oldest first.
func (s *Store) read(ctx context.Context, room, mode, from string, limit int, since time.Time) ([]journal.Entry, error) {
	if s.closed.Load() {
		return nil, journal.ErrClosed
	}
	cutoff := s.now().Add(-s.ret().MaxAge)
	if since.After(cutoff) {
		cutoff = since
	}
	res, err := readScript.Run(ctx, s.c, s.roomKeys(room), mode, from, limit, cutoff.UnixMilli(), s.ret().MaxEntries).Slice()
	if err != nil {
		s.fail(err)
		return nil, fmt.Errorf("redis journal: read a room: %w", err)
	}
	s.ok()
	if len(res) == 0 {
		return nil, nil
	}
	out := make([]journal.Entry, 0, len(res))
	for _, item := range res {
		e, err := decodeEntry(item)
		if err != nil {
			return nil, fmt.Errorf("redis journal: %w", err)
		}
		out = append(out, e)
	}
	if mode != "after" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// decodeEntry reads one {id, delivery JSON, ms, reached, acked, live}
// item; live is "" or a JSON array of pids that had the entry live, added
// to the delivery's LiveTo (MarkLive).
func decodeEntry(item any) (journal.Entry, error) {
	f, ok := item.([]any)
	if !ok || len(f) != 6 {
		return journal.Entry{}, fmt.Errorf("bad entry %v", item)
	}
	id, _ := f[0].(string)
	data, _ := f[1].(string)
	at, _ := f[2].(int64)
	reached, err1 := strconv.Atoi(fmt.Sprint(f[3]))
	acked, err2 := strconv.Atoi(fmt.Sprint(f[4]))
	off, err3 := strconv.ParseUint(strings.TrimSuffix(id, "-0"), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return journal.Entry{}, fmt.Errorf("bad entry %q: %w", id, err)
	}
	var d herald.Delivery
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return journal.Entry{}, fmt.Errorf("entry %d: decode delivery: %w", off, err)
	}
	d.Offset = off
	if live, _ := f[5].(string); live != "" {
		var pids []string
		if err := json.Unmarshal([]byte(live), &pids); err != nil {
			return journal.Entry{}, fmt.Errorf("entry %d: decode its live pages: %w", off, err)
		}
		for _, pid := range pids {
			if !slices.Contains(d.LiveTo, pid) {
				d.LiveTo = append(d.LiveTo, pid)
			}
		}
	}
	return journal.Entry{Offset: off, Delivery: d, At: time.UnixMilli(at), Reached: reached, Acked: acked}, nil
}

// MarkLive implements journal.LiveMarker: the pids go to the entry's
// field in the room's counters hash, since a stream entry cannot change.
func (s *Store) MarkLive(ctx context.Context, room string, offset uint64, pids []string) error {
	if s.closed.Load() {
		return journal.ErrClosed
	}
	if len(pids) == 0 {
		return nil
	}
	b, err := json.Marshal(pids)
	if err != nil {
		return fmt.Errorf("redis journal: mark live pages: %w", err)
	}
	maxAge := s.ret().MaxAge.Milliseconds()
	if err := liveScript.Run(ctx, s.c, s.roomKeys(room), maxAge, offset, string(b)).Err(); err != nil {
		s.fail(err)
		return fmt.Errorf("redis journal: mark live pages: %w", err)
	}
	s.ok()
	return nil
}

// Find returns the entries made from one event, across rooms, oldest
// first. The rooms come from the event index; each room's retained
// history is read and filtered (an admin operation, not a hot path).
func (s *Store) Find(ctx context.Context, eventID string) ([]journal.Entry, error) {
	if s.closed.Load() {
		return nil, journal.ErrClosed
	}
	// The index lists rooms in append order (a room twice when an event
	// went to it twice).
	rooms, err := s.c.LRange(ctx, s.eventKey(eventID), 0, -1).Result()
	if err != nil {
		s.fail(err)
		return nil, fmt.Errorf("redis journal: find an event: %w", err)
	}
	var out []journal.Entry
	done := map[string]bool{}
	for _, room := range rooms {
		if done[room] {
			continue
		}
		done[room] = true
		entries, err := s.Last(ctx, room, s.ret().MaxEntries)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Delivery.EventID == eventID {
				out = append(out, e)
			}
		}
	}
	// Oldest first across rooms; stable keeps append order within a
	// millisecond.
	slicesSortStableByAt(out)
	return out, nil
}

// Mark adds to an entry's counters; an entry already trimmed is ignored.
// Concurrent marks share a round trip (the router records a batch of
// marks at once), with one script call per room.
func (s *Store) Mark(ctx context.Context, room string, offset uint64, reached, acked int) error {
	if s.closed.Load() {
		return journal.ErrClosed
	}
	if reached == 0 && acked == 0 {
		return nil
	}
	m := &markCall{room: room, offset: offset, reached: reached, acked: acked}
	err := s.marks.do(ctx, s.halt, &call{mark: m})
	if err == nil {
		err = m.err
	}
	if err != nil {
		s.fail(err)
		return fmt.Errorf("redis journal: mark an entry: %w", err)
	}
	s.ok()
	return nil
}

// Claim implements journal.Journal, in one script call, which keeps the
// token beside each entry it marks (c:<offset>).
func (s *Store) Claim(ctx context.Context, room, token string, offsets []uint64) ([]uint64, error) {
	if s.closed.Load() {
		return nil, journal.ErrClosed
	}
	if len(offsets) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+len(offsets))
	args = append(args, s.ret().MaxAge.Milliseconds(), token)
	for _, off := range offsets {
		args = append(args, off)
	}
	res, err := claimScript.Run(ctx, s.c, s.roomKeys(room), args...).StringSlice()
	if err != nil && !errors.Is(err, goredis.Nil) {
		s.fail(err)
		return nil, fmt.Errorf("redis journal: claim pending entries: %w", err)
	}
	s.ok()
	won := make([]uint64, 0, len(res))
	for _, r := range res {
		off, err := strconv.ParseUint(r, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis journal: claim pending entries: offset %q: %w", r, err)
		}
		won = append(won, off)
	}
	return won, nil
}

// fail records a store failure for Stats and logs it, paced: a Redis at
// its memory limit fails every other write as trimming frees a little.
func (s *Store) fail(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
	if tell, since := s.outage.Fail(s.now()); tell {
		args := []any{"err", err}
		if since > 0 {
			args = append(args, "failed_since_last_line", since)
		}
		s.log.Error("redis journal: store failing; live delivery goes on without history", args...)
	}
}

// ok clears the failure state after a success, logging the recovery of a
// failure it told.
func (s *Store) ok() {
	if !s.outage.Failing() {
		return
	}
	s.lastErr.Store(nil)
	if tell, _ := s.outage.Recover(s.now()); tell {
		s.log.Info("redis journal: store reachable again")
	}
}

// Close stops the background check. The client is left open.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	close(s.halt)
	<-s.done
	return nil
}
