package ingress_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
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
// the event or nothing routed it, and herald logs at INFO why an alert
// reached no page.
func TestPublishTellsTheSender(t *testing.T) {
	tests := []struct {
		name     string
		rc       herald.Receipt
		wantKey  string
		wantVal  any
		wantLog  string
		quietLog bool
	}{
		{name: "dropped", rc: herald.Receipt{EventID: "e1", Dropped: "no-tests"}, wantKey: "dropped", wantVal: "no-tests",
			wantLog: `level=INFO msg="alert reached no page: dropped by a rule" event_id=e1 type=x rule=no-tests`},
		{name: "unrouted", rc: herald.Receipt{EventID: "e2", Unrouted: true}, wantKey: "unrouted", wantVal: true,
			wantLog: `level=INFO msg="alert reached no page: no rule routed it" event_id=e2`},
		{name: "no page connected", rc: herald.Receipt{EventID: "e3", Deliveries: 1}, wantKey: "count", wantVal: 0.0,
			wantLog: `level=INFO msg="alert reached no page: none connected to its room" event_id=e3`},
		{name: "reached a page", rc: herald.Receipt{EventID: "e4", Deliveries: 1, Pages: 2}, wantKey: "count", wantVal: 2.0, quietLog: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			log := slog.New(slog.NewTextHandler(&logs, nil))
			var c ingress.Counters
			w := httptest.NewRecorder()
			c.Publish(w, httptest.NewRequest("POST", "/hook", nil), log, receipt(tc.rc), herald.Event{Type: "x"})
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
				t.Fatalf("answer %d %s: %v", w.Code, w.Body, err)
			}
			if got["success"] != 1.0 || got[tc.wantKey] != tc.wantVal {
				t.Errorf("answer = %v, want success 1 and %s = %v", got, tc.wantKey, tc.wantVal)
			}
			if tc.quietLog && logs.Len() > 0 || !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log = %q, want %q", logs.String(), tc.wantLog)
			}
		})
	}
}
