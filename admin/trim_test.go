package admin

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// TestBoundedKeepsLargeEventsSmall: an alert near the body limit is kept
// by the dashboard as a copy with its long strings cut, and the router's
// own event and deliveries are left as they were.
func TestBoundedKeepsLargeEventsSmall(t *testing.T) {
	blob := strings.Repeat("x", 100_000)
	data := map[string]any{"user": "ada", "blob": blob, "nested": map[string]any{"more": blob}}
	payload := map[string]any{"text": blob}
	o := router.Observation{
		Event:  herald.Event{ID: "e1", Data: data},
		Result: rules.Result{Deliveries: []herald.Delivery{{Room: "r", Name: "BIG", Payload: payload}}},
	}
	got := bounded(o)
	if n := sizeOf(got.Event.Data, 0) + sizeOf(got.Result.Deliveries[0].Payload, 0); n > maxRecordBytes {
		t.Errorf("kept %d bytes of text, want at most %d", n, maxRecordBytes)
	}
	if got.Event.Data["user"] != "ada" {
		t.Errorf("short field = %v, want it kept whole", got.Event.Data["user"])
	}
	if s, _ := got.Event.Data["blob"].(string); !strings.Contains(s, "more bytes not kept") {
		t.Errorf("long field kept as %.40q…, want it cut with a note", s)
	}
	if data["blob"] != blob || payload["text"] != blob || o.Result.Deliveries[0].Payload["text"] != blob {
		t.Error("bounded changed the router's event or delivery")
	}
	small := router.Observation{Event: herald.Event{Data: map[string]any{"user": "ada"}}}
	if got := bounded(small); got.Event.Data["user"] != "ada" {
		t.Errorf("a small event was changed: %v", got.Event.Data)
	}
}
