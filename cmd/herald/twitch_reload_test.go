package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/faketwitch"
)

// subsOf lists the types session holds at the fake, sorted.
func subsOf(fake *faketwitch.Server, session string) []string {
	var out []string
	for _, s := range fake.Subs() {
		if s.Session == session {
			out = append(out, s.Type)
		}
	}
	slices.Sort(out)
	return out
}

// waitSubsOf waits until session holds exactly types at the fake.
func waitSubsOf(t *testing.T, fake *faketwitch.Server, session string, types ...string) {
	t.Helper()
	slices.Sort(types)
	waitFor(t, fmt.Sprintf("session %s to hold %v", session, types), func() bool {
		return slices.Equal(subsOf(fake, session), types)
	})
}

// followsDuring sends a follow on c every 10 ms while during runs, and
// returns the alerts they must give.
func followsDuring(c *faketwitch.Conn, during func()) []string {
	stop, done := make(chan struct{}), make(chan []string)
	go func() {
		var want []string
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- want
				return
			default:
			}
			user := fmt.Sprintf("Fan%03d", i)
			c.Notify("channel.follow", follow(user))
			want = append(want, "FOLLOW: "+user+" just followed!")
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	during()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	return <-done
}

// TestTwitchReloadKeepsTheSession is a subscription added and removed
// while herald runs: the rules file is saved with a second type, then
// without the first, through herald's own reload (the file watcher). The
// EventSub session stays open throughout (no new connection, the same
// session id), follows Twitch sends all through the reload reach the
// page, the new type is created on the running session and delivers,
// the removed one is deleted from it, and a type whose scope the login
// lacks, or that Twitch refuses, is reported (log at ERROR, /api/rules,
// `herald twitch status`) without closing the session. A session
// started later (Twitch closes this one) subscribes to the file's list
// as it is now.
func TestTwitchReloadKeepsTheSession(t *testing.T) {
	h := startTwitch(t, "channel.follow", nil)
	c := h.fake.NextConn(t)
	waitSubsOf(t, h.fake, c.Session, "channel.follow")

	// Add channel.cheer while follows keep coming.
	want := followsDuring(c, func() {
		h.writeRules(t, "channel.follow, channel.cheer", "")
		waitFor(t, "channel.cheer to be subscribed", func() bool {
			return slices.ContainsFunc(h.fake.Subs(), func(s faketwitch.Sub) bool { return s.Type == "channel.cheer" })
		})
	})
	if n := h.fake.Sessions(); n != 1 {
		t.Errorf("adding a subscription opened %d sessions, want the first kept", n)
	}
	select {
	case <-c.Done():
		t.Errorf("adding a subscription closed the EventSub connection (code %d)", c.CloseCode())
	default:
	}
	if got := subsOf(h.fake, c.Session); !slices.Equal(got, []string{"channel.cheer", "channel.follow"}) {
		t.Errorf("session %s holds %v, want channel.cheer created on it beside channel.follow", c.Session, got)
	}
	t.Logf("%d follows sent through the reload", len(want))
	wantAlerts(t, h.page, want...) // every one of them
	c.Notify("channel.cheer", cheer("Linus", 100))
	wantAlerts(t, h.page, "CHEER: Linus cheered 100 bits!")
	conn, _ := twitchConnection(t, h.base)
	if conn.Session != c.Session || conn.State != ingress.StateConnected ||
		!maps.Equal(subStatus(conn), map[string]string{"channel.follow": ingress.SubEnabled, "channel.cheer": ingress.SubEnabled}) {
		t.Errorf("/api/rules connection = %+v, want session %s connected with follow and cheer enabled", conn, c.Session)
	}
	code, out, errOut := runHerald(t, "twitch", "status", "--rules", h.rules, "--data", h.data)
	if code != exitOK {
		t.Fatalf("herald twitch status exited %d: %s%s", code, out, errOut)
	}
	for _, typ := range []string{"channel.follow", "channel.cheer"} {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(typ) + ` +enabled$`).MatchString(out) {
			t.Errorf("herald twitch status printed:\n%s\nwant %s enabled", out, typ)
		}
	}

	// Remove channel.follow; add a type the login has no scope for and
	// one Twitch refuses.
	h.fake.Refuse("channel.raid", -1)
	want = followsDuring(c, func() {}) // still delivered before the change
	wantAlerts(t, h.page, want...)
	h.writeRules(t, "channel.cheer, channel.raid, channel.hype_train.begin", "")
	waitSubsOf(t, h.fake, c.Session, "channel.cheer")
	if !slices.Contains(h.fake.Requests(), "DELETE /helix/eventsub/subscriptions") {
		t.Errorf("removing channel.follow sent no DELETE; requests: %v", h.fake.Requests())
	}
	h.waitLog(t, `level=ERROR msg="subscription skipped: the login lacks its scope; run `+"`herald twitch login`"+` again" ingress=twitch type=twitch subscription_type=channel.hype_train.begin`)
	h.waitLog(t, `level=ERROR msg="subscription refused by Twitch: the login lacks a scope or the right; run `+"`herald twitch login`"+` again" ingress=twitch type=twitch subscription_type=channel.raid err="helix create channel.raid: 403 subscription missing proper authorization"`)
	waitFor(t, "/api/rules to show the new list", func() bool {
		conn, _ = twitchConnection(t, h.base)
		return maps.Equal(subStatus(conn), map[string]string{"channel.cheer": ingress.SubEnabled,
			"channel.raid": ingress.SubRefused, "channel.hype_train.begin": ingress.SubMissingScope})
	})
	if conn.Session != c.Session || !strings.Contains(conn.LastError, "403") {
		t.Errorf("/api/rules connection = %+v, want session %s with the refusal as last error", conn, c.Session)
	}
	c.Notify("channel.cheer", cheer("Ada", 5))
	wantAlerts(t, h.page, "CHEER: Ada cheered 5 bits!")
	if n := h.fake.Sessions(); n != 1 {
		t.Fatalf("changing the subscriptions opened %d sessions, want the first kept", n)
	}
	_, out, _ = runHerald(t, "twitch", "status", "--rules", h.rules, "--data", h.data)
	if !regexp.MustCompile(`(?m)^  channel\.cheer +enabled$`).MatchString(out) || strings.Contains(out, "channel.follow") {
		t.Errorf("herald twitch status printed:\n%s\nwant channel.cheer enabled and channel.follow gone", out)
	}

	// A session_reconnect moves the session with its subscriptions; a
	// new session subscribes to the list as it is now.
	c.Reconnect()
	c2 := h.fake.NextConn(t)
	if !c2.Reconnected || c2.Session != c.Session {
		t.Fatalf("after session_reconnect herald opened session %s, want the move of %s", c2.Session, c.Session)
	}
	c2.Notify("channel.cheer", cheer("Grace", 7))
	wantAlerts(t, h.page, "CHEER: Grace cheered 7 bits!")
	c2.CloseWith(4000)
	c3 := h.fake.NextConn(t)
	waitSubsOf(t, h.fake, c3.Session, "channel.cheer") // raid: still refused until its retry
	c3.Notify("channel.cheer", cheer("Hopper", 3))
	wantAlerts(t, h.page, "CHEER: Hopper cheered 3 bits!")
	time.Sleep(300 * time.Millisecond) // a follow would have been asked for by now
	if got := subsOf(h.fake, c3.Session); !slices.Equal(got, []string{"channel.cheer"}) {
		t.Errorf("the new session holds %v, want channel.cheer only", got)
	}
}

// TestTwitchReloadThatNeedsANewSession: a change the running session
// cannot follow (here eventsub_url: another server) closes it and opens
// a session there, subscribed to the new list.
func TestTwitchReloadThatNeedsANewSession(t *testing.T) {
	h := startTwitch(t, allSubs, nil)
	c := h.fake.NextConn(t)
	h.fake.WaitSubs(t, c.Session, 4)

	h.eventSubURL = h.fake.EventSubURL() + "?edge=2"
	h.writeRules(t, "channel.follow, channel.cheer", "")
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("changing eventsub_url did not replace the session")
	}
	c2 := h.fake.NextConn(t)
	waitSubsOf(t, h.fake, c2.Session, "channel.cheer", "channel.follow")
	c2.Notify("channel.cheer", cheer("Linus", 1))
	wantAlerts(t, h.page, "CHEER: Linus cheered 1 bits!")
}
