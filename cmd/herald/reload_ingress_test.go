package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/faketwitch"
	"github.com/heraldhq/herald/router"
)

// webhookNeedingLogin is a managed webhook declaration whose broadcaster
// comes from the login: without one, its instance stops.
func webhookNeedingLogin(t *testing.T, fake *faketwitch.Server) string {
	t.Helper()
	return managedWebhook(t, fake, "", "channel.raid")
}

// managedWebhook writes a rules file declaring a managed Twitch webhook
// on fake, for callback https://alerts.example.org/webhooks/twitch, with
// broadcaster_user_id when it is not "", and returns its path.
func managedWebhook(t *testing.T, fake *faketwitch.Server, broadcaster string, subscriptions ...string) string {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	body := fmt.Sprintf(`version: 1
ingress:
  twitch:
    type: twitch
    path: /webhooks/twitch
    secret: a-webhook-secret-123
    client_id: test-client
    client_secret: an-app-secret
    callback: https://alerts.example.org/webhooks/twitch
    helix_url: %s
    auth_url: %s
    subscriptions: [%s]
`, fake.HelixURL(), fake.AuthURL(), strings.Join(subscriptions, ", "))
	if broadcaster != "" {
		body += fmt.Sprintf("    broadcaster_user_id: %q\n", broadcaster)
	}
	if err := os.WriteFile(rules, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return rules
}

func saveLogin(t *testing.T, data string) {
	t.Helper()
	err := auth.Store{Dir: data}.Save(auth.Token{ClientID: "test-client", Access: auth.NewSecret("access-1"),
		Refresh: auth.NewSecret("refresh-1"), UserID: "4242", Login: "ada", Expires: time.Now().Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReloadRestartsStoppedIngress: an ingress instance that stopped on an
// error starts again when the rules file is saved with the same bytes (an
// editor's save) or on SIGHUP (systemctl reload), as its log line says,
// though the rules themselves are not loaded again.
func TestReloadRestartsStoppedIngress(t *testing.T) {
	t.Run("save", func(t *testing.T) {
		fake := faketwitch.New(t)
		rules, data := webhookNeedingLogin(t, fake), t.TempDir()
		cfg, err := parseFlags([]string{"-p", "0", "--data", data, "--rules", rules}, noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, logs, _ := serveInTest(t, cfg, noEnv)
		waitForText(t, logs, "ingress stopped; fix the cause")
		saveLogin(t, data)
		same, err := os.ReadFile(rules)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rules, same, 0o600); err != nil {
			t.Fatal(err)
		}
		waitForText(t, logs, "webhook subscriptions in step")
		wantRaidFor4242(t, fake)
		waitForText(t, logs, "ingress started again after a reload request")
		if !strings.Contains(logs.String(), "save the rules file or send SIGHUP") {
			t.Error("the ingress stopped line does not say how to start it again")
		}
		if strings.Contains(logs.String(), "gen=2") {
			t.Error("the unchanged rules were loaded again")
		}
	})
	t.Run("SIGHUP", func(t *testing.T) {
		fake := faketwitch.New(t)
		rules, data := webhookNeedingLogin(t, fake), t.TempDir()
		logs := &syncBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		rt := router.New(router.Options{Log: log, DataDir: data})
		if _, err := loadRules(rt, rules); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go rt.RunIngress(ctx)
		hup := make(chan os.Signal)
		go reloader{rt: rt, file: rules, log: log}.onHangup(ctx, hup)
		waitForText(t, logs, "ingress stopped")
		saveLogin(t, data)
		hup <- syscall.SIGHUP
		waitForText(t, logs, "webhook subscriptions in step")
		wantRaidFor4242(t, fake)
		waitForText(t, logs, "SIGHUP: rules file unchanged; stopped ingress started again")
	})
}

func wantRaidFor4242(t *testing.T, fake *faketwitch.Server) {
	t.Helper()
	subs := fake.Subs()
	if len(subs) != 1 || subs[0].Type != "channel.raid" || subs[0].Condition["to_broadcaster_user_id"] != "4242" {
		t.Errorf("Twitch holds %+v, want the raid subscription for the login's user 4242", subs)
	}
}
