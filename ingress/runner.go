package ingress

import "context"

// Runner is the optional capability of an adapter that keeps a connection
// of its own instead of (or besides) serving a path: the Twitch EventSub
// WebSocket, or keeping webhook subscriptions in step with the file.
//
// The router calls Run once the snapshot holding the adapter is live, on
// its own goroutine, and cancels ctx when a reload changes or removes the
// instance's block (unless a running Updater takes the change over), or
// at shutdown; an unchanged block keeps its running adapter across
// reloads. Run returns nil when ctx ends; an error means it
// gave up (the router logs it and starts the instance again only when its
// block changes). Factories still do no I/O: all of it happens in Run.
type Runner interface {
	Run(ctx context.Context) error
}

// Updater is the optional capability of a Runner whose running instance
// can take a changed block over in place. Without it a reload that
// changes the block cancels Run and starts the new adapter's, so for a
// moment nothing is connected: the Twitch EventSub WebSocket would close
// its session and open another, and every notification Twitch sent in
// between would be lost, for the subscriptions that did not change too.
// An Updater keeps its session and changes only what the block changed
// (creates and deletes subscriptions on it).
//
// The router calls Update on the running instance, once per reload that
// changes its block, with next, the adapter built from the new block (of
// the same instance name, already in the live snapshot). Update returns
// true when the running instance took the new block over: it keeps
// running and from then on follows next's declaration, and next is never
// Run (the router treats the running one as if its block were next's).
// It returns false when the change needs a new connection (another
// endpoint, client or login): the router then cancels Run and starts
// next, as for any Runner. Update is called with the router's runner
// lock held: it must not block or do I/O, only hand the declaration to
// Run's goroutines. It is not called on an instance whose Run gave up.
type Updater interface {
	Runner
	Update(next Runner) bool
}
