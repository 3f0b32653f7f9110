package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/heraldhq/herald/ingress"
)

// sampleEvent prints an event of type typ for `herald route --sample`: the
// Example of the shape its ingress declares, which is what that ingress
// publishes with its default options (a recording where there is one), so
// it holds only what a page could receive. A type no shape names, written
// without a dot, is what a trigger URL would send for it; note then names
// the type an ingress has under another case (donation: Ko-fi's Donation),
// which may be the one meant.
func sampleEvent(shapes *ingress.ShapeRegistry, typ string) (out []byte, note string, err error) {
	var known []string
	ingressOf := map[string]string{} // known type -> its ingress
	var trigger map[string]any
	for _, in := range shapes.Types() {
		list, _ := shapes.Lookup(in)
		for _, sh := range list {
			if sh.Type == "" {
				if in == "trigger" {
					trigger = sh.Example
				}
				continue
			}
			known = append(known, sh.Type)
			ingressOf[sh.Type] = in
			if sh.Type != typ {
				continue
			}
			if sh.Example == nil {
				return nil, "", fmt.Errorf("ingress %s declares no example of %q events", in, typ)
			}
			ev := map[string]any{"source": in, "type": typ, "data": sh.Example}
			out, err = json.MarshalIndent(ev, "", "  ")
			return out, "", err
		}
	}
	if typ != "" && !strings.Contains(typ, ".") && trigger != nil {
		// A trigger URL names its own type: /notify?code=demo&event=TYPE&user=ann
		data := maps.Clone(trigger)
		data["event"] = typ
		ev := map[string]any{"source": "trigger", "type": typ, "code": data["code"], "data": data}
		if i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, typ) }); i >= 0 {
			note = fmt.Sprintf("this is what a trigger URL sends for event=%s; for %s's %q write --sample %q", typ, ingressOf[known[i]], known[i], known[i])
		}
		out, err = json.MarshalIndent(ev, "", "  ")
		return out, note, err
	}
	slices.Sort(known)
	return nil, "", fmt.Errorf("no sample for event type %q (known: %s)", typ, strings.Join(known, ", "))
}
