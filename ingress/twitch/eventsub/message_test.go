package eventsub_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

const (
	welcome      = `{"metadata":{"message_id":"96a3f3b5-5dec-4eed-908e-e11ee657416c","message_type":"session_welcome","message_timestamp":"2023-07-19T14:56:51.634234626Z"},"payload":{"session":{"id":"AQoQILE98gtqShGmLD7AM6yJThAB","status":"connected","connected_at":"2023-07-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,"reconnect_url":null}}}`
	keepalive    = `{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_keepalive","message_timestamp":"2023-07-19T10:11:12.634234626Z"},"payload":{}}`
	notification = `{"metadata":{"message_id":"befa7b53-d79d-478f-86b9-120f112b044e","message_type":"notification","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"enabled","type":"channel.follow","version":"2","cost":1,"condition":{"broadcaster_user_id":"12826","moderator_user_id":"12826"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2022-11-16T10:11:12.464757833Z"},"event":{"user_id":"1337","user_login":"awesome_user","user_name":"Awesome_User","broadcaster_user_id":"12826","broadcaster_user_login":"twitch","broadcaster_user_name":"Twitch","followed_at":"2023-07-15T18:16:11.17106713Z"}}}`
	reconnect    = `{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_reconnect","message_timestamp":"2022-11-18T09:10:11.634234626Z"},"payload":{"session":{"id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB","status":"reconnecting","keepalive_timeout_seconds":null,"reconnect_url":"wss://eventsub.wss.twitch.tv?...","connected_at":"2022-11-16T10:11:12.634234626Z"}}}`
	revocation   = `{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"revocation","message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow","subscription_version":"1"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"authorization_revoked","type":"channel.follow","version":"1","cost":1,"condition":{"broadcaster_user_id":"12826"},"transport":{"method":"websocket","session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2022-11-16T10:11:12.464757833Z"}}}`
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(eventsub.Message) bool
		wantErr string
	}{
		{name: "welcome", in: welcome, check: func(m eventsub.Message) bool {
			return m.Type == "session_welcome" && m.Session.ID == "AQoQILE98gtqShGmLD7AM6yJThAB" && m.Session.Keepalive == 10
		}},
		{name: "keepalive", in: keepalive, check: func(m eventsub.Message) bool { return m.Type == "session_keepalive" }},
		{name: "notification", in: notification, check: func(m eventsub.Message) bool {
			return m.ID == "befa7b53-d79d-478f-86b9-120f112b044e" && m.SubscriptionType == "channel.follow" && m.SubscriptionVersion == "2" &&
				m.Event["user_name"] == "Awesome_User" && m.SubscriptionID == "f1c2a387-161a-49f9-a165-0f21d7a4e1c4"
		}},
		{name: "reconnect", in: reconnect, check: func(m eventsub.Message) bool {
			return m.Session.ReconnectURL == "wss://eventsub.wss.twitch.tv?..." && m.Session.Status == "reconnecting"
		}},
		{name: "revocation", in: revocation, check: func(m eventsub.Message) bool {
			return m.Subscription["status"] == "authorization_revoked" && m.Event == nil
		}},
		{name: "unknown type decodes", in: `{"metadata":{"message_id":"1","message_type":"session_shrug"},"payload":{}}`,
			check: func(m eventsub.Message) bool { return m.Type == "session_shrug" }},
		{name: "not JSON", in: `{"metadata":`, wantErr: "malformed EventSub message"},
		{name: "no id", in: `{"metadata":{"message_type":"session_keepalive"},"payload":{}}`, wantErr: "missing message_id"},
		{name: "welcome without session", in: `{"metadata":{"message_id":"1","message_type":"session_welcome"},"payload":{}}`, wantErr: "without a session id"},
		{name: "reconnect without url", in: strings.Replace(reconnect, `"reconnect_url":"wss://eventsub.wss.twitch.tv?..."`, `"reconnect_url":null`, 1), wantErr: "without a reconnect_url"},
		{name: "notification without event", in: strings.Replace(notification, `"event":`, `"evnt":`, 1), wantErr: "without an event object"},
		{name: "notification with a string event", in: `{"metadata":{"message_id":"1","message_type":"notification"},"payload":{"subscription":{"type":"x"},"event":"boo"}}`, wantErr: "without an event object"},
		{name: "bad timestamp", in: strings.Replace(keepalive, "2023-07-19T10:11:12.634234626Z", "yesterday", 1), wantErr: "bad message_timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := eventsub.DecodeMessage([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, eventsub.ErrMalformed) {
					t.Fatalf("DecodeMessage error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(m) {
				t.Fatalf("DecodeMessage = %+v, %v", m, err)
			}
		})
	}
}

// FuzzDecodeMessage: the decoder never panics, and whatever it accepts
// holds what the client relies on.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{welcome, keepalive, notification, reconnect, revocation, `{}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	// The recorded Twitch payloads, wrapped as WebSocket notifications.
	files, _ := filepath.Glob("../../../../shared/fixtures/twitch/*.notification.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := eventsub.DecodeMessage(b)
		if err != nil {
			if !errors.Is(err, eventsub.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if m.ID == "" || m.Type == "" {
			t.Fatalf("accepted a message without id or type: %+v", m)
		}
		switch m.Type {
		case eventsub.TypeWelcome:
			if m.Session == nil || m.Session.ID == "" || m.Session.Keepalive < 0 {
				t.Fatalf("accepted a bad welcome: %+v", m)
			}
		case eventsub.TypeReconnect:
			if m.Session == nil || m.Session.ReconnectURL == "" {
				t.Fatalf("accepted a reconnect without URL: %+v", m)
			}
		case eventsub.TypeNotification:
			if m.Event == nil || m.Subscription == nil || m.SubscriptionType == "" {
				t.Fatalf("accepted a notification without event or subscription: %+v", m)
			}
		case eventsub.TypeRevocation:
			if m.Subscription == nil || m.SubscriptionType == "" {
				t.Fatalf("accepted a revocation without subscription: %+v", m)
			}
		}
	})
}

func TestCloseMeanings(t *testing.T) {
	for code := 4000; code <= 4007; code++ {
		if m := eventsub.CloseMeaning(code); m == "unknown close code" || m == "" {
			t.Errorf("CloseMeaning(%d) = %q", code, m)
		}
	}
}

func TestResolveAndScopes(t *testing.T) {
	decl := []eventsub.Declared{{Type: "channel.follow"}, {Type: "channel.raid"}, {Type: "channel.cheer"},
		{Type: "channel.channel_points_custom_reward_redemption.add"}, {Type: "channel.ban", Version: "1", Condition: map[string]string{"broadcaster_user_id": "9"}, Scope: "moderator:read:banned_users"}}
	if got := decl[0].Resolve("7"); got.Version != "2" || got.Condition["moderator_user_id"] != "7" || got.Condition["broadcaster_user_id"] != "7" {
		t.Errorf("follow = %+v", got)
	}
	if got := decl[1].Resolve("7"); got.Condition["to_broadcaster_user_id"] != "7" || len(got.Condition) != 1 {
		t.Errorf("raid = %+v", got)
	}
	if got := decl[4].Resolve("7"); got.Version != "1" || got.Condition["broadcaster_user_id"] != "9" {
		t.Errorf("explicit = %+v", got)
	}
	scopes := eventsub.LoginScopes(decl)
	want := "bits:read channel:read:redemptions moderator:read:banned_users moderator:read:followers"
	if strings.Join(scopes, " ") != want {
		t.Errorf("LoginScopes = %v, want %s", scopes, want)
	}
	missing := eventsub.Missing(decl, []string{"bits:read", "channel:manage:redemptions"})
	var got []string
	for _, m := range missing {
		got = append(got, m.String())
	}
	if strings.Join(got, "; ") != "channel.follow needs scope moderator:read:followers; channel.ban needs scope moderator:read:banned_users" {
		t.Errorf("Missing = %v", got)
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	msg := []byte(notification)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := eventsub.DecodeMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuiltInTable: every type the issue names is built in, with the
// condition keys Twitch documents.
func TestBuiltInTable(t *testing.T) {
	want := map[string]string{
		"channel.follow": "broadcaster_user_id,moderator_user_id", "channel.subscribe": "broadcaster_user_id",
		"channel.subscription.gift": "broadcaster_user_id", "channel.subscription.message": "broadcaster_user_id",
		"channel.cheer": "broadcaster_user_id", "channel.raid": "to_broadcaster_user_id",
		"channel.channel_points_custom_reward_redemption.add": "broadcaster_user_id",
		"stream.online": "broadcaster_user_id", "stream.offline": "broadcaster_user_id",
		"channel.hype_train.begin": "broadcaster_user_id", "channel.hype_train.end": "broadcaster_user_id",
	}
	for typ, keys := range want {
		k, ok := eventsub.Lookup(typ)
		if !ok || k.Version == "" || strings.Join(k.UserKeys, ",") != keys {
			t.Errorf("Lookup(%q) = %+v, %v; want condition keys %s", typ, k, ok, keys)
		}
	}
}
