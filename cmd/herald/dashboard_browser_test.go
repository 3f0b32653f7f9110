package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/browsertest"

	"github.com/heraldhq/herald/internal/faketwitch"
	"github.com/heraldhq/herald/internal/pagetest"
)

// dashboardRules declares Ko-fi, a Twitch EventSub WebSocket instance
// (a static token against the fake Twitch: %[1]s is its EventSub URL,
// %[2]s its Helix URL), a rule that fails at run time and one that loads
// with a warning.
const dashboardRules = `version: 1
ingress:
  kofi:
    type: kofi
    path: /webhooks/kofi
    verification_token: kofi-token-for-tests
  twitch:
    type: twitch
    transport: websocket
    client_id: test-client
    access_token: dashboard-static-token
    broadcaster_user_id: "4242"
    eventsub_url: %[1]s
    helix_url: %[2]s
    auth_url: %[2]s/no-auth-here
    subscriptions: [channel.follow, channel.raid, channel.cheer]
rules:
  - name: no-bots
    when: data.user == "bot"
    drop: true
  - name: new-follower
    when: type == "follow"
    emit: FOLLOW
    set:
      text: data.user + " just followed!"
  - name: sub-months
    when: type == "subscribe"
    emit: SUBSCRIBE
    set:
      months: int(data.months) + 1
  - name: trigger-cheer
    when: source == "trigger" && type == "cheer"
    emit: CHEER
    set:
      text: "{{ user }} cheered {{ bits }} bits"
  - name: test-flag
    when: source == "trigger" && data.test == 1
    drop: true
tests:
  - name: a follow is announced
    event: {source: trigger, type: follow, code: c1, data: {user: ada}}
    expect:
      - {room: c1, name: FOLLOW}
`

// TestDashboardInChromium signs in to /admin/ in real Chromium and checks
// what a streamer sees: a wrong token refused, a trigger appearing in the
// live event list, the test-alert form reaching a real overlay page (the
// official JS client), a broken rules save shown with its file:line, and
// sign-out. With -update it writes the screenshots in docs/.
func TestDashboardInChromium(t *testing.T) {
	browsertest.Need(t)
	const code = "overlay-code-4e21"
	fake := faketwitch.New(t)
	fake.Grant("dashboard-static-token", "", "")
	fake.Refuse("channel.cheer", -1) // Twitch answers 403: shown as refused
	rulesText := fmt.Sprintf(dashboardRules, fake.EventSubURL(), fake.HelixURL())
	rulesFile := writeRules(t, rulesText)
	base := startServer(t, func(c *config) { c.rulesFile = rulesFile })
	page := pagetest.Start(t, base, pagetest.Options{Code: code, Acks: true}) // acks what it shows, as notificationservice.js does
	page.WaitRegistered(t)
	ctx, consoleLog := browsertest.Start(t, 90*time.Second, chromedp.Flag("hide-scrollbars", true))
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()

	var msg string
	step(t, ctx, "a wrong token is refused",
		chromedp.EmulateViewport(1280, 720),
		chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, "not-the-token", chromedp.ByID),
		chromedp.Click(`#signin-button`, chromedp.ByID),
		chromedp.WaitVisible(`#signin-error:not(:empty)`, chromedp.ByQuery),
		chromedp.Text(`#signin-error`, &msg, chromedp.ByID),
	)
	if msg != "wrong token" {
		t.Errorf("sign-in error = %q, want %q", msg, "wrong token")
	}
	step(t, ctx, "sign in with the token",
		chromedp.SetValue(`#token`, testToken, chromedp.ByID),
		chromedp.Click(`#signin-button`, chromedp.ByID),
		chromedp.WaitVisible(`#view-dash`, chromedp.ByID),
		chromedp.WaitVisible(`#live[data-state="live"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.item.page[data-count="1"]`, chromedp.ByQuery),
	)
	checkSessionCookie(t, ctx)

	// A trigger fired now shows up in the list, pushed (the page never polls).
	do(t, "GET", base+"/notify?code="+code+"&event=follow&user=ada", nil, nil)
	page.Expect(t, "FOLLOW", 10*time.Second)
	var row string
	step(t, ctx, "see the trigger in the event list",
		chromedp.WaitVisible(`.ev[data-type="follow"][data-outcome="rule"]`, chromedp.ByQuery),
		chromedp.Text(`.ev[data-type="follow"]`, &row, chromedp.ByQuery),
	)
	if !strings.Contains(row, "FOLLOW") || !strings.Contains(row, "1 page") || strings.Contains(row, code) {
		t.Errorf("event row = %q, want FOLLOW, 1 page and the code masked", row)
	}
	var acks string
	step(t, ctx, "see the page's acknowledgement beside the delivery",
		chromedp.WaitVisible(`.ev[data-type="follow"] .acks`, chromedp.ByQuery),
		chromedp.Text(`.ev[data-type="follow"] .acks`, &acks, chromedp.ByQuery),
	)
	if acks != "✓ 1 ack" {
		t.Errorf("acks shown = %q, want %q", acks, "✓ 1 ack")
	}

	// The test-alert form reaches the overlay page.
	step(t, ctx, "fire a test alert from the form",
		chromedp.SetValue(`#test-code`, code, chromedp.ByID),
		chromedp.SetValue(`#test-event`, "cheer", chromedp.ByID),
		chromedp.SetValue(`#test-fields`, "user=bob\nbits=100", chromedp.ByID),
		chromedp.Click(`#test-fire`, chromedp.ByID),
		chromedp.WaitVisible(`#test-result.ok`, chromedp.ByQuery),
		chromedp.Text(`#test-result`, &msg, chromedp.ByID),
	)
	if msg != "sent CHEER to 1 page" {
		t.Errorf("test alert result = %q, want %q", msg, "sent CHEER to 1 page")
	}
	cheer := page.Expect(t, "CHEER", 10*time.Second)
	var data map[string]any
	// It went through the rules as the same /notify call would, so
	// trigger-cheer (source == "trigger") wrote its text.
	if err := cheer.Decode(0, &data); err != nil || data["user"] != "bob" || data["bits"] != "100" || data["text"] != "bob cheered 100 bits" {
		t.Errorf("overlay got CHEER %v (%v), want user bob, bits 100 and trigger-cheer's text", data, err)
	}
	step(t, ctx, "see the test alert in the list",
		chromedp.WaitVisible(`.ev[data-type="cheer"][data-outcome="rule"]`, chromedp.ByQuery),
	)

	// Traffic for the other panels: a drop, an unrouted event, a refused
	// Ko-fi call, a dry run.
	do(t, "GET", base+"/notify?code="+code+"&event=follow&user=bot", nil, nil)
	second := pagetest.Start(t, base, pagetest.Options{Code: "second-overlay-77", Transports: []string{"polling"}})
	second.WaitRegistered(t)
	do(t, "GET", base+"/notify?code=second-overlay-77&event=raid&user=linus&viewers=42", nil, nil)
	do(t, "GET", base+"/notify?code=offline-overlay&event=follow&user=joan", nil, nil)
	do(t, "GET", base+"/notify?code="+code+"&event=subscribe&user=grace&tier=1000&months=several", nil, nil)
	do(t, "POST", base+"/api/route", strings.NewReader(`{"source":"twitch","type":"channel.ad_break.begin"}`),
		map[string]string{"Authorization": "Bearer " + testToken})
	do(t, "POST", base+"/webhooks/kofi", strings.NewReader("data=%7B%7D"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var summary, suggested string
	step(t, ctx, "dry-run an event",
		chromedp.Click(`.tabs button[data-tab="dryrun"]`, chromedp.ByQuery),
		chromedp.Value(`#dryrun-event`, &suggested, chromedp.ByID),
		chromedp.Click(`#dryrun-run`, chromedp.ByID),
		chromedp.WaitVisible(`#dryrun-summary`, chromedp.ByID),
		chromedp.Text(`#dryrun-summary`, &summary, chromedp.ByID),
	)
	step(t, ctx, "see the dropped event", chromedp.WaitVisible(`.ev[data-outcome="dropped"]`, chromedp.ByQuery))
	step(t, ctx, "see the unrouted event", chromedp.WaitVisible(`.ev[data-outcome="unrouted"]`, chromedp.ByQuery))
	step(t, ctx, "see the second page", chromedp.WaitVisible(`.item.page:nth-child(2)`, chromedp.ByQuery))
	step(t, ctx, "see the Ko-fi refusal", chromedp.WaitVisible(`.item.ingress[data-name="kofi"] .lasterr`, chromedp.ByQuery))
	// Refusals of four more kinds: each is a chip, and they wrap inside
	// the side column instead of widening it past the window.
	do(t, "GET", base+"/webhooks/kofi", nil, nil)
	do(t, "POST", base+"/webhooks/kofi", strings.NewReader("{}"), map[string]string{"Content-Type": "text/plain"})
	do(t, "POST", base+"/webhooks/kofi", strings.NewReader(`data={"verification_token":"wrong"}`), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	do(t, "POST", base+"/webhooks/kofi", strings.NewReader(strings.Repeat("x", 2<<20)), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var overflow int
	step(t, ctx, "see every refusal kind within the side column",
		chromedp.Poll(`document.querySelectorAll('.item.ingress[data-name="kofi"] .chip.bad').length >= 4`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`(function () { var s = document.querySelector('.side'); return s.scrollWidth - s.clientWidth; })()`, &overflow),
	)
	if overflow > 0 {
		t.Errorf("the side column is %d px wider than the window leaves it at 1280 px: its chips do not wrap", overflow)
	}
	// The Twitch instance: connected, with each subscription's state.
	conn := fake.NextConn(t)
	fake.WaitSubs(t, conn.Session, 2)
	var twitchText string
	step(t, ctx, "see the Twitch session connected",
		chromedp.WaitVisible(`.item.ingress[data-name="twitch"][data-state="connected"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.item.ingress[data-name="twitch"] .sub-status[data-type="channel.follow"][data-status="enabled"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.item.ingress[data-name="twitch"] .sub-status[data-type="channel.cheer"][data-status="refused"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.item.ingress[data-name="twitch"] .keepalive`, chromedp.ByQuery),
		chromedp.Text(`.item.ingress[data-name="twitch"]`, &twitchText, chromedp.ByQuery),
	)
	for _, want := range []string{"CONNECTED", "session since", "alive", "cheer · refused", "403"} {
		if !strings.Contains(twitchText, want) {
			t.Errorf("Twitch ingress item = %q, want it to say %q", twitchText, want)
		}
	}
	if strings.Contains(twitchText, "dashboard-static-token") {
		t.Errorf("the dashboard shows the Twitch token: %q", twitchText)
	}

	// The rules panel: the rule that failed on the subscribe, and the
	// load warning, each with file:line:col.
	var ruleErrText, warnText string
	step(t, ctx, "see the rule errors and warnings",
		chromedp.WaitVisible(`#rule-errors .rule-error[data-rule="sub-months"]`, chromedp.ByQuery),
		chromedp.Text(`#rule-errors`, &ruleErrText, chromedp.ByID),
		chromedp.Text(`#rules-warnings`, &warnText, chromedp.ByID),
	)
	monthsLine := strings.Count(rulesText[:strings.Index(rulesText, "months: int(")], "\n") + 1
	flagLine := strings.Count(rulesText[:strings.Index(rulesText, "data.test == 1")], "\n") + 1
	for _, want := range []string{"sub-months", "1 error", fmt.Sprintf("rules.yaml:%d:", monthsLine), "part left out"} {
		if !strings.Contains(ruleErrText, want) {
			t.Errorf("rule errors = %q, want %q", ruleErrText, want)
		}
	}
	for _, want := range []string{"1 warning", fmt.Sprintf("rules.yaml:%d:", flagLine), "data.test is a string"} {
		if !strings.Contains(warnText, want) {
			t.Errorf("warnings = %q, want %q", warnText, want)
		}
	}
	step(t, ctx, "scroll the ingress panel into view",
		chromedp.Evaluate(`document.getElementById("ingress").closest(".panel").scrollIntoView({block: "start"})`, nil))
	screenshot(t, ctx, "dashboard-twitch.png")
	step(t, ctx, "scroll the side panels back", chromedp.Evaluate(`document.querySelector(".side").scrollTop = 0`, nil))
	// The suggested event is one the file can receive: of its first
	// Twitch or Ko-fi instance (Ko-fi here), not a fixed Twitch follow.
	if !strings.Contains(suggested, `"source":"kofi","type":"Donation"`) {
		t.Errorf("the dry run suggests %s, want a donation of the file's Ko-fi instance", suggested)
	}
	if summary != "unrouted: no rule acts and no code" {
		t.Errorf("dry run of a Ko-fi donation (no rule for Ko-fi) = %q, want unrouted", summary)
	}

	// Replay: one alert from its details, then the code's last two.
	subscribeID := metaID(t, page.Expect(t, "SUBSCRIBE", 10*time.Second))
	cheerID := metaID(t, cheer)
	step(t, ctx, "replay the test alert from its details",
		chromedp.Click(`.ev[data-type="cheer"]`, chromedp.ByQuery),
		chromedp.Click(`#detail-replay`, chromedp.ByID),
		chromedp.WaitVisible(`#detail-replay-result.ok`, chromedp.ByQuery),
	)
	expectAgain(t, page, "CHEER", cheerID)
	step(t, ctx, "replay the code's last two alerts",
		chromedp.Click(`.tabs button[data-tab="replay"]`, chromedp.ByQuery),
		chromedp.SetValue(`#replay-code`, code, chromedp.ByID),
		chromedp.SetValue(`#replay-last`, "2", chromedp.ByID),
		chromedp.Click(`#replay-fire`, chromedp.ByID),
		chromedp.WaitVisible(`#replay-result.ok`, chromedp.ByQuery),
	)
	expectAgain(t, page, "CHEER", cheerID)
	expectAgain(t, page, "SUBSCRIBE", subscribeID)

	step(t, ctx, "open the follow's details",
		chromedp.Click(`.tabs button[data-tab="test"]`, chromedp.ByQuery),
		chromedp.Click(`.ev[data-type="follow"][data-outcome="rule"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#detail-arrived`, chromedp.ByID),
	)
	screenshot(t, ctx, "dashboard.png")

	// A broken save: the rules panel shows where, and the old rules stay.
	broken := strings.Replace(rulesText, `when: data.user == "bot"`, `when: data.user === "bot"`, 1)
	brokenLine := strings.Count(broken[:strings.Index(broken, `when: data.user === "bot"`)], "\n") + 1
	writeAtomically(t, rulesFile, broken)
	var rulesErr string
	step(t, ctx, "see the broken save in the rules panel",
		chromedp.Click(`.ev[data-type="follow"][data-outcome="rule"]`, chromedp.ByQuery), // close the details
		chromedp.WaitVisible(`#rules-error`, chromedp.ByID),
		chromedp.Text(`#rules-error`, &rulesErr, chromedp.ByID),
	)
	if want := fmt.Sprintf("rules.yaml:%d:", brokenLine); !strings.Contains(rulesErr, want) || !strings.Contains(rulesErr, `when: data.user === "bot"`) {
		t.Errorf("rules panel error = %q, want %s… and the offending line", rulesErr, want)
	}
	step(t, ctx, "scroll the rules panel into view", chromedp.ScrollIntoView(`#rules-error`, chromedp.ByID))
	screenshot(t, ctx, "dashboard-rules-error.png")

	// The page itself cannot act without the CSRF token.
	var status int
	step(t, ctx, "a POST without the CSRF header is refused",
		chromedp.Evaluate(`fetch("/admin/api/route?dry_run=1", {method: "POST", headers: {"Content-Type": "application/json"},
			body: '{"type":"x"}'}).then(r => r.status)`, &status, awaitPromise),
	)
	if status != http.StatusForbidden {
		t.Errorf("POST without CSRF token = %d, want 403", status)
	}

	step(t, ctx, "sign out",
		chromedp.Click(`#signout`, chromedp.ByID),
		chromedp.WaitVisible(`#view-signin`, chromedp.ByID),
		chromedp.Evaluate(`fetch("/admin/stream").then(r => r.status)`, &status, awaitPromise),
	)
	if status != http.StatusUnauthorized {
		t.Errorf("stream after sign-out = %d, want 401", status)
	}
}

// expectAgain reads the page's next alert and checks it is the one first
// delivered with meta id (a replay keeps the event id; meta's
// replayed: true comes with the page model).
func expectAgain(t *testing.T, page *pagetest.Page, name, id string) {
	t.Helper()
	m := page.Expect(t, name, 10*time.Second)
	var meta struct{ ID string }
	if err := m.Decode(1, &meta); err != nil || meta.ID != id {
		t.Errorf("replayed %s: meta %s (%v), want id %s", name, m.Args[1], err, id)
	}
}

// metaID is the event id in a delivery's meta.
func metaID(t *testing.T, m pagetest.Message) string {
	t.Helper()
	var meta struct{ ID string }
	if err := m.Decode(1, &meta); err != nil || meta.ID == "" {
		t.Fatalf("%s meta %v: %v, want an id", m.Event, m.Args, err)
	}
	return meta.ID
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// checkSessionCookie reads the session cookie from the browser: HttpOnly,
// SameSite=Strict, scoped to /admin/, with an expiry.
func checkSessionCookie(t *testing.T, ctx context.Context) {
	t.Helper()
	var cookies []*network.Cookie
	step(t, ctx, "read the cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	var hidden bool
	step(t, ctx, "the page cannot read the cookie", chromedp.Evaluate(`document.cookie.indexOf("herald_admin") < 0`, &hidden))
	for _, c := range cookies {
		if c.Name != cookieName {
			continue
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/admin/" || c.Session || len(c.Value) != 64 || !hidden {
			t.Errorf("session cookie = %+v (visible to scripts: %v), want HttpOnly, SameSite=Strict, path /admin/, an expiry, a 256-bit id", c, !hidden)
		}
		return
	}
	t.Errorf("no %s cookie after sign-in (cookies: %v)", cookieName, cookies)
}

const cookieName = "herald_admin"

// TestDashboardActionsNeedSessionAndCSRF drives the dashboard's endpoints
// as another site or a script would: without the cookie, without or with
// a wrong CSRF token, and with a wrong token at sign-in.
func TestDashboardActionsNeedSessionAndCSRF(t *testing.T) {
	base := startServer(t, nil)
	login := func(token string) (*http.Cookie, string, int) {
		a := doRaw(t, "POST", base+"/admin/login", `{"token":"`+token+`"}`, map[string]string{"Content-Type": "application/json"})
		var body struct{ CSRF string }
		_ = json.Unmarshal([]byte(a.body), &body)
		for _, c := range a.cookies {
			if c.Name == cookieName {
				return c, body.CSRF, a.status
			}
		}
		return nil, "", a.status
	}
	if c, _, status := login("wrong"); status != http.StatusUnauthorized || c != nil {
		t.Fatalf("sign-in with a wrong token = %d (cookie %v), want 401 and no cookie", status, c)
	}
	if _, _, status := login(""); status != http.StatusUnauthorized {
		t.Fatalf("sign-in with an empty token = %d, want 401", status)
	}
	cookie, csrf, status := login(testToken)
	if status != 200 || cookie == nil || csrf == "" {
		t.Fatalf("sign-in = %d, cookie %v, csrf %q", status, cookie, csrf)
	}
	const event = `{"source":"x","type":"follow","code":"c1"}`
	sess := "herald_admin=" + cookie.Value
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{name: "no cookie", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"X-CSRF-Token": csrf}, want: 401},
		{name: "cookie, no CSRF token", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"Cookie": sess}, want: 403},
		{name: "cookie, wrong CSRF token", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"Cookie": sess, "X-CSRF-Token": wrong(csrf)}, want: 403},
		{name: "another site", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"Cookie": sess, "X-CSRF-Token": csrf, "Origin": "https://evil.example"}, want: 403},
		{name: "a made-up session", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"Cookie": "herald_admin=" + strings.Repeat("ab", 32), "X-CSRF-Token": csrf}, want: 401},
		{name: "stream without cookie", method: "GET", path: "/admin/stream", want: 401},
		{name: "replay without cookie", method: "POST", path: "/admin/api/replay", header: map[string]string{"X-CSRF-Token": csrf}, want: 401},
		{name: "sign-out without CSRF token", method: "POST", path: "/admin/logout", header: map[string]string{"Cookie": sess}, want: 403},
		{name: "cookie and CSRF token", method: "POST", path: "/admin/api/route?dry_run=1", header: map[string]string{"Cookie": sess, "X-CSRF-Token": csrf, "Content-Type": "application/json"}, want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := doRaw(t, tc.method, base+tc.path, event, tc.header); a.status != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.want)
			}
		})
	}
	// Signed out, the same cookie and token do nothing.
	if a := doRaw(t, "POST", base+"/admin/logout", "", map[string]string{"Cookie": sess, "X-CSRF-Token": csrf}); a.status != 200 {
		t.Fatalf("sign-out = %d %s", a.status, a.body)
	}
	if a := doRaw(t, "POST", base+"/admin/api/route?dry_run=1", event, map[string]string{"Cookie": sess, "X-CSRF-Token": csrf}); a.status != 401 {
		t.Errorf("action after sign-out = %d, want 401", a.status)
	}
}

func TestDashboardOffWithoutToken(t *testing.T) {
	base := startServer(t, func(c *config) { c.adminToken = "" })
	a := doRaw(t, "GET", base+"/admin/session", "", nil)
	if a.status != 200 || !strings.Contains(a.body, `"enabled":false`) || !strings.Contains(a.body, "--admin-token") {
		t.Errorf("GET /admin/session = %d %s, want enabled false and how to turn it on", a.status, a.body)
	}
	if a := doRaw(t, "POST", base+"/admin/login", `{"token":""}`, map[string]string{"Content-Type": "application/json"}); a.status != http.StatusForbidden {
		t.Errorf("sign-in with no token configured = %d, want 403", a.status)
	}
	browsertest.Need(t)
	ctx, _ := browsertest.Start(t, 90*time.Second, chromedp.Flag("hide-scrollbars", true))
	var help string
	step(t, ctx, "the page says how to turn the dashboard on",
		chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(`#view-off`, chromedp.ByID),
		chromedp.Text(`#off-help`, &help, chromedp.ByID),
	)
	if !strings.Contains(help, "--admin-token") {
		t.Errorf("off page says %q, want it to name --admin-token", help)
	}
}

// wrong changes the first character of a hex token.
func wrong(token string) string {
	if token[0] == '0' {
		return "1" + token[1:]
	}
	return "0" + token[1:]
}

type rawAnswer struct {
	status  int
	body    string
	cookies []*http.Cookie
}

// doRaw is do with the cookies of the answer and no redirects.
func doRaw(t *testing.T, method, url, body string, header map[string]string) rawAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if method == "GET" && strings.HasSuffix(url, "/stream") {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if resp.StatusCode != 200 || !strings.HasSuffix(url, "/stream") {
		_, _ = b.ReadFrom(resp.Body)
	}
	return rawAnswer{status: resp.StatusCode, body: b.String(), cookies: resp.Cookies()}
}

func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot writes the viewport to docs/name with -update.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*update {
		return
	}
	var png []byte
	step(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot(&png))
	path := filepath.Join("..", "..", "docs", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
