package trigger

import (
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

func init() { ingress.RegisterShapes("trigger", Shapes) }

// Shapes: a trigger URL names its own event type, and its data is every
// query or form parameter, always a string (?amount=5 gives "5"). The
// example is /notify?code=demo&event=follow&user=ann.
var Shapes = []herald.Shape{{
	Doc:     "any event a trigger URL names; data holds its parameters, all strings",
	Fields:  map[string]herald.Kind{"code": herald.KindString, "event": herald.KindString},
	Rest:    herald.KindString,
	Example: map[string]any{"code": "demo", "event": "follow", "user": "ann"},
}}
