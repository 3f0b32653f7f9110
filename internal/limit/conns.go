package limit

import "sync"

// Conns counts things held open (connections, requests in flight) per
// key and in total, and refuses one more past either bound. Safe for
// concurrent use. A bound of 0 is no bound.
type Conns struct {
	perKey, total int

	mu  sync.Mutex
	n   int
	per map[string]int
}

// NewConns returns a counter with the given bounds.
func NewConns(perKey, total int) *Conns {
	return &Conns{perKey: perKey, total: total, per: map[string]int{}}
}

// Acquire counts one more for key. It reports false, counting nothing,
// when key or the total is at its bound; otherwise release must be called
// exactly once when the thing is closed (extra calls do nothing).
func (c *Conns) Acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 && c.n >= c.total || c.perKey > 0 && c.per[key] >= c.perKey {
		return nil, false
	}
	c.n++
	c.per[key]++
	var once sync.Once
	return func() { once.Do(func() { c.release(key) }) }, true
}

func (c *Conns) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.per[key]--; c.per[key] <= 0 {
		delete(c.per, key) // the table holds only keys with something open
	}
}

// Open returns how many are held for key and in total.
func (c *Conns) Open(key string) (forKey, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.per[key], c.n
}
