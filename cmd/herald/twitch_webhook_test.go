package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/faketwitch"
)

// TestTwitchManagedWebhooks: with client_id + client_secret herald gets
// an app token and makes Twitch's subscriptions for its callback match the
// file: a healthy declared one stays, a failed one is replaced, an
// undeclared one is deleted, a missing one is created, and another
// callback's are left alone.
func TestTwitchManagedWebhooks(t *testing.T) {
	fake := faketwitch.New(t)
	const callback = "https://alerts.example.org/webhooks/twitch"
	cond := map[string]string{"broadcaster_user_id": "4242"}
	fake.AddSub(faketwitch.Sub{ID: "keep", Type: "channel.cheer", Version: "1", Status: "enabled", Condition: cond, Method: "webhook", Callback: callback})
	fake.AddSub(faketwitch.Sub{ID: "failed", Type: "channel.subscribe", Version: "1", Status: "webhook_callback_verification_failed", Condition: cond, Method: "webhook", Callback: callback})
	fake.AddSub(faketwitch.Sub{ID: "undeclared", Type: "stream.offline", Version: "1", Status: "enabled", Condition: cond, Method: "webhook", Callback: callback})
	fake.AddSub(faketwitch.Sub{ID: "other", Type: "stream.offline", Version: "1", Status: "enabled", Condition: cond, Method: "webhook", Callback: "https://elsewhere.example.org/cb"})

	rules := filepath.Join(t.TempDir(), "rules.yaml")
	body := fmt.Sprintf(`version: 1
ingress:
  twitch:
    type: twitch
    path: /webhooks/twitch
    secret: a-webhook-secret-123
    client_id: test-client
    client_secret: an-app-secret
    callback: %s
    broadcaster_user_id: "4242"
    helix_url: %s
    auth_url: %s
    subscriptions: [channel.cheer, channel.subscribe, channel.raid]
`, callback, fake.HelixURL(), fake.AuthURL())
	if err := os.WriteFile(rules, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-p", "0", "--data", t.TempDir(), "--rules", rules}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, logs, stop := serveInTest(t, cfg, noEnv)
	t.Cleanup(func() {
		stop()
		for _, secret := range []string{"an-app-secret", "a-webhook-secret-123", "app-token-"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log contains %q", secret)
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "webhook subscriptions in step") {
		if time.Now().After(deadline) {
			t.Fatal("herald never synchronised the webhook subscriptions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for _, s := range fake.Subs() {
		id := s.ID
		if strings.HasPrefix(id, "sub-") {
			id = "new"
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", id, s.Type, s.Status, s.Callback))
	}
	slices.Sort(got)
	want := []string{
		"keep channel.cheer enabled " + callback,
		"new channel.raid webhook_callback_verification_pending " + callback,
		"new channel.subscribe webhook_callback_verification_pending " + callback,
		"other stream.offline enabled https://elsewhere.example.org/cb",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Twitch holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Contains(fake.Requests(), "POST /oauth2/token") {
		t.Error("herald did not get an app access token")
	}
}
