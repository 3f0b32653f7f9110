// Package egress defines where routed deliveries go: the Sink a plugin
// implements. The first and main sink is egress/socketio, which keeps one
// Socket.IO room per code; later sinks (Redis fan-out, chat bots) plug in
// beside it.
package egress

import (
	"context"

	"github.com/heraldhq/herald"
)

// Sink delivers to pages.
type Sink interface {
	// Deliver sends d to every page in room d.Room and reports how many
	// pages it reached. It never blocks on a slow page and is safe for
	// concurrent use. An error means nothing could be attempted (the sink is
	// closed); a room with no pages is 0, nil.
	Deliver(ctx context.Context, d herald.Delivery) (pages int, err error)
	// Close disconnects pages and releases resources. It returns when done
	// or when ctx ends.
	Close(ctx context.Context) error
}
