package socketio

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio/internal/eio"
	"github.com/heraldhq/herald/journal/recovery"
)

// page is one connected page, whatever carries it: the protocol (WELCOME,
// REGISTER, handshake codes, the slow-page policy, and later recovery and
// acknowledgements) is written once against it, in protocol.go. Its
// connection only moves bytes.
type page struct {
	c         conn
	id        string
	connected time.Time
	address   string

	// Recovery (connection state recovery, issue 10) keeps its per-page
	// state here: the private session id the page was given at CONNECT
	// and the room offset of the last delivery it was sent. Both are set
	// by the protocol only: pid under rooms.mu like code (the session
	// refresh reads it), offset atomically.
	pid    string
	offset atomic.Uint64
	// first is the offset of the first journaled delivery the page was
	// sent in its room: with offset, the span it got live (it was in the
	// room from then on). late lists the offsets it was sent out of
	// order, without a position, which moves neither: pending alerts
	// claimed late (Sink.retryPending) and journaled deliveries that
	// reached this node late (herald.Delivery.Late); another copy of one
	// is not sent again. It keeps the newest maxLate. Both are reset with
	// offset when the page changes rooms.
	first atomic.Uint64
	late  atomic.Pointer[[]uint64]
	// claimedPID is the session id the page came back with when it did
	// not get that session back: a cluster node that could not ask Redis
	// greets it as new. Its alerts of that session may still be journaled
	// late, naming it (LiveTo); the page gets them once. Unverified, it
	// can only keep its own page from an alert. Saved with the new
	// session (Session.Formerly), so it holds after that one recovers too.
	// Set with pid.
	claimedPID string
	// cameOffset and cameCode are the offset and code the page sent at
	// CONNECT, kept for Keeper.Owed. Set with pid.
	cameOffset, cameCode string
	// resumed is what recovery decided before the CONNECT answer (native
	// path), consumed by connected; resumeFailed says the journal did not
	// answer (the page is owed its pending alerts).
	resumed      *recovery.Result
	resumeFailed bool
	// acks is set for a page that asked (auth {acks: true}) to acknowledge
	// journaled alerts once shown; set before the page joins a room.
	acks bool
	// unacked is what the page was sent with an ack id and has not
	// acknowledged: given back when it goes (unacked.go).
	unacked unacked
	// held is set while a recovering page catches up (Sink.catchUp): live
	// deliveries wait in it.
	held atomic.Pointer[held]

	// code, since and gone are guarded by rooms.mu. since is what the
	// page's session in its room starts after (recovery.Result.Since),
	// moved on by the page's acknowledgements (Sink.acked).
	code  string
	since uint64
	gone  bool
}

// conn is a page's connection as the page model sees it. It is implemented
// once for the library's socket (libConn: long-polling, upgrades) and once
// for the native WebSocket connection (nativeConn). Methods are safe for
// concurrent use and never block on the page.
type conn interface {
	// send queues one encoded delivery, shared by every page of a room;
	// with ack, the page is asked to acknowledge it (ack id = offset).
	// send holds the slow-page policy: a connection that has more than its
	// bound waiting is closed at once (the page reconnects and registers
	// again) rather than slowing anyone else or holding memory without
	// end. It reports false if the connection is closed, or was for that.
	send(e *outgoing, ack bool) bool
	// emit sends one event to this page alone (WELCOME, ERROR).
	emit(name string, args ...any) bool
	// close ends the connection; the page's disconnect follows.
	close(reason string)
	// transport names how the page is connected ("polling", "websocket").
	transport() string
}

// limits is the slow-page policy every page gets, whatever its transport.
type limits struct {
	// queueBytes is how much may wait for a page before it is cut off.
	queueBytes int
	// writeTimeout is how long one write to a page may take.
	writeTimeout time.Duration
}

// Defaults of the slow-page policy and the code-length limit.
const (
	defaultQueueBytes   = 4 << 20
	defaultWriteTimeout = 10 * time.Second
	maxCodeBytes        = herald.MaxCodeBytes
)

// deliver sends e to p, under the slow-page policy of p's connection
// (conn.send), unless p already has it or catches up (page.hold), and
// reports whether p counts as reached.
func (p *page) deliver(e *outgoing) bool {
	if held, counted := p.hold(e); held {
		return counted
	}
	if p.alreadySent(e) {
		return true
	}
	return p.send(e)
}

// alreadySent reports whether p already got journaled delivery e while
// catching up (the seam between history and live), or got it live before
// it was journaled (LiveTo: a cluster node that lost Redis, maybe this
// process before a restart; or liveOnly: this process, when the entry
// does not say), or got it as a late pending alert, so it is
// not sent twice; otherwise it moves p's position to e. Such a delivery
// counts as reached.
//
// A delivery without an offset is live only (its LiveTo lists the pages it
// goes to now). A journaled one that came after later ones (Late:
// broker/redis fills a hole so) goes without a position: it moves neither
// offset nor first, is noted in late, and is skipped by the pages that
// had it live before it was journaled or were sent it late already.
func (p *page) alreadySent(e *outgoing) bool {
	off := e.d.Offset
	if off == 0 {
		return e.d.Replayed && p.hadLive(e.d.LiveTo)
	}
	if e.d.Late {
		if p.sentLate(off) || p.hadLive(e.d.LiveTo) || p.hadLive(e.liveOnly) {
			return true
		}
		p.noteLate(off)
		return false
	}
	if off <= p.offset.Load() {
		return true
	}
	p.offset.Store(off)
	if p.first.Load() == 0 {
		p.first.Store(off)
	}
	if p.sentLate(off) {
		return true // sent out of order before
	}
	return p.hadLive(e.d.LiveTo) || p.hadLive(e.liveOnly)
}

// maxLate bounds the offsets a page remembers sending out of order (late):
// more than that many in one room at once means an outage longer than any
// page's patience.
const maxLate = 1024

// sentLate reports whether p was sent the delivery at off out of order.
func (p *page) sentLate(off uint64) bool {
	late := p.late.Load()
	return late != nil && slices.Contains(*late, off)
}

// noteLate adds off to the offsets p was sent out of order, keeping the
// newest maxLate. Deliveries of a room reach a page one at a time, but a
// late pending claim (sendLate) may race them, so it swaps a copy in.
func (p *page) noteLate(offs ...uint64) {
	for {
		old := p.late.Load()
		var l []uint64
		if old != nil {
			l = slices.Clone(*old)
		}
		l = append(l, offs...)
		if len(l) > maxLate {
			l = l[len(l)-maxLate:]
		}
		if p.late.CompareAndSwap(old, &l) {
			return
		}
	}
}

// hadLive reports whether p is one of the pages named in liveTo, the
// pages a delivery went to live before it was journaled (LiveTo is empty
// but for deliveries journaled late; the pids are set before the page
// joins a room).
func (p *page) hadLive(liveTo []string) bool {
	return len(liveTo) > 0 && (p.pid != "" && slices.Contains(liveTo, p.pid) ||
		p.claimedPID != "" && slices.Contains(liveTo, p.claimedPID))
}

// asksAck reports whether p gets e with an acknowledgement id: pages that
// ack get one for every journaled alert.
func (p *page) asksAck(e *outgoing) bool { return p.acks && e.d.Offset != 0 }

// outgoing is one delivery, encoded at most once per transport and shared
// by every page of the room.
type outgoing struct {
	d   herald.Delivery
	pos string // the page-visible journal position, "" when not journaled
	// liveOnly are the pages that had d live before it was journaled, as
	// this process sent it (liveOnly.pidsOf): the journaled copy names
	// none when a stalled Redis ran its append late.
	liveOnly []string

	l       []any
	native  nativeEncoding
	library libraryEncoding
	// batch, when set, takes native pages' writes, made together when the
	// delivery has gone through the room (Deliver).
	batch *eio.Batch
}

// list is the event as pages receive it: its name, the payload, the meta
// and, for journaled deliveries, the position (what Socket.IO recovery
// sends back). It is built once per delivery, for every transport.
func (e *outgoing) list() []any {
	if e.l == nil {
		if e.pos != "" {
			e.l = []any{e.d.Name, payloadOf(e.d), e.d.Meta(), e.pos}
		} else {
			e.l = []any{e.d.Name, payloadOf(e.d), e.d.Meta()}
		}
	}
	return e.l
}

// payloadOf is the first emit argument: pages of the original service read fields of it, so
// it is never null.
func payloadOf(d herald.Delivery) map[string]any {
	if d.Payload == nil {
		return map[string]any{}
	}
	return d.Payload
}
