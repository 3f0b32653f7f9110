package eventsub

import (
	"log/slog"
	"strings"
	"testing"
)

// TestOldEndedOfAMove: Twitch closes the old connection of a
// session_reconnect once the new one is welcomed, which may be before
// herald has taken its dial's result. That is the routine end of a move,
// not a warning (a streamer saw one on nearly every reconnect); the move
// is at risk, and worth a warning, only when no dial is under way or the
// grace is over.
func TestOldEndedOfAMove(t *testing.T) {
	tests := []struct {
		name               string
		err                error
		connected, dialing bool
		wantEnd, wantWarn  bool
	}{
		{name: "closed once the new one is welcomed", err: &ClosedError{Code: 1000}, connected: true},
		{name: "closed while the new one's dial is still being taken", err: &ClosedError{Code: 1000}, dialing: true},
		{name: "dropped while a retry waits", err: &ClosedError{Code: 1006}, wantWarn: true},
		{name: "grace over while a dial is under way", err: &ClosedError{Code: CloseReconnectGraceExpired}, dialing: true, wantWarn: true},
		{name: "grace over with no dial under way", err: &ClosedError{Code: CloseReconnectGraceExpired}, wantEnd: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			c := &Client{Log: slog.New(slog.NewTextHandler(&logs, nil))}
			err := c.oldEnded(tc.err, tc.connected, tc.dialing)
			if (err != nil) != tc.wantEnd {
				t.Errorf("oldEnded = %v, want the session over: %v", err, tc.wantEnd)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tc.wantWarn {
				t.Errorf("warned %v, want %v:\n%s", warned, tc.wantWarn, logs.String())
			}
		})
	}
}
