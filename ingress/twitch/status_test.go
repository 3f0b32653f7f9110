package twitch_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/twitch"
)

// TestRunStatusBeforeRun: a websocket instance that has not connected yet
// reports "connecting" with every declared subscription pending; a
// webhook instance reports nothing (the router then shows no connection).
func TestRunStatusBeforeRun(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    ingress.RunStatus
	}{
		{name: "websocket", options: "transport: websocket\nclient_id: abc\nsubscriptions: [channel.follow, channel.cheer]",
			want: ingress.RunStatus{State: ingress.StateConnecting, Subscriptions: []ingress.SubscriptionStatus{
				{Type: "channel.follow", Status: ingress.SubPending}, {Type: "channel.cheer", Status: ingress.SubPending}}}},
		{name: "webhook", options: "secret: '0123456789'", want: ingress.RunStatus{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := adaptertest.Params(t, "twitch", tc.options, time.Now(), nil)
			a, err := twitch.New(p)
			if err != nil {
				t.Fatal(err)
			}
			got := a.(ingress.Statuser).RunStatus()
			if got.State != tc.want.State || len(got.Subscriptions) != len(tc.want.Subscriptions) {
				t.Fatalf("RunStatus() = %+v, want %+v", got, tc.want)
			}
			for i, s := range got.Subscriptions {
				if s != tc.want.Subscriptions[i] {
					t.Errorf("subscription %d = %+v, want %+v", i, s, tc.want.Subscriptions[i])
				}
			}
		})
	}
}
