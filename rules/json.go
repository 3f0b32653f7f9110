package rules

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald"
)

// DecodeEvent reads an event written as JSON ({"source", "type", "code",
// "data", "headers", "id", "time"}; unknown keys are errors), for
// `herald route --event` and the /api/route dry run.
func DecodeEvent(data []byte) (herald.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var spec EventSpec
	if err := dec.Decode(&spec); err != nil {
		return herald.Event{}, fmt.Errorf("decode event: %w", err)
	}
	ev, err := spec.Event()
	if err != nil {
		return herald.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// MarshalJSON writes a Result with lower-case keys, deliveries included:
// the output of `herald route` and /api/route.
func (r Result) MarshalJSON() ([]byte, error) {
	type rterr struct {
		Rule  string `json:"rule"`
		Field string `json:"field,omitempty"`
		Pos   string `json:"pos"`
		Error string `json:"error"`
	}
	out := struct {
		Matched    []string          `json:"matched"`
		Deliveries []herald.Delivery `json:"deliveries"`
		Dropped    bool              `json:"dropped"`
		Unrouted   bool              `json:"unrouted"`
		Errors     []rterr           `json:"errors"`
	}{Matched: r.Matched, Dropped: r.Dropped, Unrouted: r.Unrouted,
		Deliveries: r.Deliveries, Errors: make([]rterr, 0, len(r.Errors))}
	if out.Matched == nil {
		out.Matched = []string{}
	}
	if out.Deliveries == nil {
		out.Deliveries = []herald.Delivery{}
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, rterr{Rule: e.Rule, Field: e.Field, Pos: e.Pos.String(), Error: e.Err.Error()})
	}
	return json.Marshal(out)
}
