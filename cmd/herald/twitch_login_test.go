package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/faketwitch"
	"github.com/heraldhq/herald/internal/pagetest"
)

// startTwitchWithoutLogin is startTwitch before `herald twitch login`.
func startTwitchWithoutLogin(t *testing.T, subs string) *twitchHarness {
	t.Helper()
	h := &twitchHarness{fake: faketwitch.New(t), data: t.TempDir()}
	h.fake.Keepalive = 1
	h.rules = filepath.Join(t.TempDir(), "rules.yaml")
	h.writeRules(t, subs, "")
	cfg, err := parseFlags([]string{"-p", "0", "-l", "DEBUG", "--data", h.data, "--rules", h.rules,
		"--admin-token", testToken}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h.base, h.logs, h.stop = serveInTest(t, cfg, noEnv)
	t.Cleanup(h.stop)
	h.page = pagetest.Start(t, h.base, pagetest.Options{Code: "alerts-ws"})
	h.page.WaitRegistered(t)
	return h
}

// login runs `herald twitch login` against the fake, which approves it
// with access as the new token.
func (h *twitchHarness) login(t *testing.T, access string) {
	t.Helper()
	h.fake.DevicePolls("ok:" + access + ":" + access + "-refresh")
	if code, out, errOut := runHerald(t, "twitch", "login", "--rules", h.rules, "--data", h.data); code != exitOK {
		t.Fatalf("herald twitch login exited %d: %s%s", code, out, errOut)
	}
}

// waitSubscribed waits until one session holds every type in types.
func (h *twitchHarness) waitSubscribed(t *testing.T, types ...string) string {
	t.Helper()
	var session string
	waitFor(t, fmt.Sprintf("one session subscribed to %v", types), func() bool {
		held := map[string]map[string]bool{}
		for _, s := range h.fake.Subs() {
			if held[s.Session] == nil {
				held[s.Session] = map[string]bool{}
			}
			held[s.Session][s.Type] = true
		}
		for sess, got := range held {
			if len(got) == len(types) {
				session = sess
				return true
			}
		}
		return false
	})
	return session
}

// TestTwitchWebSocketWaitsForLogin: started before `herald twitch login`,
// the instance says it waits for a login (log and /api/rules), does not
// stop, and connects by itself once the login is saved: no restart, no
// reload.
func TestTwitchWebSocketWaitsForLogin(t *testing.T) {
	h := startTwitchWithoutLogin(t, allSubs)
	waitFor(t, "/api/rules to say why the instance is not connected", func() bool {
		conn, _ := twitchConnection(t, h.base)
		return conn != nil && conn.LastError != ""
	})
	conn, _ := twitchConnection(t, h.base)
	if conn.State != ingress.StateWaiting || !strings.Contains(conn.LastError, "herald twitch login") {
		t.Errorf("without a login the connection is %q (%s), want %q and what to do", conn.State, conn.LastError, ingress.StateWaiting)
	}

	h.login(t, "device-access")
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 4)
	c.Notify("channel.follow", follow("Grace"))
	wantAlerts(t, h.page, "FOLLOW: Grace just followed!")
	logs := h.logs.String()
	if !strings.Contains(logs, "Twitch ingress waiting for a login") || strings.Contains(logs, "ingress stopped") {
		t.Errorf("the log should say the instance waits for a login, not that it stopped:\n%s", logs)
	}
	if strings.Contains(logs, "device-access") {
		t.Error("the log contains the token")
	}
}

// TestTwitchWebSocketNewLoginAsksAgain: after Twitch refused every
// subscription (403), a new `herald twitch login` is asked about at once,
// not at the refusals' retry time (30 s and more).
func TestTwitchWebSocketNewLoginAsksAgain(t *testing.T) {
	types := []string{"channel.follow", "channel.cheer", "channel.subscribe", "channel.raid"}
	h := startTwitch(t, allSubs, func(f *faketwitch.Server) {
		for _, typ := range types {
			f.Refuse(typ, -1)
		}
	})
	h.fake.NextConn(t)
	h.waitLog(t, "created=0 declared=4")
	for _, typ := range types {
		h.fake.Refuse(typ, 0) // the new login has the right
	}
	h.login(t, "device-access")
	h.waitSubscribed(t, types...)
	h.waitLog(t, "asking Twitch again for every refused subscription")
}

// TestTwitchWebSocketNewLoginNewScopes: subscriptions left out for a
// missing scope are created once a new `herald twitch login` grants it,
// on the running session: the types it held deliver with no gap (a new
// session would leave a moment with none).
func TestTwitchWebSocketNewLoginNewScopes(t *testing.T) {
	h := startTwitch(t, allSubs, func(f *faketwitch.Server) { f.Scopes = []string{"moderator:read:followers"} })
	c1 := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c1.Session, 2) // follow and raid: cheer and subscribe lack their scope

	h.login(t, "device-access") // asks for every scope the file needs, for the same user
	h.fake.WaitSubs(t, c1.Session, 4)
	c1.Notify("channel.cheer", cheer("Linus", 5))
	wantAlerts(t, h.page, "CHEER: Linus cheered 5 bits!")
	h.waitLog(t, "new Twitch login saved with other scopes; the running session follows without closing")
	if strings.Contains(h.logs.String(), "starting a session with it") {
		t.Errorf("a new login of the same user started another session:\n%s", h.logs.String())
	}
}
