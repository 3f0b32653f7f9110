package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// TestSystemdUnitStartsHerald: the example unit's ExecStart parses as
// herald's flags do, and keeps herald's files in the state directory the
// unit asks systemd for: with ProtectSystem=strict any other place is
// read-only, and the journal would silently run in memory.
func TestSystemdUnitStartsHerald(t *testing.T) {
	unit, err := os.ReadFile("../../examples/notiservice.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	text := strings.ReplaceAll(string(unit), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	args := strings.Fields(keys["ExecStart"])
	if len(args) == 0 || !strings.HasSuffix(args[0], "/herald") {
		t.Fatalf("ExecStart = %q, want herald", keys["ExecStart"])
	}
	cfg, err := parseFlags(args[1:], noEnv, io.Discard)
	if err != nil {
		t.Fatalf("ExecStart's flags: %v", err)
	}
	if want := "/var/lib/" + keys["StateDirectory"]; keys["StateDirectory"] == "" || cfg.dataDir != want {
		t.Errorf("--data %q with StateDirectory=%q: herald's files must go to the state directory (%s)", cfg.dataDir, keys["StateDirectory"], want)
	}
}

// TestStatusCountsOnlyHeraldsCallback: Twitch lists every subscription of
// the application, another tool's and an old tunnel URL's too; herald
// twitch status reports the one for the rules file's callback.
func TestStatusCountsOnlyHeraldsCallback(t *testing.T) {
	const mine = "https://alerts.example.com/webhooks/twitch"
	subs := []eventsub.Subscription{
		{Type: "stream.offline", Status: "webhook_callback_verification_pending", Transport: eventsub.Transport{Method: "webhook", Callback: "https://other-tool.example.com/cb"}},
		{Type: "channel.follow", Status: "enabled", Transport: eventsub.Transport{Method: "webhook", Callback: mine}},
	}
	if s, ok := subscriptionOf(subs, "stream.offline", "webhook", mine); ok {
		t.Errorf("stream.offline = %q (%s), want none: it is another callback's", s.Status, s.Transport.Callback)
	}
	if s, ok := subscriptionOf(subs, "channel.follow", "webhook", mine); !ok || s.Status != "enabled" {
		t.Errorf("channel.follow = %q, %v; want herald's, enabled", s.Status, ok)
	}
}
