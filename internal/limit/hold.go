package limit

import (
	"context"
	"sync"
)

// Hold is one count of a Conns taken for a request that may open
// something outliving it: a Socket.IO long-polling handshake opens a
// session that lives across many requests, and between polls across
// none. Whatever serves the request may Keep the count for that thing;
// otherwise the request's End gives it back.
type Hold struct {
	mu      sync.Mutex
	release func()
	kept    bool
	ended   bool
}

// Hold counts one more for key, as Acquire does, and reports false,
// counting nothing, when key or the total is at its bound. The caller must
// call End once the request is served.
func (c *Conns) Hold(key string) (*Hold, bool) {
	release, ok := c.Acquire(key)
	if !ok {
		return nil, false
	}
	return &Hold{release: release}, true
}

// Keep takes the count over from the request: the caller must call
// release exactly once when the thing it stands for is closed (extra
// calls do nothing). Kept after End, the count is gone already, and
// release does nothing.
func (h *Hold) Keep() (release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return func() {}
	}
	h.kept = true
	return h.release
}

// End gives the count back unless it was kept.
func (h *Hold) End() {
	h.mu.Lock()
	kept := h.kept
	h.ended = true
	h.mu.Unlock()
	if !kept {
		h.release()
	}
}

type holdKey struct{}

// WithHold returns ctx carrying h, for whatever serves the request.
func WithHold(ctx context.Context, h *Hold) context.Context {
	return context.WithValue(ctx, holdKey{}, h)
}

// HoldOf returns the Hold a request carries, or nil.
func HoldOf(ctx context.Context) *Hold {
	h, _ := ctx.Value(holdKey{}).(*Hold)
	return h
}
