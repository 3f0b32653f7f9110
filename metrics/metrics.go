// Package metrics exposes what herald does in the Prometheus text format,
// on a registry of its own (never the process-wide default one).
//
// Per-event figures (events by source and type, deliveries, pages reached,
// ingress-to-page latency) come from a router.Observer and cost a few map
// lookups and atomic adds per event; everything else (drops, unrouted,
// expression errors, ingress refusals, reloads, pages connected, journal
// size) is read from its owner at scrape time and costs nothing between
// scrapes.
//
// No code ever appears in a label: codes are secrets and unbounded. Event
// types come from outside, so each source keeps at most MaxTypes distinct
// type labels and counts the rest as "other".
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/router"
)

// Bounds on label values that come from outside.
const (
	MaxSources = 32
	MaxTypes   = 64
	// MaxLabelLen is the longest event type kept as a label value.
	MaxLabelLen = 64
	// Other stands for every value past the bound.
	Other = "other"
)

// Options says where the scrape-time figures come from.
type Options struct {
	// Status reads the router's rules, event and ingress counters
	// (Router.Status). Required.
	Status func() router.Status
	// Pages lists connected pages; nil leaves herald_pages_connected out.
	Pages egress.Lister
	// Journal reports the journal's size and health; nil (no journal)
	// leaves the herald_journal_* series out.
	Journal func() journal.Stats
	// JournalHealthy reports whether alerts go out with their history
	// (herald_journal_healthy); nil takes a store that reports no error
	// as healthy.
	JournalHealthy func() bool
	// JournalLag reports how far the journal runs behind the alerts
	// (herald_journal_commit_wait_seconds, herald_journal_marks_queued);
	// nil leaves them out.
	JournalLag func() router.JournalLag
	// Cluster reports the node's link to Redis (cluster mode); nil leaves
	// the herald_cluster_* series out.
	Cluster func() Cluster
}

// Cluster is a cluster node's link to Redis, as the metrics show it.
type Cluster struct {
	// Connected is true while the node's Redis subscription is up.
	Connected bool
	// Disconnects counts subscription losses; LocalOnly the deliveries
	// handed to this node's pages only while Redis was away; Resynced those
	// read back from the journal after a reconnect; Duplicates the second
	// copies dropped before reaching a page.
	Disconnects, LocalOnly, Resynced, Duplicates uint64
	// RoundTrips counts the Redis pipelines that carried deliveries.
	RoundTrips uint64
	// OutboxWaiting is the deliveries waiting for Redis to be journaled;
	// OutboxJournaled and OutboxDropped those journaled late and given up.
	OutboxWaiting                  int
	OutboxJournaled, OutboxDropped uint64
}

// Metrics is herald's registry plus the observer that feeds it.
type Metrics struct {
	reg        *prometheus.Registry
	events     *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	pages      *prometheus.CounterVec
	unreached  *prometheus.CounterVec
	latency    prometheus.Histogram

	mu     sync.RWMutex
	byPair map[[2]string]prometheus.Counter // source, type → events counter
	bySrc  map[string]*sourceCounters
	types  map[string]int // distinct types per source
}

type sourceCounters struct{ deliveries, pages, unreached prometheus.Counter }

// New builds the registry.
func New(opts Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_total", Help: "Events published by ingresses, by source (ingress instance) and type.",
		}, []string{"source", "type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_total", Help: "Deliveries the rules produced, by source.",
		}, []string{"source"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_pages_total", Help: "Pages reached, summed over deliveries, by source.",
		}, []string{"source"}),
		unreached: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_unreached_total", Help: "Deliveries that reached no page, by source.",
		}, []string{"source"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_ingress_to_page_seconds",
			Help:    "Time from an ingress accepting an event to its last delivery handed to the pages.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		byPair: map[[2]string]prometheus.Counter{},
		bySrc:  map[string]*sourceCounters{},
		types:  map[string]int{},
	}
	m.reg.MustRegister(m.events, m.deliveries, m.pages, m.unreached, m.latency,
		&scraped{opts: opts},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry behind Handler, for tests and embedding.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe implements router.Observer.
func (m *Metrics) Observe(o router.Observation) {
	ev, res := &o.Event, &o.Result
	events, src := m.counters(ev.Source, ev.Type)
	events.Inc()
	if len(res.Deliveries) == 0 {
		return
	}
	src.deliveries.Add(float64(len(res.Deliveries)))
	total := 0
	for i := range res.Deliveries {
		n := o.Pages.At(i)
		total += n
		if n == 0 {
			src.unreached.Inc()
		}
	}
	src.pages.Add(float64(total))
	m.latency.Observe(o.Done.Sub(ev.Received).Seconds())
}

// counters finds the cached counters for a source and type, creating them
// on first sight within the bounds.
func (m *Metrics) counters(source, typ string) (prometheus.Counter, *sourceCounters) {
	key := [2]string{source, typ}
	m.mu.RLock()
	c, ok := m.byPair[key]
	s := m.bySrc[source]
	m.mu.RUnlock()
	if ok && s != nil {
		return c, s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.bySrc[source]; s == nil {
		label := source
		if len(m.bySrc) >= MaxSources {
			label = Other
		}
		s = &sourceCounters{
			deliveries: m.deliveries.WithLabelValues(label),
			pages:      m.pages.WithLabelValues(label),
			unreached:  m.unreached.WithLabelValues(label),
		}
		if label != Other {
			m.bySrc[source] = s
		}
	}
	if c, ok = m.byPair[key]; ok {
		return c, s
	}
	srcLabel, typLabel := source, typ
	if _, known := m.bySrc[source]; !known {
		srcLabel, typLabel = Other, Other
	} else if m.types[source] >= MaxTypes || !labelLike(typ) {
		typLabel = Other
	}
	c = m.events.WithLabelValues(srcLabel, typLabel)
	if typLabel != Other {
		m.byPair[key] = c
		m.types[source]++
	}
	return c, s
}

// labelLike reports whether an event type from outside is fit to be a
// label value: short, valid UTF-8, no control characters. Anything else (a
// 200 KB name sent to /notify, a newline) is counted as "other" and takes
// none of the source's MaxTypes slots.
func labelLike(s string) bool {
	if s == "" || len(s) > MaxLabelLen || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

var _ router.Observer = (*Metrics)(nil)
