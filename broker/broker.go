// Package broker is the seam between the router and the page-facing sinks:
// the router publishes a delivery to the broker, and the broker hands it to
// the subscribed sinks of every node. The in-process broker (this
// package's Local) is the default and calls the local sinks directly; the
// Redis broker (broker/redis) carries deliveries to every node of a
// cluster. Sinks do not know which one they are under.
package broker

import (
	"context"
	"errors"

	"github.com/heraldhq/herald"
)

// ErrLocalOnly is what Publish of a delivery without an offset returns
// when it reached this node's pages only (broker/redis while Redis is
// away); the page count is theirs. The live delivery did not fail: the
// caller keeps d to send to the other nodes later (router.Journaled's
// outbox) and answers its sender as usual.
var ErrLocalOnly = errors.New("broker: delivered to this node's pages only")

// LocalPublisher is implemented by a broker that can hand a delivery to
// this node's subscribers alone, as it does while it cannot reach the
// other nodes (broker/redis). The router uses it for an alert whose
// journal append just timed out: the store that did not answer is the one
// the broker would wait for next, so the alert reaches the node's pages
// one timeout sooner, and the router's outbox sends it to the other nodes
// once the journal takes it.
type LocalPublisher interface {
	// PublishLocal hands d, a delivery without an offset, to this node's
	// subscribers and returns the pages reached with ErrLocalOnly.
	PublishLocal(ctx context.Context, d herald.Delivery) (int, error)
}

// Subscriber is a node's page-facing side, as the broker sees it: every
// egress.Sink is one.
type Subscriber interface {
	// Deliver sends d to the subscriber's pages in room d.Room and reports
	// how many it reached. It never blocks on a slow page.
	Deliver(ctx context.Context, d herald.Delivery) (pages int, err error)
}

// Broker carries deliveries to every node's subscribers.
type Broker interface {
	// Publish hands d to the subscribers of every node and reports the
	// pages reached where the broker can know it (the local count for the
	// in-process broker, the presence count across nodes for Redis). An
	// error means d could not be handed over at all (closed, no
	// connection): the caller must tell the sender so it can retry;
	// ErrLocalOnly is the exception.
	Publish(ctx context.Context, d herald.Delivery) (pages int, err error)
	// Subscribe adds a node-local subscriber. It is called during start-up,
	// before the first Publish.
	Subscribe(s Subscriber)
	// Close stops carrying deliveries; Publish returns an error after it.
	Close(ctx context.Context) error
}
