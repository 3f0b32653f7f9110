package ingress

import (
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
