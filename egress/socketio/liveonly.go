package socketio

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// liveOnly remembers which pages this process sent a delivery without an
// offset: a cluster node does so while Redis is away (or stalls), and a
// node whose journal fails. It is what the pages got, not who was in the
// room when the delivery was published: a delivery may wait seconds for a
// stalled Redis while pages come and go.
//
// The router's outbox asks for them (SentLive) to journal the delivery
// late naming them (herald.Delivery.LiveTo). Until then, and when the
// journal holds an entry that does not name them (a stalled Redis ran an
// append that had timed out, before the alert went live), the sink skips
// the journaled copy for them itself (pidsOf): on the live path, which
// broker/redis hands such a copy to for the pages that came since, and on
// recovery.
//
// It holds deliveries for the recovery window, at most maxLiveOnly of
// them: outside an outage it costs an atomic load per delivery.
type liveOnly struct {
	mu    sync.Mutex
	m     map[string]liveOnlyRec
	order []string // keys, oldest first
	// size is len(m), read without the lock: every journaled delivery
	// asks (pidsOf), and outside an outage the answer is none.
	size atomic.Int64
}

type liveOnlyRec struct {
	pids []string
	at   time.Time
}

// maxLiveOnly bounds the deliveries remembered: an outage with more than
// that many alerts on one node has outlasted any page's patience.
const maxLiveOnly = 10_000

func liveOnlyKey(d herald.Delivery) string { return d.EventID + "\x00" + d.Room + "\x00" + d.Name }

// records reports whether d is remembered once sent: a live delivery
// without an offset.
func (l *liveOnly) records(d herald.Delivery) bool {
	return d.Offset == 0 && !d.Replayed && d.EventID != ""
}

// note records that the pages pids were sent d (records(d) holds).
func (l *liveOnly) note(d herald.Delivery, pids []string, now time.Time, window time.Duration) {
	if len(pids) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.order) > 0 && (len(l.order) >= maxLiveOnly || now.Sub(l.m[l.order[0]].at) > window) {
		delete(l.m, l.order[0])
		l.order = l.order[1:]
	}
	if l.m == nil {
		l.m = map[string]liveOnlyRec{}
	}
	k := liveOnlyKey(d)
	rec, ok := l.m[k]
	if !ok {
		l.order = append(l.order, k)
	}
	for _, pid := range pids {
		if !slices.Contains(rec.pids, pid) {
			rec.pids = append(rec.pids, pid)
		}
	}
	rec.at = now
	l.m[k] = rec
	l.size.Store(int64(len(l.m)))
}

// sent returns the pages this process sent d, by its event, room and
// name, whatever its offset (nil when none).
func (l *liveOnly) sent(d herald.Delivery) []string {
	if l.size.Load() == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.m[liveOnlyKey(d)].pids)
}

// pidsOf returns the pages that had d, a journaled delivery, live before
// it was journaled, from this process (nil when none).
func (l *liveOnly) pidsOf(d herald.Delivery) []string {
	if d.Offset == 0 {
		return nil
	}
	return l.sent(d)
}
