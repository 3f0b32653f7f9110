package all_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/router"
)

// sink records deliveries: the egress side of the end-to-end tests.
type sink struct {
	mu  sync.Mutex
	got []herald.Delivery
}

func (s *sink) Deliver(_ context.Context, d herald.Delivery) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return 1, nil
}

func (s *sink) Close(context.Context) error { return nil }

func (s *sink) take() []herald.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// load runs an examples/ rules file in a real router with env and clock.
func load(t *testing.T, file string, env map[string]string, now time.Time) (*router.Router, *sink) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	r := router.New(router.Options{
		Sinks:  []egress.Sink{s},
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:    func() time.Time { return now },
	})
	if err := r.Reload(file, data); err != nil {
		t.Fatalf("%s does not load:\n%v", file, err)
	}
	return r, s
}

func send(t *testing.T, h http.Handler, raw []byte) int {
	t.Helper()
	req, err := adaptertest.ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

func caseRequest(t *testing.T, plugin, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", plugin, "testdata", name, "request.http"))
	if err != nil {
		t.Fatal(err)
	}
	return adaptertest.RawRequest(b)
}

// TestTwitchExampleEndToEnd sends the recorded Twitch CLI requests through
// a router running examples/twitch/rules.yaml and checks which alert each
// page code receives; forged, stale and replayed requests reach none.
func TestTwitchExampleEndToEnd(t *testing.T) {
	now := time.Date(2026, 11, 25, 2, 9, 20, 0, time.UTC)
	r, s := load(t, "../../examples/twitch/rules.yaml",
		map[string]string{"TWITCH_SECRET": "fixture-secret-0123456789", "ALERT_CODE": "abc123"}, now)
	tests := []struct {
		name    string
		request string
		status  int
		room    string // "" means no delivery
		event   string
		text    string
	}{
		{name: "follow", request: "channel.follow.notification", status: 200, room: "abc123", event: "FOLLOW", text: "testFromUser just followed!"},
		{name: "follow retried", request: "channel.follow.notification", status: 200},
		{name: "subscribe", request: "channel.subscribe.notification", status: 200, room: "abc123", event: "SUB", text: "testFromUser just subscribed!"},
		{name: "gift", request: "channel.subscription.gift.notification", status: 200, room: "abc123", event: "GIFT_SUB", text: "testFromUser gifted 5 subs!"},
		{name: "resub", request: "channel.subscription.message.notification", status: 200, room: "abc123", event: "RESUB", text: "testFromUser resubscribed for 53 months: Hello from the Twitch CLI! twitchdevLeek"},
		{name: "cheer", request: "channel.cheer.notification", status: 200, room: "abc123", event: "CHEER", text: "testFromUser cheered 100 bits!"},
		{name: "raid", request: "channel.raid.notification", status: 200, room: "abc123", event: "RAID", text: "testFromUser is raiding with 44118 viewers!"},
		{name: "redemption", request: "channel.channel_points_custom_reward_redemption.add.notification", status: 200, room: "abc123", event: "REDEEM", text: "testFromUser redeemed Test Reward from CLI: Test Input From CLI"},
		{name: "online", request: "stream.online.notification", status: 200, room: "abc123", event: "STREAM_ONLINE", text: "testBroadcaster is live!"},
		{name: "revocation", request: "channel.follow.revocation", status: 200, room: "dashboard", event: "EVENTSUB_REVOKED", text: "Twitch stopped sending channel.follow (authorization_revoked)"},
		{name: "hype train has no rule", request: "channel.hype_train.begin.notification", status: 200},
		{name: "challenge", request: "channel.follow.webhook_callback_verification", status: 200},
		{name: "tampered", request: "refuse-tampered-body", status: 403},
		{name: "wrong secret", request: "refuse-wrong-secret", status: 403},
		{name: "unsigned", request: "refuse-unsigned", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(t, r, caseRequest(t, "twitch", tc.request)); got != tc.status {
				t.Fatalf("status = %d, want %d", got, tc.status)
			}
			checkDelivery(t, s.take(), tc.room, tc.event, tc.text)
		})
	}
	t.Run("stale", func(t *testing.T) {
		late, ls := load(t, "../../examples/twitch/rules.yaml",
			map[string]string{"TWITCH_SECRET": "fixture-secret-0123456789"}, now.Add(11*time.Minute))
		if got := send(t, late, caseRequest(t, "twitch", "channel.cheer.notification")); got != http.StatusForbidden {
			t.Errorf("status = %d, want 403", got)
		}
		checkDelivery(t, ls.take(), "", "", "")
	})
}

// TestKofiExampleEndToEnd does the same for examples/kofi/rules.yaml with
// Ko-fi's documented payloads.
func TestKofiExampleEndToEnd(t *testing.T) {
	r, s := load(t, "../../examples/kofi/rules.yaml",
		map[string]string{"KOFI_TOKEN": "kofi-fixture-token", "ALERT_CODE": "abc123"}, time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC))
	tests := []struct {
		name    string
		request string
		status  int
		room    string
		event   string
		text    string
	}{
		{name: "donation", request: "donation", status: 200, room: "abc123", event: "DONATION", text: "Ko-fi Team bought a coffee (3.00 USD): Good luck with the integration!"},
		{name: "donation retried", request: "donation", status: 200},
		{name: "private donation", request: "donation-private", status: 200, room: "abc123", event: "DONATION", text: "Anonymous bought a coffee (3.00 USD)"},
		{name: "subscription", request: "subscription-first", status: 200, room: "abc123", event: "KOFI_SUB", text: "Ko-fi Team became a member (Bronze)!"},
		{name: "commission", request: "commission", status: 200, room: "abc123", event: "COMMISSION", text: "Ko-fi Team ordered a commission!"},
		{name: "shop order", request: "shop-order", status: 200, room: "abc123", event: "SHOP_ORDER", text: "Ko-fi Team bought 3 item(s) from the shop!"},
		{name: "wrong token", request: "refuse-wrong-token", status: 403},
		{name: "no token", request: "refuse-missing-token", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(t, r, caseRequest(t, "kofi", tc.request)); got != tc.status {
				t.Fatalf("status = %d, want %d", got, tc.status)
			}
			got := s.take()
			checkDelivery(t, got, tc.room, tc.event, tc.text)
			for _, d := range got {
				for _, k := range []string{"email", "shipping", "verification_token"} {
					if _, ok := d.Payload[k]; ok {
						t.Errorf("payload carries %s: %v", k, d.Payload)
					}
				}
				if d.Payload["is_public"] == false && (d.Payload["from_name"] != "Anonymous" || d.Payload["message"] != nil) {
					t.Errorf("private supporter reached the page: %v", d.Payload)
				}
			}
		})
	}
}

func checkDelivery(t *testing.T, got []herald.Delivery, room, event, text string) {
	t.Helper()
	if room == "" {
		if len(got) != 0 {
			t.Errorf("delivered %+v, want nothing", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("got %d deliveries, want 1 %s to %s: %+v", len(got), event, room, got)
	}
	d := got[0]
	if d.Room != room || d.Name != event || d.Payload["text"] != text {
		t.Errorf("delivered %s to %s with text %q, want %s to %s with %q", d.Name, d.Room, d.Payload["text"], event, room, text)
	}
}
