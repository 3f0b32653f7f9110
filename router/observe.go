package router

import (
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/rules"
)

// Observer learns what became of every published event: the dashboard's
// live event list and /metrics are observers. Observe is called once per
// event, synchronously on the publishing goroutine, after every delivery
// was handed to egress; it must be quick and must never block (hand the
// observation to a bounded buffer, or count it). Calls are concurrent.
//
// The observation shares the event's maps and the result's slices with the
// router: an observer may keep them (neither is modified after Publish)
// but must not modify them. With no observer configured the router does
// none of this work.
type Observer interface {
	Observe(Observation)
}

// Observation is one published event and its fate.
type Observation struct {
	// Event is the event as the ingress published it (ID and Received
	// filled in). It may hold personal data and codes: whoever shows it
	// must filter it.
	Event herald.Event
	// Result is what the rules made of it: deliveries, matched rules,
	// dropped or unrouted, expression errors.
	Result rules.Result
	// Generation is the rules generation that routed the event.
	Generation uint64
	// Pages counts the pages each delivery reached, in the order of
	// Result.Deliveries.
	Pages PageCounts
	// Done is when the last delivery was handed over; Done minus
	// Event.Received is the ingress-to-page latency.
	Done time.Time
}

// Observers fans one observation out to several observers, in order.
type Observers []Observer

// Observe implements Observer.
func (os Observers) Observe(o Observation) {
	for _, ob := range os {
		ob.Observe(o)
	}
}

// PageCounts holds one count per delivery. Events rarely fan out to more
// than a few rooms, so the first counts live inline and an observation
// costs no allocation.
type PageCounts struct {
	inline [4]int
	more   []int
	n      int
}

// Add adds n pages to delivery i.
func (p *PageCounts) Add(i, n int) {
	p.n = max(p.n, i+1)
	if i < len(p.inline) {
		p.inline[i] += n
		return
	}
	for len(p.more) <= i-len(p.inline) {
		p.more = append(p.more, 0)
	}
	p.more[i-len(p.inline)] += n
}

// At returns the pages delivery i reached.
func (p PageCounts) At(i int) int {
	if i < len(p.inline) {
		return p.inline[i]
	}
	if j := i - len(p.inline); j < len(p.more) {
		return p.more[j]
	}
	return 0
}

// observe reports a published event to the observer, if there is one.
func (r *Router) observe(snap *snapshot, ev herald.Event, res rules.Result, pages PageCounts) {
	if r.opts.Observer == nil {
		return
	}
	r.opts.Observer.Observe(Observation{Event: ev, Result: res, Generation: snap.gen, Pages: pages, Done: time.Now()})
}
