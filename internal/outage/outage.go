// Package outage paces the log lines of a failure that may come and go:
// a disk that fills and is trimmed, a Redis at its memory limit. Each
// failure and each success after one would otherwise be a line of its
// own, and a store that fails every other write would bury the log.
//
// The rule: an outage's first failure is told at once, later ones at most
// once per Every (with how many failed since the last line), and the
// first success after a told failure is told with how many failed since
// the last success that was told. A flapping store costs two lines per
// Every; in between, the last line may be a recovery while it fails
// again: the next failure line, at most Every later, counts those, and
// the store's status (herald's /api/journal "failing") is live.
package outage

import (
	"sync"
	"sync/atomic"
	"time"
)

// Every is how often a store that keeps failing is told again.
const Every = time.Minute

// Pacer decides which failures and recoveries are worth a line. The zero
// value is ready; it is safe for concurrent use.
type Pacer struct {
	failing atomic.Bool // read on every success: no lock then
	mu      sync.Mutex
	failed  time.Time // the last failure told
	eased   time.Time // the last recovery told
	since   int       // failures since the last failure told
	total   int       // failures since the last recovery told
}

// Fail records a failure at now. It reports whether to tell it and, when
// others went untold since the last line, how many failed since then
// (this one included; 0 when it is the only one).
func (p *Pacer) Fail(now time.Time) (tell bool, since int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing.Store(true)
	p.total++
	p.since++
	if !p.failed.IsZero() && now.Sub(p.failed) < Every {
		return false, 0
	}
	if p.since > 1 {
		since = p.since
	}
	p.failed, p.since = now, 0
	return true, since
}

// Failing reports whether the last thing recorded was a failure.
func (p *Pacer) Failing() bool { return p.failing.Load() }

// Recover records a success at now after failures. It reports whether to
// tell it (a failure was told since the last recovery told) and how many
// failed since the last recovery told.
func (p *Pacer) Recover(now time.Time) (tell bool, failed int) {
	if !p.failing.Load() {
		return false, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failing.Swap(false) {
		return false, 0
	}
	if !p.failed.After(p.eased) {
		return false, 0 // its failures were not told either: the next line counts them
	}
	failed = p.total
	p.eased, p.total = now, 0
	return true, failed
}
