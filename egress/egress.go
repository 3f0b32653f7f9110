// Package egress defines where routed deliveries go: the Sink a plugin
// implements, the Factory that builds one, and the Registry that maps a
// type name to its Factory. The first and main sink is egress/socketio,
// which keeps one Socket.IO room per code; later sinks (Redis fan-out,
// chat bots) plug in beside it, each in its own folder, registered from
// init() and imported by egress/all.
package egress

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/journal/recovery"
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

// Params is what a Factory gets to build a sink.
type Params struct {
	// Log is already scoped to the sink.
	Log *slog.Logger
	// CORSOrigin is the server's Access-Control-Allow-Origin ("*" for any).
	CORSOrigin string
	// MaxBody is the largest message a page may send, in bytes.
	MaxBody int64
	// Recovery answers connecting pages from the journal (missed alerts,
	// pending alerts, Socket.IO recovery) and renders the positions pages
	// receive; nil when the sink runs without a journal.
	Recovery *recovery.Keeper
	// PlainWrites turns off batched system calls for writes to pages
	// (io_uring on Linux): each page is written with its own.
	PlainWrites bool
}

// Factory builds a sink. Like ingress factories it starts nothing: pages
// are served once the sink's Handler is mounted on a running server.
type Factory func(Params) (Sink, error)

// Registry maps type names to factories.
type Registry = registry.Of[Factory]

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return registry.New[Factory]("egress") }

// Default is the registry sinks add themselves to from init(). It is
// written only during init and read-only afterwards.
var Default = NewRegistry()

// Register adds a factory to Default. Call it only from init().
func Register(typ string, f Factory) {
	if f == nil {
		panic("egress: Register with a nil factory")
	}
	Default.Register(typ, f)
}

// Mounter is the optional capability of a sink that pages connect to over
// HTTP: the server mounts Handler at Path.
type Mounter interface {
	// Path is the URL path prefix the sink serves, e.g. "/socket.io/".
	Path() string
	Handler() http.Handler
}

// Lister is the optional capability of a sink that knows its pages, for
// the admin listing (GET /clients).
type Lister interface {
	Clients() []Client
}

// Holder is the optional capability of a sink that remembers which rooms
// its pages held lately. A trigger for a code whose page is away for a
// moment (an OBS scene switch, a reload, OBS restarted) is then not taken
// for a guess at a code: it costs the sender no miss (SECURITY.md), and the
// journal keeps it for the page's return.
type Holder interface {
	// Held reports whether a page is in room now or left it within HeldFor.
	Held(room string) bool
}

// LiveSender is the optional capability of a sink whose pages have
// private session ids (Socket.IO connection state recovery): the ids of
// the pages it sent d, a delivery without an offset, live. Once d is
// journaled late it lists them (herald.Delivery.LiveTo), so recovery does
// not send it to them again. They are the pages d reached, not those in
// its room when it was published: a delivery may wait seconds for a
// Redis that stalled, while pages come and go.
type LiveSender interface {
	SentLive(d herald.Delivery) []string
}

// HeldFor is how long a Holder remembers that a page held a room. It
// matches the default recovery and pending windows: a page away longer
// than that is treated as gone.
const HeldFor = 10 * time.Minute

// RoomWatcher is the optional capability of a sink that tells when its
// rooms change: cluster mode writes this node's presence at once, so a
// count on another node includes a page as soon as it registered.
type RoomWatcher interface {
	// OnRoomsChanged sets fn to be called after a page joins or leaves a
	// room. fn must not block.
	OnRoomsChanged(fn func())
}

// Client describes one connected page.
type Client struct {
	// ID is the page's connection id.
	ID string `json:"id"`
	// Code is the room the page registered under, "" before it did. It is
	// the full code: whoever serves this listing must protect it.
	Code string `json:"code"`
	// Transport is how the page is connected ("polling", "websocket").
	Transport string `json:"transport"`
	// Connected is when the page connected.
	Connected time.Time `json:"connected_at"`
	// Address is the remote address of the page's connection.
	Address string `json:"address"`
}
