package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/browsertest"
)

// examplePage opens sources/example.html for code in real Chromium, with
// the back/forward cache off so that a page left is unloaded and its
// connection closed, as in OBS.
func examplePage(t *testing.T, base, code, options string) (ctx contextRunner, open chromedp.Action) {
	t.Helper()
	bctx, consoleLog := browsertest.Start(t, 90*time.Second, chromedp.Flag("disable-features", "BackForwardCache"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	})
	url := base + "/sources/example.html?debug=1&code=" + code + options
	// Poll does not survive a navigation: wait for the new document first.
	open = chromedp.Tasks{chromedp.Navigate(url), chromedp.WaitReady("body", chromedp.ByQuery),
		pollJS(`herald.status === 'registered'`)}
	return contextRunner{t, bctx}, open
}

func pollJS(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(30*time.Second))
}

// TestExamplePageShowsQueuedAlertsAfterAReload: example.html shows one
// alert at a time and queues the rest. OBS reloads the page (a scene
// switch with "refresh browser when scene becomes active") while alerts
// wait their turn: after the reload they are shown. They had reached the
// page, so herald alone cannot know; the page must not count them as shown
// (acknowledge them, keep its position past them) before they were on
// screen.
func TestExamplePageShowsQueuedAlertsAfterAReload(t *testing.T) {
	browsertest.Need(t)
	const code = "queued-reload-8"
	base := startServer(t, nil)
	b, open := examplePage(t, base, code, "&duration=1")
	b.run("open the page", open)
	for i := 1; i <= 4; i++ {
		do(t, "GET", fmt.Sprintf("%s/notify?code=%s&event=q%d&text=alert%%20%d", base, code, i, i), nil, nil)
	}
	b.run("see the first alert on screen", chromedp.WaitVisible(`.alert[data-event="Q1"]`, chromedp.ByQuery))
	b.run("reload while the other three wait their turn", open)
	var shown []string
	deadline := time.Now().Add(20 * time.Second)
	for !(slices.Contains(shown, "Q2") && slices.Contains(shown, "Q3") && slices.Contains(shown, "Q4")) {
		if time.Now().After(deadline) {
			t.Fatalf("after the reload the page showed %v; want Q2, Q3 and Q4, which were still queued", shown)
		}
		var now []string
		b.run("read the screen", chromedp.Evaluate(`Array.from(document.querySelectorAll('.alert')).map(b => b.dataset.event)`, &now))
		for _, e := range now {
			if !slices.Contains(shown, e) {
				shown = append(shown, e)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if i := slices.Index(shown, "Q2"); shown[len(shown)-1] != "Q4" || i > slices.Index(shown, "Q3") {
		t.Errorf("after the reload the page showed %v; want Q2, Q3, Q4 in order", shown)
	}
}

// TestExamplePageBadgeHidesAfterARecovery: herald is killed and restarted
// on the same data; the page reconnects and herald recovers its session
// (no WELCOME, its room restored). The page must say registered again, so
// its status badge leaves the stream, and alerts still show.
func TestExamplePageBadgeHidesAfterARecovery(t *testing.T) {
	browsertest.Need(t)
	data, port := t.TempDir(), freePort(t)
	h := startHerald(t, "--data", data, "-p", port)
	const code = "badge-recovery-3"
	b, open := examplePage(t, h.base, code, "&duration=1")
	b.run("open the page: the badge hides once registered", open,
		chromedp.WaitNotVisible(`#status`, chromedp.ByID))
	h.kill9(t)
	b.run("see the page notice", pollJS(`herald.status === 'disconnected'`))
	h2 := startHerald(t, "--data", data, "-p", port)
	b.run("see it recovered, registered, and the badge gone",
		pollJS(`herald.socket.recovered === true && herald.status === 'registered'`),
		chromedp.WaitNotVisible(`#status`, chromedp.ByID))
	do(t, "GET", h2.base+"/notify?code="+code+"&event=back&text=after%20the%20restart", nil, nil)
	b.run("see an alert after the restart", chromedp.WaitVisible(`.alert[data-event="BACK"]`, chromedp.ByQuery))
}

type contextRunner struct {
	t   *testing.T
	ctx context.Context
}

func (c contextRunner) run(what string, actions ...chromedp.Action) {
	c.t.Helper()
	if err := chromedp.Run(c.ctx, actions...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// TestPageMovedWhileHeraldWasDownRegistersItsNewCode: setCode() while
// herald is down, then herald comes back and recovers the connection in
// its old room. The helper must register the new code, not say
// registered while its alerts go to the old room.
func TestPageMovedWhileHeraldWasDownRegistersItsNewCode(t *testing.T) {
	browsertest.Need(t)
	data, port := t.TempDir(), freePort(t)
	h := startHerald(t, "--data", data, "-p", port)
	const code, moved = "before-move-4", "after-move-4"
	b, open := examplePage(t, h.base, code, "&duration=1")
	b.run("open the page", open)
	h.kill9(t)
	b.run("see the page notice, and move it to another code",
		pollJS(`herald.status === 'disconnected'`),
		chromedp.Evaluate(`herald.setCode('`+moved+`'); 0`, nil))
	h2 := startHerald(t, "--data", data, "-p", port)
	b.run("see it recovered and registered", pollJS(`herald.socket.recovered === true && herald.status === 'registered'`))
	a := do(t, "GET", h2.base+"/notify?code="+moved+"&event=moved&text=here", nil, nil)
	if !strings.Contains(a.body, `"count":1`) {
		t.Errorf("an alert for the page's new code = %d %s, want it to reach the page", a.status, a.body)
	}
	b.run("see the alert for the new code", chromedp.WaitVisible(`.alert[data-event="MOVED"]`, chromedp.ByQuery))
}

// TestAcksOfAPageThatMovedStayWithTheirRoom: a page acknowledges an alert
// once it was on screen, seconds after it came. A page moved to another
// code (setCode) meanwhile must not have those acks counted on the new
// code's alerts of the same offsets: herald knows an ack only by its
// offset, in the page's current room.
func TestAcksOfAPageThatMovedStayWithTheirRoom(t *testing.T) {
	browsertest.Need(t)
	const first, second = "ack-first-6", "ack-second-6"
	base := startServer(t, nil)
	// second's alerts 1 and 2 wait for a page; first's 1 to 3 go to the
	// page, which queues them.
	for i := 1; i <= 2; i++ {
		do(t, "GET", fmt.Sprintf("%s/notify?code=%s&event=s%d", base, second, i), nil, nil)
	}
	b, open := examplePage(t, base, first, "&duration=1")
	b.run("open the page", open)
	for i := 1; i <= 3; i++ {
		do(t, "GET", fmt.Sprintf("%s/notify?code=%s&event=f%d", base, first, i), nil, nil)
	}
	b.run("move the page while its alerts wait their turn",
		chromedp.WaitVisible(`.alert[data-event="F1"]`, chromedp.ByQuery),
		chromedp.Evaluate(`herald.setCode('`+second+`'); 0`, nil),
		pollJS(`herald.status === 'registered'`))
	b.run("see the second code's alerts, after the first's", chromedp.WaitVisible(`.alert[data-event="S2"]`, chromedp.ByQuery))
	b.run("let the last one go", chromedp.WaitNotPresent(`.alert`, chromedp.ByQuery))
	time.Sleep(500 * time.Millisecond) // the last ack is on its way
	for _, e := range history(t, base, second, 10).Entries {
		if e.Acked != 1 {
			t.Errorf("%s's alert %s (offset %d) counts %d acks, want 1: its own", second, e.Name, e.Offset, e.Acked)
		}
	}
}
