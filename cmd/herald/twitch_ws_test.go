package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
	"github.com/heraldhq/herald/internal/faketwitch"
	"github.com/heraldhq/herald/internal/pagetest"
)

const wsRulesTemplate = `version: 1
ingress:
  twitch:
    type: twitch
    transport: websocket
    client_id: test-client
    eventsub_url: %s
    helix_url: %s
    auth_url: %s
    subscriptions: [%s]
rules:
  - name: follow
    when: source == "twitch" && type == "channel.follow"
    emit: FOLLOW
    to: alerts-ws
    set:
      text: data.user_name + " just followed!"
  - name: cheer
    when: source == "twitch" && type == "channel.cheer"
    emit: CHEER
    to: alerts-ws
    set:
      text: data.user_name + " cheered " + string(data.bits) + " bits!"
  - name: subscribe
    when: source == "twitch" && type == "channel.subscribe"
    emit: SUB
    to: alerts-ws
    set:
      text: data.user_name + " just subscribed!"
  - name: raid
    when: source == "twitch" && type == "channel.raid"
    emit: RAID
    to: alerts-ws
    set:
      text: data.from_broadcaster_user_name + " is raiding with " + string(data.viewers) + " viewers!"
  - name: revoked
    when: source == "twitch" && type == "revocation"
    emit: EVENTSUB_REVOKED
    to: alerts-ws
    set:
      text: '"Twitch stopped sending " + data.type + " (" + data.status + ")"'
`

const allSubs = "channel.follow, channel.cheer, channel.subscribe, channel.raid"

// twitchHarness is a real herald (run in-process on 127.0.0.1:0) reading
// Twitch over the EventSub WebSocket from a fake Twitch, with a real page.
type twitchHarness struct {
	fake  *faketwitch.Server
	rules string
	data  string
	base  string
	logs  *syncBuffer
	stop  func() // shuts herald down and waits
	page  *pagetest.Page

	// eventSubURL replaces the fake's in the rules written next.
	eventSubURL string
}

func startTwitch(t *testing.T, subs string, setup func(*faketwitch.Server)) *twitchHarness {
	t.Helper()
	return startTwitchLoggedInAs(t, subs, setup, "test-client")
}

// startTwitchLoggedInAs is startTwitch with a login made for clientID
// (the rules file's client_id is test-client).
func startTwitchLoggedInAs(t *testing.T, subs string, setup func(*faketwitch.Server), clientID string) *twitchHarness {
	t.Helper()
	h := &twitchHarness{fake: faketwitch.New(t), data: t.TempDir()}
	h.fake.Keepalive = 1 // herald then gives up on a silent session after 2 s
	if setup != nil {
		setup(h.fake)
	}
	h.fake.Grant("access-1", "refresh-1", "access-2")
	err := auth.Store{Dir: h.data}.Save(auth.Token{ClientID: clientID, Access: auth.NewSecret("access-1"),
		Refresh: auth.NewSecret("refresh-1"), Scopes: h.fake.Scopes, UserID: "4242", Login: "ada", Expires: time.Now().Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	h.rules = filepath.Join(t.TempDir(), "rules.yaml")
	h.writeRules(t, subs, "")
	cfg, err := parseFlags([]string{"-p", "0", "-l", "DEBUG", "--data", h.data, "--rules", h.rules,
		"--admin-token", testToken, "--metrics"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h.base, h.logs, h.stop = serveInTest(t, cfg, noEnv)
	t.Cleanup(func() {
		h.stop()
		h.checkNoSecretLogged(t)
	})
	h.page = pagetest.Start(t, h.base, pagetest.Options{Code: "alerts-ws"})
	h.page.WaitRegistered(t)
	return h
}

func (h *twitchHarness) writeRules(t *testing.T, subs, extra string) {
	t.Helper()
	url := h.fake.EventSubURL()
	if h.eventSubURL != "" {
		url = h.eventSubURL
	}
	body := fmt.Sprintf(wsRulesTemplate, url, h.fake.HelixURL(), h.fake.AuthURL(), subs) + extra
	tmp := h.rules + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.rules); err != nil {
		t.Fatal(err)
	}
}

// checkNoSecretLogged: no token herald ever held reaches its log.
func (h *twitchHarness) checkNoSecretLogged(t *testing.T) {
	logs := h.logs.String()
	for _, secret := range []string{"access-1", "access-2", "refresh-1", "refresh-1+"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the token %q", secret)
		}
	}
}

// waitLog waits until the log holds want.
func (h *twitchHarness) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func follow(user string) map[string]any {
	return map[string]any{"user_id": "42", "user_login": strings.ToLower(user), "user_name": user,
		"broadcaster_user_id": "4242", "broadcaster_user_login": "ada", "broadcaster_user_name": "Ada", "followed_at": "2026-11-28T00:00:00Z"}
}

func cheer(user string, bits int) map[string]any {
	return map[string]any{"is_anonymous": false, "user_id": "43", "user_login": strings.ToLower(user), "user_name": user,
		"broadcaster_user_id": "4242", "broadcaster_user_login": "ada", "broadcaster_user_name": "Ada", "message": "pog", "bits": bits}
}

func sub(user string) map[string]any {
	return map[string]any{"user_id": "44", "user_login": strings.ToLower(user), "user_name": user,
		"broadcaster_user_id": "4242", "broadcaster_user_login": "ada", "broadcaster_user_name": "Ada", "tier": "1000", "is_gift": false}
}

func raid(from string, viewers int) map[string]any {
	return map[string]any{"from_broadcaster_user_id": "45", "from_broadcaster_user_login": strings.ToLower(from), "from_broadcaster_user_name": from,
		"to_broadcaster_user_id": "4242", "to_broadcaster_user_login": "ada", "to_broadcaster_user_name": "Ada", "viewers": viewers}
}

// alerts reads n alerts from the page and returns their texts, sorted
// (events on two connections have no order between them).
func alerts(t *testing.T, page *pagetest.Page, n int) []string {
	t.Helper()
	var out []string
	for range n {
		m := page.Next(t, 15*time.Second)
		var data map[string]any
		if err := m.Decode(0, &data); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Event+": "+fmt.Sprint(data["text"]))
	}
	slices.Sort(out)
	return out
}

func wantAlerts(t *testing.T, page *pagetest.Page, want ...string) {
	t.Helper()
	got := alerts(t, page, len(want))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("page received %q, want %q", got, want)
	}
}

// TestTwitchWebSocketEndToEnd is the no-public-server path: herald dials
// EventSub, subscribes with the login's user id, and notifications reach
// a real page through the rules; a redelivered message id does not; a
// session_reconnect moves the session without losing what the old
// connection still delivered; a revocation is published and not
// resubscribed; shutdown closes the connection cleanly.
func TestTwitchWebSocketEndToEnd(t *testing.T) {
	h := startTwitch(t, allSubs, nil)
	c1 := h.fake.NextConn(t)
	subs := h.fake.WaitSubs(t, c1.Session, 4)
	conditions := map[string]string{}
	for _, s := range subs {
		b, _ := json.Marshal(s.Condition)
		conditions[s.Type+" v"+s.Version] = string(b)
	}
	wantConditions := map[string]string{
		"channel.follow v2":    `{"broadcaster_user_id":"4242","moderator_user_id":"4242"}`,
		"channel.cheer v1":     `{"broadcaster_user_id":"4242"}`,
		"channel.subscribe v1": `{"broadcaster_user_id":"4242"}`,
		"channel.raid v1":      `{"to_broadcaster_user_id":"4242"}`,
	}
	if fmt.Sprint(conditions) != fmt.Sprint(wantConditions) {
		t.Errorf("subscriptions created = %v, want %v", conditions, wantConditions)
	}

	id := c1.Notify("channel.follow", follow("Grace"))
	wantAlerts(t, h.page, "FOLLOW: Grace just followed!")
	c1.NotifyID(id, "channel.follow", follow("Grace")) // Twitch redelivers
	c1.Notify("channel.cheer", cheer("Linus", 100))
	wantAlerts(t, h.page, "CHEER: Linus cheered 100 bits!") // and not a second FOLLOW

	h.fake.HoldReconnects()
	c1.Reconnect()
	// Until the new connection is welcomed, the old one still delivers.
	c1.Notify("channel.raid", raid("Hopper", 12))
	wantAlerts(t, h.page, "RAID: Hopper is raiding with 12 viewers!")
	h.fake.ReleaseReconnects()
	c2 := h.fake.NextConn(t)
	if !c2.Reconnected || c2.Session != c1.Session {
		t.Fatalf("after session_reconnect herald opened a new session %s, want the reconnect URL of %s", c2.Session, c1.Session)
	}
	select {
	case <-c1.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the old connection did not end after the new welcome")
	}
	c2.Notify("channel.subscribe", sub("Ada"))
	wantAlerts(t, h.page, "SUB: Ada just subscribed!")
	if n := len(h.fake.Subs()); n != 4 {
		t.Errorf("after the move Twitch holds %d subscriptions, want the same 4", n)
	}

	c2.Revoke("channel.cheer", "authorization_revoked")
	wantAlerts(t, h.page, "EVENTSUB_REVOKED: Twitch stopped sending channel.cheer (authorization_revoked)")
	h.waitLog(t, "subscription revoked")
	c2.CloseWith(4000)
	c3 := h.fake.NextConn(t)
	got := h.fake.WaitSubs(t, c3.Session, 3)
	time.Sleep(500 * time.Millisecond) // a fourth (cheer) would have been asked for by now
	for _, s := range h.fake.Subs() {
		if s.Session == c3.Session && s.Type == "channel.cheer" {
			t.Errorf("herald subscribed again to the revoked channel.cheer: %v", got)
		}
	}
	h.waitLog(t, "meaning=\"internal server error\"")

	h.stop()
	select {
	case <-c3.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown left the EventSub connection open")
	}
	if code := c3.CloseCode(); code != 1000 {
		t.Errorf("shutdown closed EventSub with %d, want 1000 (normal closure)", code)
	}
	for _, c := range []*faketwitch.Conn{c1, c2, c3} {
		if n := c.Inbound(); n != 0 {
			t.Errorf("herald sent %d frames to EventSub, which forbids any (4001)", n)
		}
	}
}

// TestTwitchWebSocketRecovers: a session whose keepalives stop is
// replaced by a new one (subscribed again); a token Twitch stopped
// accepting is refreshed after the 401 and the new pair saved; every close
// code 4000-4007 is logged with its meaning and followed by a new session.
func TestTwitchWebSocketRecovers(t *testing.T) {
	h := startTwitch(t, "channel.follow", nil)
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 1)

	h.fake.Expire("access-1") // the next Helix call gets 401
	c.StopKeepalives()
	c = h.fake.NextConn(t)
	if c.Reconnected {
		t.Fatal("a silent session was followed by a reconnect, want a new session")
	}
	h.fake.WaitSubs(t, c.Session, 1)
	h.waitLog(t, "no EventSub message within the keepalive timeout")
	tok, err := auth.Store{Dir: h.data}.Load()
	if err != nil || tok.Access.Value() != "access-2" || tok.Refresh.Value() != "refresh-1+" {
		t.Fatalf("after the 401 the saved login holds %v %v (err %v), want the refreshed pair", tok.Access.Value() != "", tok.Refresh.Value(), err)
	}
	if fi, err := os.Stat(filepath.Join(h.data, auth.TokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v (err %v), want 0600", fi.Mode().Perm(), err)
	}
	c.Notify("channel.follow", follow("Grace"))
	wantAlerts(t, h.page, "FOLLOW: Grace just followed!")

	for code := 4000; code <= 4007; code++ {
		c.CloseWith(code)
		c = h.fake.NextConn(t)
		h.fake.WaitSubs(t, c.Session, 1)
		h.waitLog(t, fmt.Sprintf("close_code=%d meaning=%q", code, eventsub.CloseMeaning(code)))
	}
	c.Notify("channel.follow", follow("Linus"))
	wantAlerts(t, h.page, "FOLLOW: Linus just followed!")
}

// TestTwitchWebSocketSlowHelix: subscription answers that take longer
// than the keepalive window neither stall the session (keepalives are
// still read) nor push any subscription past Twitch's 10 s window.
func TestTwitchWebSocketSlowHelix(t *testing.T) {
	h := startTwitch(t, allSubs, func(f *faketwitch.Server) { f.CreateDelay.Store(int64(3 * time.Second)) })
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 4)
	c.Notify("channel.cheer", cheer("Ada", 5))
	wantAlerts(t, h.page, "CHEER: Ada cheered 5 bits!")
	if strings.Contains(h.logs.String(), "keepalive timeout") {
		t.Error("herald dropped the session while the subscriptions were being created")
	}
	select {
	case <-c.Done():
		t.Fatalf("the session was closed (code %d)", c.CloseCode())
	default:
	}
}

// TestTwitchWebSocketAcrossReloads: a save that leaves the twitch block
// alone keeps the connection (and changes nothing at Twitch).
func TestTwitchWebSocketAcrossReloads(t *testing.T) {
	h := startTwitch(t, allSubs, nil)
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 4)
	before := len(h.fake.Requests())

	h.writeRules(t, allSubs, `  - name: extra
    when: type == "nothing"
    drop: true
`)
	h.waitLog(t, "gen=2")
	c.Notify("channel.follow", follow("Grace"))
	wantAlerts(t, h.page, "FOLLOW: Grace just followed!")
	select {
	case <-c.Done():
		t.Fatal("a reload that did not touch the twitch block closed the EventSub connection")
	default:
	}
	if got := h.fake.Requests()[before:]; len(got) != 0 {
		t.Errorf("a reload that did not touch the twitch block called Twitch: %v", got)
	}
}

// TestTwitchWebSocketMissingScope: a declared subscription whose scope
// the login lacks is named in the log (which scope, what to do) and left
// out; the others run.
func TestTwitchWebSocketMissingScope(t *testing.T) {
	h := startTwitch(t, allSubs, func(f *faketwitch.Server) { f.Scopes = []string{"moderator:read:followers"} })
	c := h.fake.NextConn(t)
	subs := h.fake.WaitSubs(t, c.Session, 2)
	h.waitLog(t, `needs="channel.cheer needs scope bits:read"`)
	h.waitLog(t, `needs="channel.subscribe needs scope channel:read:subscriptions"`)
	var types []string
	for _, s := range subs {
		types = append(types, s.Type)
	}
	slices.Sort(types)
	if strings.Join(types, ",") != "channel.follow,channel.raid" {
		t.Errorf("subscribed to %v, want channel.follow and channel.raid only", types)
	}
	c.Notify("channel.raid", raid("Hopper", 3))
	wantAlerts(t, h.page, "RAID: Hopper is raiding with 3 viewers!")
}

// TestTwitchWebSocketLoginOfAnotherClient: a login made for another
// client id than the rules file's is no network trouble to retry: herald
// says so once, at ERROR, and waits for a new login.
func TestTwitchWebSocketLoginOfAnotherClient(t *testing.T) {
	h := startTwitchLoggedInAs(t, allSubs, nil, "another-client")
	h.waitLog(t, `level=ERROR msg="Twitch ingress waiting for a login`)
	h.waitLog(t, `belongs to another client id (another-client, not test-client)`)
	if strings.Contains(h.logs.String(), "cannot reach Twitch to check the token; retrying") {
		t.Error("a login for another client id was retried as if Twitch could not be reached")
	}
}

// TestTwitchWebSocketStaticToken: access_token + broadcaster_user_id work
// against a server without /validate (the Twitch CLI's mock), and a
// token Twitch refuses stops the instance with one clear line instead of
// a loop of retries.
func TestTwitchWebSocketStaticToken(t *testing.T) {
	fake := faketwitch.New(t)
	fake.Keepalive = 1
	fake.Grant("static-token", "", "")
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(token string) {
		body := fmt.Sprintf(`version: 1
ingress:
  twitch:
    type: twitch
    transport: websocket
    client_id: test-client
    access_token: %s
    broadcaster_user_id: "777"
    eventsub_url: %s
    helix_url: %s
    auth_url: %s/no-such-auth-server
    subscriptions: [channel.raid]
rules:
  - name: raid
    when: source == "twitch" && type == "channel.raid"
    emit: RAID
    to: alerts-ws
    set:
      text: data.from_broadcaster_user_name + " is raiding with " + string(data.viewers) + " viewers!"
`, token, fake.EventSubURL(), fake.HelixURL(), strings.TrimSuffix(fake.AuthURL(), "/oauth2"))
		if err := os.WriteFile(rules+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(rules+".tmp", rules); err != nil {
			t.Fatal(err)
		}
	}
	write("static-token")
	cfg, err := parseFlags([]string{"-p", "0", "--data", t.TempDir(), "--rules", rules}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, stop := serveInTest(t, cfg, noEnv)
	t.Cleanup(func() {
		stop()
		if strings.Contains(logs.String(), "static-token") || strings.Contains(logs.String(), "revoked-token") {
			t.Error("the log contains the access token")
		}
	})
	page := pagetest.Start(t, base, pagetest.Options{Code: "alerts-ws"})
	page.WaitRegistered(t)
	c := fake.NextConn(t)
	subs := fake.WaitSubs(t, c.Session, 1)
	if subs[0].Condition["to_broadcaster_user_id"] != "777" {
		t.Errorf("raid condition = %v, want the broadcaster_user_id of the file", subs[0].Condition)
	}
	c.Notify("channel.raid", raid("Hopper", 7))
	wantAlerts(t, page, "RAID: Hopper is raiding with 7 viewers!")

	write("revoked-token") // not granted: Helix answers 401
	h := &twitchHarness{logs: logs}
	h.waitLog(t, "ingress stopped; fix the cause")
	h.waitLog(t, "the access_token in the rules file cannot be refreshed")
	time.Sleep(300 * time.Millisecond) // a retry loop would show by now
	if n := strings.Count(logs.String(), "cannot be refreshed"); n != 1 {
		t.Errorf("the refused token was reported %d times, want once", n)
	}
}
