package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
)

const webhookRules = `version: 1
ingress:
  twitch:
    type: twitch
    path: /webhooks/twitch
    secret: ${TWITCH_SECRET}
  kofi:
    type: kofi
    path: /webhooks/kofi
    verification_token: ${KOFI_TOKEN}
rules:
  - name: follow
    when: source == "twitch" && type == "channel.follow"
    emit: FOLLOW
    to: ${ALERT_CODE}
    set:
      text: data.user_name + " just followed!"
  - name: donation
    when: source == "kofi" && type == "Donation"
    emit: DONATION
    to: ${ALERT_CODE}
    set:
      text: data.from_name + " sent " + data.amount + " " + data.currency
`

const twitchSecret = "a-twitch-secret-for-tests"

// TestWebhooksReachPages is issue 5 end to end: a signed Twitch EventSub
// request and a Ko-fi form post, each through the real server and the
// rules, reach a page running the official JavaScript client; a retry
// and a forgery reach nobody.
func TestWebhooksReachPages(t *testing.T) {
	env := map[string]string{"TWITCH_SECRET": twitchSecret, "KOFI_TOKEN": "kofi-token", "ALERT_CODE": "alerts-e2e"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(webhookRules), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServerEnv(t, getenv, func(c *config) { c.rulesFile = path })
	page := pagetest.Start(t, base, pagetest.Options{Code: "alerts-e2e"})
	page.WaitRegistered(t)

	follow := `{"subscription":{"id":"s1","status":"enabled","type":"channel.follow","version":"2","condition":{"broadcaster_user_id":"1"},"transport":{"method":"webhook","callback":"https://example.org/webhooks/twitch"},"created_at":"2026-11-25T00:00:00Z","cost":0},"event":{"user_id":"42","user_login":"ada","user_name":"Ada","broadcaster_user_id":"1","broadcaster_user_login":"me","broadcaster_user_name":"Me","followed_at":"2026-11-25T00:00:00Z"}}`
	send := func(id, signature string) answer {
		t.Helper()
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		if signature == "" {
			signature = twitchSignature(id, ts, follow)
		}
		return do(t, "POST", base+"/webhooks/twitch", strings.NewReader(follow), map[string]string{
			"Content-Type":                         "application/json",
			"Twitch-Eventsub-Message-Id":           id,
			"Twitch-Eventsub-Message-Retry":        "0",
			"Twitch-Eventsub-Message-Type":         "notification",
			"Twitch-Eventsub-Message-Signature":    signature,
			"Twitch-Eventsub-Message-Timestamp":    ts,
			"Twitch-Eventsub-Subscription-Type":    "channel.follow",
			"Twitch-Eventsub-Subscription-Version": "2",
		})
	}

	if a := send("msg-1", ""); a.status != 200 {
		t.Fatalf("signed notification = %d %s, want 200", a.status, a.body)
	}
	expectAlert(t, page, "FOLLOW", "Ada just followed!", "twitch")

	if a := send("msg-1", ""); a.status != 200 || !strings.Contains(a.body, `"duplicate":true`) {
		t.Errorf("retry with the same id = %d %s, want 200 duplicate", a.status, a.body)
	}
	if a := send("msg-2", "sha256="+strings.Repeat("0", 64)); a.status != 403 {
		t.Errorf("forged signature = %d %s, want 403", a.status, a.body)
	}

	// The next alert the page sees must be the donation: neither the retry
	// nor the forgery reached it.
	donation := map[string]any{
		"verification_token": "kofi-token", "message_id": "k-1", "timestamp": "2026-11-25T00:00:00Z",
		"type": "Donation", "is_public": true, "from_name": "Grace", "message": "keep going",
		"amount": "5.00", "currency": "EUR", "email": "grace@example.org", "url": "https://ko-fi.com/home/coffeeshop?txid=1",
	}
	b, _ := json.Marshal(donation)
	form := url.Values{"data": {string(b)}}.Encode()
	a := do(t, "POST", base+"/webhooks/kofi", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if a.status != 200 {
		t.Fatalf("Ko-fi post = %d %s, want 200", a.status, a.body)
	}
	data := expectAlert(t, page, "DONATION", "Grace sent 5.00 EUR", "kofi")
	if _, leaked := data["email"]; leaked {
		t.Errorf("the donor's email reached the page: %v", data)
	}
}

func twitchSignature(id, ts, body string) string {
	mac := hmac.New(sha256.New, []byte(twitchSecret))
	mac.Write([]byte(id + ts + body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// expectAlert reads the page's next event and checks its name, text and
// source; it returns the payload.
func expectAlert(t *testing.T, page *pagetest.Page, name, text, source string) map[string]any {
	t.Helper()
	msg := page.Next(t, 10*time.Second)
	if msg.Event != name || len(msg.Args) < 2 {
		t.Fatalf("page got %s (%d args), want %s", msg.Event, len(msg.Args), name)
	}
	var data map[string]any
	var meta struct{ Source string }
	if err := json.Unmarshal(msg.Args[0], &data); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(msg.Args[1], &meta); err != nil {
		t.Fatal(err)
	}
	if data["text"] != text || meta.Source != source {
		t.Errorf("%s: text %q source %q, want %q from %s", name, data["text"], meta.Source, text, source)
	}
	return data
}

// TestWebhookRetryAfterRestartIsDuplicate: the de-duplication window is in
// the journal, so a platform's retry that arrives after herald was killed
// and started again on the same data directory is still recognised and
// reaches no page.
func TestWebhookRetryAfterRestartIsDuplicate(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(`version: 1
ingress:
  kofi:
    type: kofi
    path: /webhooks/kofi
    verification_token: kofi-token
rules:
  - name: donation
    when: source == "kofi" && type == "Donation"
    emit: DONATION
    to: alerts-restart
    set:
      text: data.from_name + " sent " + data.amount
`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	post := func(base, id, from string) answer {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"verification_token": "kofi-token", "message_id": id,
			"timestamp": "2026-11-25T00:00:00Z", "type": "Donation", "is_public": true, "from_name": from,
			"amount": "5.00", "currency": "EUR"})
		return do(t, "POST", base+"/webhooks/kofi", strings.NewReader(url.Values{"data": {string(b)}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	h := startHerald(t, "--data", data, "--rules", rules)
	if a := post(h.base, "k-1", "Grace"); a.status != 200 || strings.Contains(a.body, "duplicate") {
		t.Fatalf("first delivery = %d %s, want 200", a.status, a.body)
	}
	h.kill9(t)

	h = startHerald(t, "--data", data, "--rules", rules)
	page := pagetest.Start(t, h.base, pagetest.Options{Code: "alerts-restart", Handshake: true, Transports: []string{"websocket"}})
	page.WaitRegistered(t)
	// The first delivery reached no page: it is pending and comes first.
	expectAlert(t, page, "DONATION", "Grace sent 5.00", "kofi")
	if a := post(h.base, "k-1", "Grace"); a.status != 200 || !strings.Contains(a.body, `"duplicate":true`) {
		t.Errorf("Ko-fi's retry after the restart = %d %s, want 200 duplicate", a.status, a.body)
	}
	if a := post(h.base, "k-2", "Linus"); a.status != 200 {
		t.Fatalf("next donation = %d %s", a.status, a.body)
	}
	expectAlert(t, page, "DONATION", "Linus sent 5.00", "kofi") // not the retry
}
