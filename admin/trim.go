package admin

import (
	"fmt"
	"slices"

	"github.com/heraldhq/herald/router"
)

// The ring keeps the last events by reference, so an event's size is what
// it keeps alive: without a bound, 500 alerts near the body limit (1 MiB)
// would pin half a gigabyte for a page that only ever shows a line of
// each. Events over maxRecordBytes are kept as a copy whose long strings
// are cut to keepString bytes.
const (
	maxRecordBytes = 16 << 10
	keepString     = 1 << 10
	// walkDepth bounds the size walk; deeper values count as small.
	walkDepth = 4
)

// bounded returns o, or a copy with its long strings cut when o holds more
// than maxRecordBytes of text. The usual alert costs one walk over a few
// fields and no allocation.
func bounded(o router.Observation) router.Observation {
	size := sizeOf(o.Event.Data, 0)
	for _, d := range o.Result.Deliveries {
		size += sizeOf(d.Payload, 0)
	}
	if size <= maxRecordBytes {
		return o
	}
	o.Event.Data = trimMap(o.Event.Data)
	o.Result.Deliveries = slices.Clone(o.Result.Deliveries)
	for i := range o.Result.Deliveries {
		o.Result.Deliveries[i].Payload = trimMap(o.Result.Deliveries[i].Payload)
	}
	return o
}

func sizeOf(v any, depth int) int {
	if depth > walkDepth {
		return 0
	}
	switch v := v.(type) {
	case string:
		return len(v)
	case map[string]any:
		n := 0
		for k, e := range v {
			n += len(k) + sizeOf(e, depth+1)
		}
		return n
	case []any:
		n := 0
		for _, e := range v {
			n += sizeOf(e, depth+1)
		}
		return n
	}
	return 8
}

func trimMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = trimValue(v)
	}
	return out
}

func trimValue(v any) any {
	switch v := v.(type) {
	case string:
		if len(v) > keepString {
			return fmt.Sprintf("%s… (%d more bytes not kept by the dashboard)", v[:keepString], len(v)-keepString)
		}
		return v
	case map[string]any:
		return trimMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = trimValue(e)
		}
		return out
	}
	return v
}
