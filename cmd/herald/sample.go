package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

// sampleEvent builds an event of type typ as the ingress that declares it
// would publish it, with plausible values, for `herald route --sample`:
// a starting point to edit, not a recording.
func sampleEvent(shapes *ingress.ShapeRegistry, typ string) ([]byte, error) {
	var known []string
	for _, in := range shapes.Types() {
		list, _ := shapes.Lookup(in)
		for _, sh := range list {
			if sh.Type == "" {
				continue
			}
			known = append(known, sh.Type)
			if sh.Type != typ {
				continue
			}
			ev := map[string]any{"source": in, "type": typ, "data": sampleData(sh)}
			return json.MarshalIndent(ev, "", "  ")
		}
	}
	if typ != "" && !strings.Contains(typ, ".") && !slices.Contains(known, typ) {
		// A trigger URL names its own type: /notify?code=alerts&event=follow&user=ann
		ev := map[string]any{"source": "trigger", "type": typ, "code": "alerts", "data": map[string]any{"code": "alerts", "event": typ, "user": "ann"}}
		return json.MarshalIndent(ev, "", "  ")
	}
	slices.Sort(known)
	return nil, fmt.Errorf("no sample for event type %q (known: %s)", typ, strings.Join(known, ", "))
}

// sampleData fills every field of sh with a value of its kind.
func sampleData(sh herald.Shape) map[string]any {
	data := map[string]any{}
	keys := make([]string, 0, len(sh.Fields))
	for k := range sh.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys) // parents before their fields
	for _, k := range keys {
		setPath(data, strings.Split(k, "."), sampleValue(k, sh.Fields[k]))
	}
	return data
}

func sampleValue(path string, kind herald.Kind) any {
	name := path[strings.LastIndexByte(path, '.')+1:]
	switch kind {
	case herald.KindNumber:
		return 5
	case herald.KindBool:
		return false
	case herald.KindObject:
		return map[string]any{}
	case herald.KindAny:
		switch {
		case strings.HasSuffix(name, "_name"), strings.HasSuffix(name, "_login"), strings.HasSuffix(name, "_id"):
			// a person who may be anonymous: the sample shows one who is not
		case strings.HasSuffix(name, "s"):
			return []any{}
		default:
			return nil
		}
	}
	switch {
	case strings.HasSuffix(name, "_login"):
		return "ann_streams"
	case strings.HasSuffix(name, "_name"):
		return "Ann"
	case strings.HasSuffix(name, "_id") || name == "id":
		return "12345"
	case strings.HasSuffix(name, "_at") || name == "timestamp":
		return "2026-11-28T20:00:00Z"
	case name == "tier":
		return "1000"
	case name == "amount":
		return "3.00"
	case name == "currency":
		return "USD"
	}
	return "text"
}

// setPath puts v at path in m, making maps (and one-item lists for 0)
// on the way.
func setPath(m map[string]any, path []string, v any) {
	if len(path) == 1 {
		if _, exists := m[path[0]]; !exists || v != nil {
			m[path[0]] = v
		}
		return
	}
	if path[1] == "0" {
		list, _ := m[path[0]].([]any)
		if len(list) == 0 {
			list = []any{map[string]any{}}
		}
		item, _ := list[0].(map[string]any)
		if item == nil {
			item = map[string]any{}
			list[0] = item
		}
		m[path[0]] = list
		if len(path) > 2 {
			setPath(item, path[2:], v)
		}
		return
	}
	child, _ := m[path[0]].(map[string]any)
	if child == nil {
		child = map[string]any{}
		m[path[0]] = child
	}
	setPath(child, path[1:], v)
}
