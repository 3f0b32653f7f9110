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
