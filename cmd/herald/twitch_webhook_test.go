package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
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

	rules := managedWebhook(t, fake, "4242", "channel.cheer", "channel.subscribe", "channel.raid")
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

// TestTwitchManagedWebhooksFollowANewLogin: a subscription the login
// lacks the scope for is left out (and logged, saying to log in again);
// a new `herald twitch login` that grants it is enough, without a
// restart: the running instance reads the login and synchronises again.
// A renewed token of the same login does not.
func TestTwitchManagedWebhooksFollowANewLogin(t *testing.T) {
	fake := faketwitch.New(t)
	rules := managedWebhook(t, fake, "", "channel.cheer", "channel.subscribe")
	data := t.TempDir()
	login := func(access string, scopes ...string) { t.Helper(); saveLoginWith(t, data, access, scopes...) }
	types := func() []string { return subTypes(fake) }
	login("access-1", "bits:read")
	cfg, err := parseFlags([]string{"-p", "0", "--data", data, "--rules", rules}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, logs, _ := serveInTest(t, cfg, noEnv)
	waitForText(t, logs, "webhook subscriptions in step")
	if got := types(); !slices.Equal(got, []string{"channel.cheer"}) {
		t.Fatalf("Twitch holds %v, want channel.cheer alone (the login lacks channel.subscribe's scope)", got)
	}
	if !strings.Contains(logs.String(), "the login lacks its scope; run `herald twitch login` again") {
		t.Errorf("the skipped subscription's line does not say what fixes it:\n%s", logs.String())
	}

	login("access-2", "bits:read")      // a renewal: same user, same scopes
	time.Sleep(2500 * time.Millisecond) // more than a poll
	if strings.Contains(logs.String(), "new Twitch login found") {
		t.Error("a renewed token of the same login was taken for a new login")
	}
	// A login that cannot be read for a moment (a write under way, the
	// cluster's Redis away) has not changed either.
	if err := os.WriteFile(auth.Store{Dir: data}.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if strings.Contains(logs.String(), "new Twitch login found") {
		t.Error("an unreadable login was taken for a new login")
	}

	login("access-3", "bits:read", "channel:read:subscriptions")
	waitForText(t, logs, "new Twitch login found; synchronising the webhook subscriptions again")
	deadline := time.Now().Add(15 * time.Second)
	for !slices.Equal(types(), []string{"channel.cheer", "channel.subscribe"}) {
		if time.Now().After(deadline) {
			t.Fatalf("Twitch holds %v after the new login, want channel.cheer and channel.subscribe", types())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwitchManagedWebhookFollowsALoginAfterALogout: `herald twitch
// logout`, then `herald twitch login` (another account, or to grant a
// scope). A managed webhook that takes the broadcaster from the login
// has none in between: it leaves its subscriptions as they are and
// waits, where it used to stop until a reload, never following the new
// login.
func TestTwitchManagedWebhookFollowsALoginAfterALogout(t *testing.T) {
	fake := faketwitch.New(t)
	rules := managedWebhook(t, fake, "", "channel.cheer", "channel.subscribe")
	data := t.TempDir()
	saveLoginWith(t, data, "access-1", "bits:read")
	cfg, err := parseFlags([]string{"-p", "0", "--data", data, "--rules", rules}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, logs, _ := serveInTest(t, cfg, noEnv)
	waitForText(t, logs, "webhook subscriptions in step")

	if err := (auth.Store{Dir: data}).Delete(); err != nil { // herald twitch logout
		t.Fatal(err)
	}
	waitForText(t, logs, "webhook subscriptions left as they are; waiting for a login")
	saveLoginWith(t, data, "access-2", "bits:read", "channel:read:subscriptions")
	deadline := time.Now().Add(15 * time.Second)
	for !slices.Equal(subTypes(fake), []string{"channel.cheer", "channel.subscribe"}) {
		if time.Now().After(deadline) {
			t.Fatalf("Twitch holds %v after the new login, want channel.cheer and channel.subscribe\n%s", subTypes(fake), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "ingress stopped") {
		t.Errorf("the instance stopped on the logout:\n%s", logs.String())
	}
}

// saveLoginWith saves a login of user 4242 (ada) with scopes to data, as
// `herald twitch login` does.
func saveLoginWith(t *testing.T, data, access string, scopes ...string) {
	t.Helper()
	err := auth.Store{Dir: data}.Save(auth.Token{ClientID: "test-client", Access: auth.NewSecret(access),
		Refresh: auth.NewSecret("refresh-" + access), UserID: "4242", Login: "ada", Scopes: scopes,
		Expires: time.Now().Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

// subTypes lists the types of the subscriptions the fake Twitch holds,
// sorted.
func subTypes(fake *faketwitch.Server) []string {
	var got []string
	for _, s := range fake.Subs() {
		got = append(got, s.Type)
	}
	slices.Sort(got)
	return got
}
