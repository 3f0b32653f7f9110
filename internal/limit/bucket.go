package limit

import (
	"math"
	"sync"
	"time"
)

// Rate is a token bucket's shape: Burst requests at once, refilled at
// PerSecond. A zero Rate (either field 0) allows everything.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Off reports whether the rate allows everything.
func (r Rate) Off() bool { return r.PerSecond <= 0 || r.Burst <= 0 }

// maxKeys bounds a Buckets table. Past it, full (idle) buckets are
// dropped; if every bucket is in use, the oldest is.
const maxKeys = 16384

// Buckets is one token bucket per key. Safe for concurrent use.
type Buckets struct {
	rate Rate
	now  func() time.Time

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewBuckets returns a table of buckets of the given rate; now is the
// clock (nil means time.Now).
func NewBuckets(rate Rate, now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{rate: rate, now: now, m: map[string]*bucket{}}
}

// Allow takes a token from key's bucket. When there is none it reports
// false and how long until there will be one.
func (b *Buckets) Allow(key string) (bool, time.Duration) {
	return b.take(key, false)
}

// Spend takes a token from key's bucket even if that leaves it empty or
// owing nothing more: it records a cost after the fact (a trigger that
// reached no page). Check first with Peek.
func (b *Buckets) Spend(key string) { b.take(key, true) }

// Peek reports whether key's bucket holds a token, and if not how long
// until it will, without taking one.
func (b *Buckets) Peek(key string) (bool, time.Duration) {
	if b == nil || b.rate.Off() {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.refill(key, b.now())
	if bk.tokens >= 1 {
		return true, 0
	}
	return false, b.wait(bk)
}

func (b *Buckets) take(key string, force bool) (bool, time.Duration) {
	if b == nil || b.rate.Off() {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.refill(key, b.now())
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	if force {
		bk.tokens = 0
	}
	return false, b.wait(bk)
}

// wait is how long until bk holds one token, rounded up to a second (the
// unit of Retry-After).
func (b *Buckets) wait(bk *bucket) time.Duration {
	secs := math.Ceil((1 - bk.tokens) / b.rate.PerSecond)
	return time.Duration(max(secs, 1)) * time.Second
}

// refill returns key's bucket brought up to now, creating it full.
func (b *Buckets) refill(key string, now time.Time) *bucket {
	bk, ok := b.m[key]
	if !ok {
		if len(b.m) >= maxKeys {
			b.sweep(now)
		}
		bk = &bucket{tokens: float64(b.rate.Burst), at: now}
		b.m[key] = bk
		return bk
	}
	if d := now.Sub(bk.at).Seconds(); d > 0 {
		bk.tokens = min(float64(b.rate.Burst), bk.tokens+d*b.rate.PerSecond)
		bk.at = now
	}
	return bk
}

// sweep drops buckets that have refilled (their keys are idle, and a new
// bucket would start full anyway). If that frees too little, it drops
// arbitrary ones down to 7/8 of the bound: a flood of new keys then costs
// one sweep per maxKeys/8 keys, and at worst hands some busy key a fresh
// bucket (only an attacker with thousands of addresses can cause that).
func (b *Buckets) sweep(now time.Time) {
	for k, bk := range b.m {
		if bk.tokens+now.Sub(bk.at).Seconds()*b.rate.PerSecond >= float64(b.rate.Burst) {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < maxKeys*7/8 {
			break
		}
		delete(b.m, k)
	}
}

// Len is the number of keys the table holds (for tests and stats).
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
