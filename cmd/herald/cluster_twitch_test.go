package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/faketwitch"
	"github.com/heraldhq/herald/internal/pagetest"
	"github.com/heraldhq/herald/internal/redistest"
)

// TestClusterSharesTheTwitchLogin: in cluster mode the Twitch login is
// kept in Redis too. Twitch renews a public client's refresh token each
// time it is used, so a copy of the login file on another node stops
// working once the node holding the session renews it. Here the login is
// made once, with --redis; the holder renews it; the other node, holding
// the copy a user would have made of the first login file, takes the
// session over when the holder is killed, with the renewed login from
// Redis, and its page gets the next follow.
func TestClusterSharesTheTwitchLogin(t *testing.T) {
	srv := redistest.Start(t)
	fake := faketwitch.New(t)
	fake.Keepalive = 1
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	body := fmt.Sprintf(wsRulesTemplate, fake.EventSubURL(), fake.HelixURL(), fake.AuthURL(), "channel.follow")
	if err := os.WriteFile(rules, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	dataA, dataB := t.TempDir(), t.TempDir()
	fake.DevicePolls("ok:tok-1:tok-1-refresh")
	if code, out, errOut := runHerald(t, "twitch", "login", "--rules", rules, "--redis", srv.URL()); code != exitOK {
		t.Fatalf("herald twitch login --redis exited %d: %s%s", code, out, errOut)
	}

	a := startHerald(t, "--redis", srv.URL(), "--rules", rules, "--data", dataA)
	c := fake.NextConn(t)
	fake.WaitSubs(t, c.Session, 1)
	// Node a keeps a copy of the cluster's login; b gets one by hand.
	first, err := os.ReadFile(filepath.Join(dataA, auth.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataB, auth.TokenFile), first, 0o600); err != nil {
		t.Fatal(err)
	}
	// Twitch stops taking tok-1: node a's next session renews the login
	// (and Twitch forgets tok-1-refresh).
	fake.Expire("tok-1")
	c.StopKeepalives()
	c = fake.NextConn(t)
	fake.WaitSubs(t, c.Session, 1)

	b := startHerald(t, "--redis", srv.URL(), "--rules", rules, "--data", dataB)
	page := pagetest.Start(t, b.base, pagetest.Options{Code: "alerts-ws"})
	page.WaitRegistered(t)
	fake.Expire("tok-1-refreshed") // b must renew it too, with the renewed refresh token
	a.kill9(t)
	c = fake.NextConn(t) // b's session, once it holds the lease
	fake.WaitSubs(t, c.Session, 1)
	c.Notify("channel.follow", follow("Grace"))
	wantAlerts(t, page, "FOLLOW: Grace just followed!")

	tok, err := auth.Store{Dir: dataB}.Load()
	if err != nil || tok.Refresh.Value() != "tok-1-refresh++" {
		t.Errorf("node b's login file holds refresh %q (err %v), want the twice renewed tok-1-refresh++", tok.Refresh.Value(), err)
	}
}

// TestTwitchLoginWithRedis: `herald twitch login --redis` keeps the login
// in the cluster's Redis, from any directory: status elsewhere shows it,
// and logout there logs the cluster out.
func TestTwitchLoginWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	fake := faketwitch.New(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	body := fmt.Sprintf(wsRulesTemplate, fake.EventSubURL(), fake.HelixURL(), fake.AuthURL(), "channel.follow")
	if err := os.WriteFile(rules, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fake.DevicePolls("ok:tok-1:tok-1-refresh")
	code, out, errOut := runHerald(t, "twitch", "login", "--rules", rules, "--redis", srv.URL())
	if code != exitOK || !strings.Contains(out, "saved to the cluster's Redis") {
		t.Fatalf("herald twitch login --redis = exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut = runHerald(t, "twitch", "status", "--rules", rules, "--redis", srv.URL())
	if code != exitOK || !strings.Contains(out, "logged in as ada") {
		t.Fatalf("herald twitch status on another node = exit %d: %s%s", code, out, errOut)
	}
	// herald check looks at the cluster's login too.
	if code, out, errOut = runHerald(t, "check", "--data", t.TempDir(), "--redis", srv.URL(), rules); code != exitOK || strings.Contains(errOut, "no Twitch login") {
		t.Errorf("herald check --redis = exit %d: %s%s; want the cluster's login found", code, out, errOut)
	}
	if _, _, errOut = runHerald(t, "check", "--data", t.TempDir(), rules); !strings.Contains(errOut, "no Twitch login in ") {
		t.Errorf("herald check without --redis: %s; want it to say the data dir has no login", errOut)
	}
	if code, out, errOut = runHerald(t, "twitch", "logout", "--rules", rules, "--redis", srv.URL()); code != exitOK {
		t.Fatalf("herald twitch logout --redis = exit %d: %s%s", code, out, errOut)
	}
	if v, err := srv.Client().HGet(t.Context(), "herald:shared:twitch-login", "value").Result(); err != nil || strings.Contains(v, "tok-1") {
		t.Errorf("the cluster's login is still in Redis after logout (%q, err %v)", v, err)
	}
	code, _, errOut = runHerald(t, "twitch", "status", "--rules", rules, "--redis", srv.URL())
	if code != exitFailure || !strings.Contains(errOut, "no Twitch login") {
		t.Errorf("status after logout = exit %d, %s; want no login", code, errOut)
	}
	_, _, errOut = runHerald(t, "twitch", "status", "--rules", rules, "--redis", "redis://127.0.0.1:1/0")
	if !strings.Contains(errOut, "unreachable") {
		t.Errorf("status with Redis down: %s, want it said unreachable", errOut)
	}
}
