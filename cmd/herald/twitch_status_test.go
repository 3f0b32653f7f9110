package main

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/faketwitch"
)

// twitchConnection reads the twitch instance's connection from /api/rules,
// with the raw body.
func twitchConnection(t *testing.T, base string) (*ingress.RunStatus, string) {
	t.Helper()
	a := do(t, "GET", base+"/api/rules", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var st struct {
		Instances []struct {
			Name       string             `json:"name"`
			Connection *ingress.RunStatus `json:"connection"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(a.body), &st); err != nil {
		t.Fatalf("GET /api/rules = %d %s: %v", a.status, a.body, err)
	}
	for _, in := range st.Instances {
		if in.Name == "twitch" {
			return in.Connection, a.body
		}
	}
	t.Fatalf("/api/rules lists no twitch instance: %s", a.body)
	return nil, ""
}

// TestTwitchWebSocketStatus: /api/rules shows the EventSub session as the
// streamer needs to see it (connected, its session id, a keepalive time,
// every declared subscription with its state: enabled, missing scope,
// refused by Twitch) and never a token; /metrics has the session gauge;
// a lost session shows as reconnecting, then connected again.
func TestTwitchWebSocketStatus(t *testing.T) {
	h := startTwitch(t, allSubs, func(f *faketwitch.Server) {
		f.Scopes = []string{"moderator:read:followers", "channel:read:subscriptions"} // no bits:read: cheer is left out
		f.Refuse("channel.subscribe", -1)                                             // Twitch says 403
	})
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 2)

	var conn *ingress.RunStatus
	var body string
	waitFor(t, "/api/rules to show the session connected with a keepalive", func() bool {
		conn, body = twitchConnection(t, h.base)
		return conn != nil && conn.State == ingress.StateConnected && !conn.LastKeepalive.IsZero() &&
			subStatus(conn)["channel.subscribe"] == ingress.SubRefused
	})
	if conn.Session != c.Session {
		t.Errorf("session_id = %q, want %q", conn.Session, c.Session)
	}
	if conn.ConnectedSince.IsZero() || conn.LastKeepalive.Before(conn.ConnectedSince) {
		t.Errorf("connected_since %v, last_keepalive %v: want both, the keepalive not before the welcome", conn.ConnectedSince, conn.LastKeepalive)
	}
	want := map[string]string{
		"channel.follow":    ingress.SubEnabled,
		"channel.raid":      ingress.SubEnabled,
		"channel.cheer":     ingress.SubMissingScope,
		"channel.subscribe": ingress.SubRefused,
	}
	if got := subStatus(conn); !maps.Equal(got, want) {
		t.Errorf("subscriptions = %v, want %v", got, want)
	}
	for _, s := range conn.Subscriptions {
		switch s.Type {
		case "channel.cheer":
			if !strings.Contains(s.Detail, "bits:read") {
				t.Errorf("cheer detail = %q, want the scope it needs", s.Detail)
			}
		case "channel.subscribe":
			if !strings.Contains(s.Detail, "403") || s.RetryAt.IsZero() {
				t.Errorf("subscribe detail %q, retry_at %v: want the 403 and when it is asked again", s.Detail, s.RetryAt)
			}
		}
	}
	if !strings.Contains(conn.LastError, "403") {
		t.Errorf("last_error = %q, want the refusal", conn.LastError)
	}
	for _, secret := range []string{"access-1", "access-2", "refresh-1"} {
		if strings.Contains(body, secret) {
			t.Errorf("/api/rules shows the token %q", secret)
		}
	}

	// The gauge says connected.
	if v := scrapeGauge(t, h.base, "herald_ingress_session_connected", "twitch"); v != 1 {
		t.Errorf("herald_ingress_session_connected{instance=twitch} = %v, want 1", v)
	}

	// A session Twitch closes shows as lost, with its reason, until the
	// next one is up.
	c.CloseWith(4000)
	waitFor(t, "/api/rules to show the close", func() bool {
		conn, _ = twitchConnection(t, h.base)
		return conn != nil && strings.Contains(conn.LastError, "4000")
	})
	c2 := h.fake.NextConn(t)
	waitFor(t, "/api/rules to show the new session", func() bool {
		conn, _ = twitchConnection(t, h.base)
		return conn != nil && conn.State == ingress.StateConnected && conn.Session == c2.Session
	})
}

func subStatus(st *ingress.RunStatus) map[string]string {
	out := map[string]string{}
	for _, s := range st.Subscriptions {
		out[s.Type] = s.Status
	}
	return out
}

// scrapeGauge reads one instance's gauge from /metrics.
func scrapeGauge(t *testing.T, base, name, instance string) float64 {
	t.Helper()
	a := do(t, "GET", base+"/metrics", nil, nil)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, a.body)
	}
	v, ok := value(families[name], map[string]string{"instance": instance})
	if !ok {
		t.Fatalf("%s{instance=%q} missing from /metrics:\n%s", name, instance, a.body)
	}
	return v
}
