package twitch_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/twitch"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
	"github.com/heraldhq/herald/internal/yamlpos"
)

const secret = "fixture-secret-0123456789"

// TestCases runs testdata/<case>/: every recorded Twitch CLI request plus
// forged, stale and malformed variants.
func TestCases(t *testing.T) {
	adaptertest.RunCases(t, twitch.New, "twitch")
}

// fixture loads a case's request and the clock its want.json names.
func fixture(t *testing.T, name string) (raw []byte, now time.Time) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name, "request.http"))
	if err != nil {
		t.Fatal(err)
	}
	req := mustParse(t, adaptertest.RawRequest(b))
	ts, err := time.Parse(time.RFC3339Nano, req.Header.Get("Twitch-Eventsub-Message-Timestamp"))
	if err != nil {
		t.Fatal(err)
	}
	return adaptertest.RawRequest(b), ts.Add(time.Second)
}

func mustParse(t testing.TB, raw []byte) *http.Request {
	t.Helper()
	req, err := adaptertest.ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func serve(t testing.TB, a http.Handler, raw []byte) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	a.ServeHTTP(w, mustParse(t, raw))
	return w
}

// TestRetryIsAnsweredButNotPublished: Twitch resends a message with the
// same id until it gets a 2xx; only the first may reach the pages.
func TestRetryIsAnsweredButNotPublished(t *testing.T) {
	raw, now := fixture(t, "channel.raid.notification")
	a, rec := adaptertest.Build(t, twitch.New, "twitch", "secret: "+secret, now)
	for i := range 3 {
		if w := serve(t, a, raw); w.Code != http.StatusOK {
			t.Fatalf("attempt %d: status = %d, want 200 (%s)", i, w.Code, w.Body)
		}
	}
	if n := len(rec.Events()); n != 1 {
		t.Fatalf("published %d events for 3 deliveries of one message, want 1", n)
	}
	if got := a.(ingress.StatsReporter).Stats(); got != (ingress.Stats{Published: 1, Duplicates: 2}) {
		t.Errorf("Stats() = %+v, want 1 published, 2 duplicates", got)
	}
	other, _ := fixture(t, "channel.cheer.notification")
	serve(t, a, other)
	if n := len(rec.Events()); n != 2 {
		t.Errorf("a different message id published %d events in all, want 2", n)
	}
}

// TestForgeryDoesNotPoisonDedupe: a forged request carrying a real message
// id must not make herald drop the genuine one as a duplicate.
func TestForgeryDoesNotPoisonDedupe(t *testing.T) {
	raw, now := fixture(t, "channel.follow.notification")
	forged, _ := fixture(t, "refuse-tampered-body")
	a, rec := adaptertest.Build(t, twitch.New, "twitch", "secret: "+secret, now)
	if w := serve(t, a, forged); w.Code != http.StatusForbidden {
		t.Fatalf("forged: status = %d, want 403", w.Code)
	}
	if w := serve(t, a, raw); w.Code != http.StatusOK {
		t.Fatalf("genuine: status = %d, want 200", w.Code)
	}
	if n := len(rec.Events()); n != 1 {
		t.Errorf("published %d events, want 1 (the genuine one)", n)
	}
}

// TestPublishFailureLetsRetryThrough: when the router cannot take the event
// (shutting down), Twitch gets a 503 and its retry must not be mistaken
// for a duplicate.
func TestPublishFailureLetsRetryThrough(t *testing.T) {
	raw, now := fixture(t, "stream.online.notification")
	p, rec := adaptertest.Params(t, "twitch", "secret: "+secret, now, nil)
	a, err := twitch.New(p)
	if err != nil {
		t.Fatal(err)
	}
	rec.Fail = errors.New("router closed")
	if w := serve(t, a, raw); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("while failing: status = %d, want 503", w.Code)
	}
	rec.Fail = nil
	if w := serve(t, a, raw); w.Code != http.StatusOK {
		t.Fatalf("retry: status = %d, want 200", w.Code)
	}
	if n := len(rec.Events()); n != 1 {
		t.Errorf("published %d events, want 1", n)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    string // exact error text; "" means success
	}{
		{name: "ten chars", options: "secret: '0123456789'"},
		{name: "hundred chars", options: "secret: " + strings.Repeat("x", 100)},
		{name: "nine chars", options: "secret: '012345678'", want: `rules.yaml:1:9: ingress "twitch": secret must be 10 to 100 characters, got 9`},
		{name: "too long", options: "\nsecret: " + strings.Repeat("x", 101), want: `rules.yaml:2:9: ingress "twitch": secret must be 10 to 100 characters, got 101`},
		{name: "missing", options: "", want: `rules.yaml: ingress "twitch": secret must be 10 to 100 characters, got 0`},
		{name: "unknown key", options: "secret: " + secret + "\nsecrte: x", want: `rules.yaml:2:1: unknown key "secrte" (known: access_token, auth_url, broadcaster_user_id, callback, client_id, client_secret, eventsub_url, helix_url, secret, subscriptions, transport)`},
		{name: "unknown transport", options: "transport: carrier-pigeon", want: `rules.yaml:1:12: ingress "twitch": transport must be webhook or websocket, got "carrier-pigeon"`},
		{name: "websocket", options: "transport: websocket\nclient_id: abc\nsubscriptions: [channel.follow, channel.cheer, {type: channel.ban, version: '1', condition: {broadcaster_user_id: '1'}, scope: 'moderator:read:banned_users'}]"},
		{name: "websocket without client id", options: "transport: websocket\nsubscriptions: [channel.follow]", want: `rules.yaml:1:1: ingress "twitch": the websocket transport needs client_id (your Twitch application's)`},
		{name: "websocket without subscriptions", options: "transport: websocket\nclient_id: abc", want: `rules.yaml:1:1: ingress "twitch": the websocket transport needs subscriptions (e.g. [channel.follow, channel.cheer])`},
		{name: "unknown subscription type", options: "transport: websocket\nclient_id: abc\nsubscriptions:\n  - channel.nope_nothing", want: `rules.yaml:4:5: ingress "twitch": subscription type "channel.nope_nothing" is not built in: give its version and condition (built in: ` + strings.Join(eventsub.KnownTypes(), ", ") + `)`},
		{name: "a subscription type a letter from a known one", options: "transport: websocket\nclient_id: abc\nsubscriptions:\n  - channel.folow", want: `rules.yaml:4:5: ingress "twitch": subscription type "channel.folow" is not built in; did you mean "channel.follow"? (a type herald does not know needs its version and condition)`},
		{name: "subscription twice", options: "transport: websocket\nclient_id: abc\nsubscriptions: [channel.cheer, channel.cheer]", want: `rules.yaml:3:32: ingress "twitch": subscription channel.cheer declared twice`},
		{name: "managed webhook without callback", options: "secret: " + secret + "\nclient_id: a\nclient_secret: b\nsubscriptions: [channel.follow]", want: `rules.yaml:4:16: ingress "twitch": managed webhook subscriptions need callback: the public https URL of /webhooks/twitch`},
		{name: "managed webhook without client secret", options: "secret: " + secret + "\ncallback: https://x.example/webhooks/twitch\nsubscriptions: [channel.follow]", want: `rules.yaml:3:16: ingress "twitch": managed webhook subscriptions need client_id and client_secret (an app access token)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := adaptertest.Params(t, "twitch", tc.options, time.Now(), nil)
			_, err := twitch.New(p)
			got := ""
			if err != nil {
				got = err.Error()
				var list yamlpos.List
				if !errors.As(err, &list) {
					t.Errorf("error %T is not a yamlpos.List", err)
				}
			}
			if got != tc.want {
				t.Errorf("New(%q) error = %q, want %q", tc.options, got, tc.want)
			}
		})
	}
}

// TestOptionsTheTransportDoesNotUse: a file moved from webhooks to the
// WebSocket (or back) keeps options the other transport needed; each is a
// positioned warning, not silently ignored, and not an error (the file
// worked before).
func TestOptionsTheTransportDoesNotUse(t *testing.T) {
	tests := []struct {
		name, options, path string
		want                []string
	}{
		{name: "websocket, clean", options: "transport: websocket\nclient_id: abc\nsubscriptions: [channel.follow]"},
		{name: "webhook, clean", options: "secret: " + secret, path: "/webhooks/twitch"},
		{name: "websocket with the webhook's options", path: "/webhooks/twitch",
			options: "transport: websocket\nclient_id: abc\nsecret: " + secret + "\ncallback: https://x.example/webhooks/twitch\nclient_secret: s\nsubscriptions: [channel.follow]",
			want: []string{
				`rules.yaml:1:1: warning: ingress "twitch": path is for transport: webhook; with transport: websocket Twitch calls no URL of herald's, so nothing is served there`,
				`rules.yaml:3:9: warning: ingress "twitch": secret is for transport: webhook; with transport: websocket herald connects to Twitch itself with the login of ` + "`herald twitch login`" + `, so it is not used`,
				`rules.yaml:4:11: warning: ingress "twitch": callback is for transport: webhook; with transport: websocket herald connects to Twitch itself with the login of ` + "`herald twitch login`" + `, so it is not used`,
				`rules.yaml:5:16: warning: ingress "twitch": client_secret is for transport: webhook; with transport: websocket herald connects to Twitch itself with the login of ` + "`herald twitch login`" + `, so it is not used`,
			}},
		{name: "webhook with the websocket's endpoint", path: "/webhooks/twitch", options: "secret: " + secret + "\neventsub_url: ws://127.0.0.1:1/ws",
			want: []string{`rules.yaml:2:15: warning: ingress "twitch": eventsub_url is for transport: websocket; with transport: webhook Twitch calls herald's path, so it is not used`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := adaptertest.Params(t, "twitch", tc.options, time.Now(), nil)
			p.Path = tc.path
			var warnings yamlpos.List
			p.Warnings = &warnings
			if _, err := twitch.New(p); err != nil {
				t.Fatalf("New = %v, want it built (warnings only)", err)
			}
			var got []string
			for _, w := range warnings.Sort() {
				got = append(got, w.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestSecretNeverLogged drives every log path (refusals, verification,
// revocation) and checks the secret never appears, while the revocation is
// logged at ERROR.
func TestSecretNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	_, now := fixture(t, "channel.follow.revocation")
	p, _ := adaptertest.Params(t, "twitch", "secret: "+secret, now, &logs)
	a, err := twitch.New(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Log.Info("config", "adapter", a)
	for _, c := range []string{"channel.follow.revocation", "channel.follow.webhook_callback_verification", "refuse-wrong-secret", "refuse-tampered-body", "refuse-unsigned"} {
		raw, _ := fixture(t, c)
		serve(t, a, raw)
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("logs contain the secret:\n%s", out)
	}
	if !strings.Contains(out, `level=ERROR msg="subscription revoked"`) {
		t.Errorf("revocation not logged at ERROR:\n%s", out)
	}
	if got := strings.Count(out, `level=WARN msg="webhook refused"`); got != 3 {
		t.Errorf("logged %d refusals, want 3:\n%s", got, out)
	}
}

func TestOversizedBody(t *testing.T) {
	raw, now := fixture(t, "channel.follow.notification")
	p, rec := adaptertest.Params(t, "twitch", "secret: "+secret, now, nil)
	p.MaxBody = 100
	a, err := twitch.New(p)
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(t, a, raw); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", w.Code)
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("published %d events, want 0", n)
	}
}

// TestOverRealHTTP sends the verification handshake and a notification
// through a real listening server, as Twitch would.
func TestOverRealHTTP(t *testing.T) {
	_, now := fixture(t, "channel.follow.webhook_callback_verification")
	a, rec := adaptertest.Build(t, twitch.New, "twitch", "secret: "+secret, now)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	challenge, _ := fixture(t, "channel.follow.webhook_callback_verification")
	resp := post(t, srv.URL, mustParse(t, challenge))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "4bd10894-bd0d-3c90-d94d-546fee5ae253" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("challenge answer = %d %q %q, want 200 text/plain with the raw challenge", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// Sign a fresh notification with the clock's time, as Twitch would now.
	ts := now.Format(time.RFC3339Nano)
	payload := `{"subscription":{"id":"s-1","type":"channel.follow","version":"2","status":"enabled","condition":{},"transport":{"method":"webhook","callback":"x"},"created_at":"x","cost":0},"event":{"user_name":"Ann"}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(payload))
	req.Header.Set("Twitch-Eventsub-Message-Id", "m-1")
	req.Header.Set("Twitch-Eventsub-Message-Timestamp", ts)
	req.Header.Set("Twitch-Eventsub-Message-Type", "notification")
	req.Header.Set("Twitch-Eventsub-Message-Signature", "sha256="+mac("m-1"+ts+payload))
	resp = post(t, srv.URL, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("notification: status = %d, want 200", resp.StatusCode)
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Type != "channel.follow" || evs[0].Data["user_name"] != "Ann" || evs[0].Source != "twitch" {
		t.Errorf("published %+v, want one channel.follow from Ann", evs)
	}
}

func post(t *testing.T, url string, req *http.Request) *http.Response {
	t.Helper()
	out, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, req.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func mac(s string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}
