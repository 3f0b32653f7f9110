package ingress

import "context"

// Runner is the optional capability of an adapter that keeps a connection
// of its own instead of (or besides) serving a path: the Twitch EventSub
// WebSocket, or keeping webhook subscriptions in step with the file.
//
// The router calls Run once the snapshot holding the adapter is live, on
// its own goroutine, and cancels ctx when a reload changes or removes the
// instance's block, or at shutdown; an unchanged block keeps its running
// adapter across reloads. Run returns nil when ctx ends; an error means it
// gave up (the router logs it and starts the instance again only when its
// block changes). Factories still do no I/O: all of it happens in Run.
type Runner interface {
	Run(ctx context.Context) error
}
