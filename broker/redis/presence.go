package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/rediswire"
)

// presenceScript writes this node's field of a room's presence hash and
// drops the fields of nodes that stopped renewing theirs.
//
//	KEYS[1] presence hash   ARGV[1] node   ARGV[2] "<pages>:<expiry ms>"
//	ARGV[3] now ms          ARGV[4] key expiry ms
var presenceScript = goredis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local exp = tonumber(string.match(all[i + 1], ':(%d+)$')) or 0
  if exp < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// presence keeps this node's presence records in Redis.
type presence struct {
	b     *Broker
	nudge chan struct{} // a room changed: write now (Broker.RoomsChanged)

	mu        sync.Mutex // serialises syncs
	written   map[string]int
	renewed   time.Time
	listing   string
	disconnAt time.Time
	// fullOwed: a full write failed (the rewrite after a reconnect), so
	// what written says Redis holds may be gone; the next sync is full.
	fullOwed bool
}

func newPresence(b *Broker) *presence {
	return &presence{b: b, nudge: make(chan struct{}, 1), written: map[string]int{}}
}

// nudgeGap spaces the writes nudges ask for: a burst of pages joining (a
// reconnect storm after a node died) shares one write per gap. A lone
// page's join is written at once; the gap only paces what follows it.
const nudgeGap = 50 * time.Millisecond

func (p *presence) key(room string) string {
	return rediswire.RoomTag(p.b.opts.Prefix, room) + rediswire.RoomPresence
}
func (p *presence) nodeKey(node string) string { return p.b.opts.Prefix + "node:" + node }
func (p *presence) nodesKey() string           { return p.b.opts.Prefix + "nodes" }

// run syncs every PresenceInterval, and soon after a nudge, until ctx
// ends.
func (p *presence) run(ctx context.Context) {
	t := time.NewTicker(p.b.opts.PresenceInterval)
	defer t.Stop()
	for {
		nudged := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.nudge:
			nudged = true
		}
		if !p.b.connected.Load() {
			continue
		}
		if err := p.sync(ctx, false); err != nil && ctx.Err() == nil {
			p.b.log.Debug("redis broker: presence write failed", "err", err)
		}
		if nudged {
			select {
			case <-ctx.Done():
				return
			case <-time.After(nudgeGap):
			}
		}
	}
}

// RoomsChanged tells the broker a page joined or left a room on this node
// (egress.RoomWatcher): its presence is written within a round trip or
// two, not at the next PresenceInterval, so /notify on another node counts
// a page that has just registered. It never blocks.
func (b *Broker) RoomsChanged() {
	select {
	case b.pres.nudge <- struct{}{}:
	default: // a write is already due
	}
}

// sync writes the rooms whose page count changed since the last write (all
// of them when full, or when a third of the TTL passed), removes the rooms
// this node left, and renews the node's listing.
func (p *presence) sync(ctx context.Context, full bool) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The first command on a connection Redis dropped can fail after it is
	// back (go-redis checks idle connections on Unix only): a full write
	// that failed is made again at the next poll, not a third of the TTL
	// later, when the rooms' counts have not changed meanwhile.
	full = full || p.fullOwed
	defer func() { p.fullOwed = full && err != nil }()
	// The listing (admin /clients) is taken before the room counts and
	// written after them, so once /clients shows a page, /notify's count
	// includes it. (On a Redis Cluster one pipeline runs on every shard
	// at once: the listing goes in a second one.)
	listing := "[]"
	if p.b.opts.Listing != nil {
		listing = string(p.b.opts.Listing())
	}
	var rooms map[string]int
	if p.b.opts.Rooms != nil {
		rooms = p.b.opts.Rooms()
	}
	now := time.Now()
	ttl := p.b.opts.PresenceTTL
	if now.Sub(p.renewed) >= ttl/3 {
		full = true
	}
	exp := now.Add(ttl).UnixMilli()
	node := p.b.opts.NodeID
	pipe := p.b.c.Pipeline()
	n := 0
	for room, pages := range rooms {
		if pages <= 0 || (!full && p.written[room] == pages) {
			continue
		}
		// EVAL, not EVALSHA: a pipeline cannot fall back when a restarted
		// Redis lost the script, and presence writes are rare.
		presenceScript.Eval(ctx, pipe, []string{p.key(room)}, node,
			strconv.Itoa(pages)+":"+strconv.FormatInt(exp, 10), now.UnixMilli(), (2 * ttl).Milliseconds())
		n++
	}
	for room := range p.written {
		if rooms[room] <= 0 {
			pipe.HDel(ctx, p.key(room), node)
			n++
		}
	}
	if n > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	if full || listing != p.listing {
		pipe := p.b.c.Pipeline()
		pipe.Set(ctx, p.nodeKey(node), listing, ttl)
		pipe.ZAdd(ctx, p.nodesKey(), goredis.Z{Score: float64(exp), Member: node})
		pipe.ZRemRangeByScore(ctx, p.nodesKey(), "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	} else if n == 0 {
		return nil
	}
	p.written = map[string]int{}
	maps.Copy(p.written, rooms)
	for room, pages := range p.written {
		if pages <= 0 {
			delete(p.written, room)
		}
	}
	if full {
		p.renewed = now
	}
	p.listing = listing
	p.b.seen.keep(p.written)
	return nil
}

// withdraw removes this node's presence (clean shutdown).
func (p *presence) withdraw(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pipe := p.b.c.Pipeline()
	for room := range p.written {
		pipe.HDel(ctx, p.key(room), p.b.opts.NodeID)
	}
	pipe.Del(ctx, p.nodeKey(p.b.opts.NodeID))
	pipe.ZRem(ctx, p.nodesKey(), p.b.opts.NodeID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis broker: withdraw presence: %w", err)
	}
	p.written = map[string]int{}
	return nil
}

// livePages sums the live fields of a presence hash, except node skip's.
func livePages(fields map[string]string, now time.Time, skip string) int {
	ms := now.UnixMilli()
	total := 0
	for node, v := range fields {
		if node == skip {
			continue
		}
		pages, exp, ok := strings.Cut(v, ":")
		if !ok {
			continue
		}
		n, err1 := strconv.Atoi(pages)
		e, err2 := strconv.ParseInt(exp, 10, 64)
		if err1 == nil && err2 == nil && e >= ms {
			total += n
		}
	}
	return total
}

// Pages reports the pages in room on every live node.
func (b *Broker) Pages(ctx context.Context, room string) (int, error) {
	fields, err := b.c.HGetAll(ctx, b.pres.key(room)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis broker: presence: %w", err)
	}
	return livePages(fields, time.Now(), ""), nil
}

// Listings returns each live node's page listing (the JSON arrays its
// Options.Listing produced), keyed by node id: the admin /clients of the
// whole cluster.
func (b *Broker) Listings(ctx context.Context) (map[string]json.RawMessage, error) {
	nodes, err := b.c.ZRangeByScore(ctx, b.pres.nodesKey(), &goredis.ZRangeBy{
		Min: strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis broker: list nodes: %w", err)
	}
	pipe := b.c.Pipeline()
	gets := make([]*goredis.StringCmd, len(nodes))
	for i, n := range nodes {
		gets[i] = pipe.Get(ctx, b.pres.nodeKey(n))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("redis broker: read listings: %w", err)
	}
	out := make(map[string]json.RawMessage, len(nodes))
	for i, n := range nodes {
		if v, err := gets[i].Result(); err == nil && json.Valid([]byte(v)) {
			out[n] = json.RawMessage(v)
		}
	}
	return out, nil
}
