package ingress

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRefusalsByReason(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{name: "bad signature", err: Errorf(http.StatusForbidden, "invalid signature"), reason: "forbidden"},
		{name: "no token", err: Errorf(http.StatusUnauthorized, "missing token"), reason: "unauthorized"},
		{name: "bad body", err: Errorf(http.StatusBadRequest, "malformed JSON body"), reason: "bad_request"},
		{name: "too large", err: Errorf(http.StatusRequestEntityTooLarge, "body larger than 1 bytes"), reason: "too_large"},
		{name: "rate limited", err: Errorf(http.StatusTooManyRequests, "too many requests"), reason: "too_many"},
		{name: "teapot", err: Errorf(http.StatusTeapot, "short and stout"), reason: "other"},
		{name: "plain error", err: errors.New("disk on fire"), reason: "server_error"},
	}
	var c Counters
	want := map[string]uint64{}
	for _, tc := range tests {
		if got := ReasonOf(tc.err); got != tc.reason {
			t.Errorf("%s: ReasonOf = %q, want %q", tc.name, got, tc.reason)
		}
		c.Refuse(httptest.NewRecorder(), slog.New(slog.DiscardHandler), tc.err)
		want[tc.reason]++
	}
	got := c.Refusals()
	if !maps.Equal(got.By, want) {
		t.Errorf("Refusals().By = %v, want %v", got.By, want)
	}
	if got.Last == nil || got.Last.Reason != "disk on fire" {
		t.Errorf("Refusals().Last = %+v, want the plain error", got.Last)
	}
	if s := c.Stats(); s.Refused != uint64(len(tests)) {
		t.Errorf("Stats().Refused = %d, want %d", s.Refused, len(tests))
	}
}
