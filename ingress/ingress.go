package ingress

import (
	"log/slog"
	"net/http"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// Adapter serves the path its instance is mounted at: it decodes and
// verifies each request, publishes the resulting events and answers the
// sender. ServeHTTP is called concurrently.
type Adapter interface {
	http.Handler
}

// Params is everything a Factory gets to build one adapter instance.
type Params struct {
	// Name is the instance name from the rules file ("twitch"); it becomes
	// the Source of every event the instance publishes.
	Name string
	// Type is the registered type name ("twitch").
	Type string
	// Path is the URL path the instance is mounted at.
	Path string
	// Options is the instance's own block of the rules file, with ${ENV}
	// references already expanded and positions intact. It may be nil.
	Options *yaml.Node
	// File is the rules file name, for positioned errors.
	File string
	// Publish hands events to the router.
	Publish herald.Publisher
	// Log is already scoped to the instance.
	Log *slog.Logger
	// State holds what survives a reload (counters), per instance name.
	State *State
	// Dedupe is the de-duplication window every instance shares, keyed by
	// sender (see DedupeKey) rather than by instance name, so renaming an
	// instance does not replay a platform's retry. Nil falls back to State.
	Dedupe *State
	// Now is the clock; tests inject one.
	Now func() time.Time
	// MaxBody is the request body limit in bytes.
	MaxBody int64
	// DataDir is where instances keep files across restarts (a login);
	// "" means the current directory.
	DataDir string
	// Warnings, when not nil, takes what the factory finds suspicious but
	// not wrong, positioned (an option its transport does not use): herald
	// check prints them, every reload logs them, /api/rules shows them.
	// Each message starts with "warning: ".
	Warnings *yamlpos.List
}

// Factory decodes and validates an instance's options and builds its
// adapter. It must do no I/O and start no goroutines, so that `herald check`
// can build every adapter of a file without side effects. Errors should be
// positioned (see internal/yamlpos).
type Factory func(Params) (Adapter, error)

// Registry maps type names to factories.
type Registry = registry.Of[Factory]

// NewRegistry returns an empty registry; tests use one to register fakes
// without touching Default.
func NewRegistry() *Registry { return registry.New[Factory]("ingress") }

// Default is the registry plugins add themselves to from init(). It is
// written only during init and read-only afterwards.
var Default = NewRegistry()

// Register adds a factory to Default. Call it only from init(). It panics
// on an empty name or a duplicate.
func Register(typ string, f Factory) {
	if f == nil {
		panic("ingress: Register with a nil factory")
	}
	Default.Register(typ, f)
}

// Counters returns the counters that survive reloads for this instance
// (fresh ones when Params has no State, as in unit tests).
func (p Params) Counters() *Counters {
	if p.State == nil {
		return new(Counters)
	}
	return p.State.Counters()
}

// Seen records a message of this instance's sender, under DedupeKey, and
// reports whether it was already recorded within ttl. secret is what
// authenticates the sender ("" when nothing does). Without a store it is
// always false.
func (p Params) Seen(secret, id string, now time.Time, ttl time.Duration) bool {
	st := p.dedupe()
	return st != nil && st.Seen(DedupeKey(p.Type, p.Path, secret, id), now, ttl)
}

// Forget undoes Seen, so the sender's retry of a message that failed is
// accepted.
func (p Params) Forget(secret, id string) {
	if st := p.dedupe(); st != nil {
		st.Forget(DedupeKey(p.Type, p.Path, secret, id))
	}
}

func (p Params) dedupe() *State {
	if p.Dedupe != nil {
		return p.Dedupe
	}
	return p.State
}
