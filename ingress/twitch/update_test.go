package twitch_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/twitch"
)

// TestUpdateTakesOverWhatTheSessionCanFollow: a websocket instance takes
// over a changed block when its session can follow it as it is (the
// subscriptions, the broadcaster, a webhook-only option) and then reports
// the new list; a change of what the session or its login depends on
// (transport, client_id, access_token, a URL), and any change to a
// webhook instance, is left to a restart.
func TestUpdateTakesOverWhatTheSessionCanFollow(t *testing.T) {
	const ws = "transport: websocket\nclient_id: abc\nsubscriptions: [channel.follow]\n"
	const hook = "secret: '0123456789'\n"
	tests := []struct {
		name, from, to string
		want           bool
	}{
		{name: "a subscription added", from: ws, to: "transport: websocket\nclient_id: abc\nsubscriptions: [channel.follow, channel.cheer]\n", want: true},
		{name: "another condition", from: ws, to: "transport: websocket\nclient_id: abc\nsubscriptions: [{type: channel.follow, condition: {moderator_user_id: '9'}}]\n", want: true},
		{name: "broadcaster_user_id", from: ws, to: ws + "broadcaster_user_id: '777'\n", want: true},
		{name: "a webhook-only option", from: ws, to: ws + "callback: https://x.example/hook\n", want: true},
		{name: "client_id", from: ws, to: "transport: websocket\nclient_id: other\nsubscriptions: [channel.follow]\n"},
		{name: "access_token", from: ws, to: ws + "access_token: t\n"},
		{name: "eventsub_url", from: ws, to: ws + "eventsub_url: ws://127.0.0.1:19401/ws\n"},
		{name: "helix_url", from: ws, to: ws + "helix_url: http://127.0.0.1:19401/helix\n"},
		{name: "auth_url", from: ws, to: ws + "auth_url: http://127.0.0.1:19401/oauth2\n"},
		{name: "transport", from: ws, to: hook},
		{name: "a webhook block", from: hook, to: "secret: '0123456789abc'\n"},
	}
	build := func(t *testing.T, options string) ingress.Updater {
		t.Helper()
		p, _ := adaptertest.Params(t, "twitch", options, time.Now(), nil)
		a, err := twitch.New(p)
		if err != nil {
			t.Fatal(err)
		}
		return a.(ingress.Updater)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			running, next := build(t, tc.from), build(t, tc.to)
			if got := running.Update(next); got != tc.want {
				t.Fatalf("Update = %v, want %v", got, tc.want)
			}
			if tc.name == "a subscription added" {
				var types []string
				for _, s := range running.(ingress.Statuser).RunStatus().Subscriptions {
					types = append(types, s.Type)
				}
				if len(types) != 2 || types[1] != "channel.cheer" {
					t.Errorf("after the update the instance reports %v, want the new list", types)
				}
			}
		})
	}
}
