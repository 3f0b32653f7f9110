package ingress_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

// receipt is a herald.Publisher that answers every event with one receipt.
type receipt herald.Receipt

func (r receipt) Publish(context.Context, herald.Event) (herald.Receipt, error) {
	return herald.Receipt(r), nil
}

// TestPublishTellsTheSender: a webhook's answer says when a rule dropped
// the event or nothing routed it (the router logs why, for every ingress).
func TestPublishTellsTheSender(t *testing.T) {
	tests := []struct {
		name    string
		rc      herald.Receipt
		wantKey string
		wantVal any
	}{
		{name: "dropped", rc: herald.Receipt{EventID: "e1", Dropped: "no-tests"}, wantKey: "dropped", wantVal: "no-tests"},
		{name: "unrouted", rc: herald.Receipt{EventID: "e2", Unrouted: true}, wantKey: "unrouted", wantVal: true},
		{name: "no page connected", rc: herald.Receipt{EventID: "e3", Deliveries: 1}, wantKey: "count", wantVal: 0.0},
		{name: "reached a page", rc: herald.Receipt{EventID: "e4", Deliveries: 1, Pages: 2}, wantKey: "count", wantVal: 2.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c ingress.Counters
			w := httptest.NewRecorder()
			c.Publish(w, httptest.NewRequest("POST", "/hook", nil), slog.New(slog.DiscardHandler), receipt(tc.rc), herald.Event{Type: "x"})
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
				t.Fatalf("answer %d %s: %v", w.Code, w.Body, err)
			}
			if got["success"] != 1.0 || got[tc.wantKey] != tc.wantVal {
				t.Errorf("answer = %v, want success 1 and %s = %v", got, tc.wantKey, tc.wantVal)
			}
		})
	}
}
