package ingress

import (
	"regexp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/registry"
)

// ShapeRegistry maps ingress type names to the shapes of the events each
// produces. A type with no entry is dynamic (webhook): anything goes.
type ShapeRegistry = registry.Of[[]herald.Shape]

// NewShapeRegistry returns an empty registry, for tests.
func NewShapeRegistry() *ShapeRegistry { return registry.New[[]herald.Shape]("ingress shapes") }

// DefaultShapes is where adapters register their shapes; written only from
// init(), read-only afterwards.
var DefaultShapes = NewShapeRegistry()

// RegisterShapes declares the shapes of the events ingress type typ
// produces; call it from init() beside Register.
func RegisterShapes(typ string, shapes []herald.Shape) { DefaultShapes.Register(typ, shapes) }

// OpenTypeRegistry maps ingress type names to a pattern of the event
// types each may send beyond its shapes, whose fields herald does not
// know: Twitch delivers every EventSub type a rules file subscribes to,
// and its shapes list only the common ones. A rule about such a type is
// loaded unchecked. A type with no entry sends only what its shapes list
// (Ko-fi's four types are all there are).
type OpenTypeRegistry = registry.Of[*regexp.Regexp]

// NewOpenTypeRegistry returns an empty registry, for tests.
func NewOpenTypeRegistry() *OpenTypeRegistry {
	return registry.New[*regexp.Regexp]("ingress open types")
}

// DefaultOpenTypes is where adapters register their open types; written
// only from init(), read-only afterwards.
var DefaultOpenTypes = NewOpenTypeRegistry()

// RegisterOpenTypes declares the pattern of the unlisted event types
// ingress type typ may send; call it from init() beside RegisterShapes.
func RegisterOpenTypes(typ string, pattern *regexp.Regexp) { DefaultOpenTypes.Register(typ, pattern) }

// CodelessRegistry maps ingress type names to whether their events carry
// no code (herald.Event.Code): a rule about such events must say where
// they go (to:), or it could never send one. The value is the option of
// an instance that gives its events a code after all ("code" for a
// webhook, whose code is an expression), "" when nothing does. A type
// with no entry may send events with a code (the trigger's URL names it).
type CodelessRegistry = registry.Of[string]

// NewCodelessRegistry returns an empty registry, for tests.
func NewCodelessRegistry() *CodelessRegistry { return registry.New[string]("codeless ingress") }

// DefaultCodeless is where adapters declare that their events carry no
// code; written only from init(), read-only afterwards.
var DefaultCodeless = NewCodelessRegistry()

// RegisterCodeless declares that the events of ingress type typ carry no
// code unless the instance sets option unless ("" for never); call it
// from init() beside RegisterShapes.
func RegisterCodeless(typ, unless string) { DefaultCodeless.Register(typ, unless) }
