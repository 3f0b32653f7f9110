// Package rediswire is what herald's Redis packages (journal/redis,
// broker/redis) must agree on: where a room's keys live and how a delivery
// travels on the Pub/Sub channel. It exists so neither package imports the
// other.
package rediswire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/heraldhq/herald"
)

// DefaultPrefix starts every key and channel herald uses.
const DefaultPrefix = "herald:"

// RoomTag is the start of every key of room: prefix + "{r:H}:", with H a
// hash of the room. The hash tag puts a room's keys in one Redis Cluster
// slot, so one Lua script may touch them all, and keeps the room (a code,
// which is a secret) out of key names.
func RoomTag(prefix, room string) string {
	sum := sha256.Sum256([]byte(room))
	return prefix + "{r:" + hex.EncodeToString(sum[:12]) + "}:"
}

// The keys of a room, after its RoomTag.
const (
	RoomMeta     = "m" // hash: e = epoch, n = last offset
	RoomLog      = "l" // stream: the history
	RoomCounters = "c" // hash: pages reached and acks per offset
	RoomPresence = "p" // hash: node id → "<pages>:<expiry ms>"
)

// Channel is the Pub/Sub channel every node's deliveries travel on.
func Channel(prefix string) string { return prefix + "deliveries" }

// Encode frames d for the channel: "<epoch>-<offset>\n<delivery JSON>"
// (a journal position), or "<offset>\n<delivery JSON>" when epoch is "".
// The position travels outside the JSON so the journal's append script
// can put the offset it allocates in front of JSON encoded before it was
// known; the epoch lets a receiver tell offsets of a lost history from the
// new one's.
func Encode(d herald.Delivery, epoch string) ([]byte, error) {
	off := d.Offset
	d.Offset = 0
	data, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode delivery: %w", err)
	}
	out := make([]byte, 0, len(epoch)+len(data)+22)
	if epoch != "" {
		out = append(append(out, epoch...), '-')
	}
	out = strconv.AppendUint(out, off, 10)
	out = append(out, '\n')
	return append(out, data...), nil
}

// Decode reads a message Encode (or the append script) framed.
func Decode(msg []byte) (d herald.Delivery, epoch string, err error) {
	head, body, ok := bytes.Cut(msg, []byte{'\n'})
	if !ok {
		return herald.Delivery{}, "", errors.New("delivery message without a position line")
	}
	num := head
	if i := bytes.LastIndexByte(head, '-'); i >= 0 {
		epoch, num = string(head[:i]), head[i+1:]
		if epoch == "" {
			return herald.Delivery{}, "", errors.New("delivery message with an empty epoch")
		}
	}
	off, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		return herald.Delivery{}, "", fmt.Errorf("delivery message offset: %w", err)
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return herald.Delivery{}, "", fmt.Errorf("delivery message: %w", err)
	}
	d.Offset = off
	return d, epoch, nil
}

// Counts hands the page count that the journal's append script read from
// a room's presence hash (RoomPresence, in the same slot as the room's
// log) to the broker, so a journaled delivery is appended, published and
// counted in one round trip: journal/redis puts a count with every append
// (Options.Counts), broker/redis takes it when the delivery is published
// (Options.Counts). One Counts belongs to one node.
type Counts struct {
	node string
	mu   sync.Mutex
	m    map[countKey]Count
}

// Count is a room's pages across nodes as a presence hash showed them:
// Others on the live fields of other nodes, Own on this node's field
// (which lags this node's pages by up to the presence interval).
type Count struct{ Others, Own int }

type countKey struct {
	room   string
	offset uint64
}

// maxCounts bounds what Counts holds: a count is taken right after its
// append, so only counts whose delivery was never published (the broker
// closed or lost Redis in between) stay, and they are dropped in bulk.
const maxCounts = 4096

// NewCounts is the hand-off of node's counts.
func NewCounts(node string) *Counts { return &Counts{node: node, m: map[countKey]Count{}} }

// Node is the node whose presence field is reported apart (Count.Own).
func (c *Counts) Node() string { return c.node }

// Put records the count read when room's entry offset was appended.
func (c *Counts) Put(room string, offset uint64, n Count) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCounts {
		clear(c.m)
	}
	c.m[countKey{room, offset}] = n
}

// Take returns and forgets the count of room's entry offset.
func (c *Counts) Take(room string, offset uint64) (Count, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := countKey{room, offset}
	n, ok := c.m[k]
	if ok {
		delete(c.m, k)
	}
	return n, ok
}
