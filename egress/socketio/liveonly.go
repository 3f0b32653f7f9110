package socketio

import (
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// liveOnly remembers which pages got a delivery live without an offset,
// naming them (herald.Delivery.LiveTo): a cluster node does so while Redis
// is away. The journal's entry of such a delivery usually names them too
// (the router's outbox journals it with LiveTo), but not at once when the
// append that timed out reached a Redis that had stalled and ran it on
// resuming: the entry was written before the alert went live, and names
// them only once the outbox has found it there (journal.LiveMarker), a
// retry later. A page of this node that had the alert live, and recovers
// meanwhile from a position before that entry, would get it again by
// catch-up; the sink skips it instead.
//
// It only holds deliveries made while Redis was away, for the recovery
// window, and at most maxLiveOnly of them: outside an outage it costs a
// length check per delivery.
type liveOnly struct {
	mu    sync.Mutex
	m     map[string]liveOnlyRec
	order []string // keys, oldest first
}

type liveOnlyRec struct {
	pids []string
	at   time.Time
}

// maxLiveOnly bounds the deliveries remembered: an outage with more than
// that many alerts on one node has outlasted any page's patience.
const maxLiveOnly = 10_000

func liveOnlyKey(d herald.Delivery) string { return d.EventID + "\x00" + d.Room + "\x00" + d.Name }

// note records d's pages if d went live without an offset and names them.
func (l *liveOnly) note(d herald.Delivery, now time.Time, window time.Duration) {
	if d.Offset != 0 || d.Replayed || len(d.LiveTo) == 0 || d.EventID == "" {
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
	if _, ok := l.m[k]; !ok {
		l.order = append(l.order, k)
	}
	l.m[k] = liveOnlyRec{pids: slices.Clone(d.LiveTo), at: now}
}

// had reports whether p got the journaled delivery d live, before it was
// journaled, from this process.
func (l *liveOnly) had(p *page, d herald.Delivery) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) == 0 {
		return false
	}
	rec, ok := l.m[liveOnlyKey(d)]
	return ok && p.hadLive(rec.pids)
}
