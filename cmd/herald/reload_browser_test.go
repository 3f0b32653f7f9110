package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/browsertest"

	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/sources"
)

// TestReloadedPageGetsWhatItMissed runs notificationservice.js in headless
// Chromium against the real server: it keeps the last position per code
// in sessionStorage and sends it back when the page is loaded again, so
// alerts that fired while the page was away (an OBS scene switch, a
// reload) are shown once it is back, in order, and the ones it had shown
// are not shown again; those no page had are marked replayed, as pending
// alerts are. It acknowledges each alert once its handlers ran, and
// /api/history counts the acks.
func TestReloadedPageGetsWhatItMissed(t *testing.T) {
	browsertest.Need(t)
	const code = "reload-code-5"
	base := servePage(t, "reload.html", code, `ns.onAny(function (e, data, meta) { got.push(data.n + (meta.replayed ? 'r' : '')); });`)

	// Without the back/forward cache a page left is unloaded and its
	// connection closed, as in OBS; Chromium would otherwise keep the
	// page, frozen and connected, until herald's ping timeout.
	ctx, _ := browsertest.Start(t, 90*time.Second, chromedp.Flag("disable-features", "BackForwardCache"))
	step := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(expr string) chromedp.Action {
		return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(20*time.Second))
	}
	page := base + "/sources/reload.html"
	// Poll does not survive a navigation: it must wait for the new
	// document, whose script context is then known (else "Cannot find
	// context with specified id", seen once in CI).
	open := func() chromedp.Action {
		return chromedp.Tasks{chromedp.Navigate(page), chromedp.WaitReady("body", chromedp.ByQuery)}
	}
	step("open the page", open(), poll(`ns.status === 'registered'`))
	fire(t, base, code, 1)
	step("see alert 1", poll(`got.length === 1`))

	step("leave the page", chromedp.Navigate("about:blank"))
	// Until herald sees the page go, a live alert counts it as reached.
	waitFor(t, "herald to see the page leave", func() bool { return clientsCount(t, base) == 0 })
	fire(t, base, code, 2)
	fire(t, base, code, 3)
	step("come back", open(), poll(`ns.status === 'registered'`), poll(`got.length >= 2`))
	fire(t, base, code, 4)
	var got []string
	step("then the live one", poll(`got.length >= 3`), chromedp.Evaluate(`got`, &got))
	if strings.Join(got, ",") != "2r,3r,4" {
		t.Errorf("reloaded page showed %v, want 2r,3r,4 (what it missed, in order and marked replayed, as no page had it; then live; 1 not again)", got)
	}
	var stored string
	step("read the stored position", chromedp.Evaluate(`sessionStorage.getItem('herald.offset.`+code+`')`, &stored))
	h := history(t, base, code, 10)
	if p, err := journal.ParsePosition(stored); err != nil || p.Offset != 4 || p.Epoch != h.Epoch {
		t.Errorf("stored position = %q (%v), want %s-4", stored, err, h.Epoch)
	}
	// Every alert was shown once and acknowledged once.
	deadline := time.Now().Add(20 * time.Second)
	for {
		h = history(t, base, code, 10)
		acked := 0
		for _, e := range h.Entries {
			acked += e.Acked
		}
		if acked == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history counts %d acks (%+v), want 4: one per alert shown", acked, h.Entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servePage starts the real server with a page of notificationservice.js
// for code under /sources/name, which runs script after making
// window.ns and window.got = [].
func servePage(t *testing.T, name, code, script string) (base string) {
	t.Helper()
	dir := t.TempDir()
	helper, err := fs.ReadFile(sources.FS(), "notificationservice.js")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("notificationservice.js", string(helper))
	write(name, `<!doctype html><meta charset="utf-8">
<script src="/socket.io/socket.io.js"></script>
<script src="/sources/notificationservice.js" data-code="`+code+`"></script>
<script>window.got = []; window.ns = new NotificationService();
`+script+`</script>`)
	return startServer(t, func(c *config) { c.sourcesDir = dir })
}

// TestARecreatedBrowserSourceShowsWhatTheOldOneNeverDid: OBS shuts a
// browser source down while alerts wait their turn in its queue (a scene
// switch with "Shutdown source when not visible", an OBS restart) and
// later starts a new one: a new browser tab, with no sessionStorage. The
// page shows one alert at a time, each for a while, and acknowledges it
// once shown (notificationservice.js acks when the handler's promise
// resolves). The new tab shows the alerts the old one never finished,
// marked replayed, in order, and not the one it did.
func TestARecreatedBrowserSourceShowsWhatTheOldOneNeverDid(t *testing.T) {
	browsertest.Need(t)
	const code = "recreated-source"
	// Each alert is on screen for 1.5 s; the next waits for it.
	base := servePage(t, "queue.html", code, `var queue = Promise.resolve();
ns.onAny(function (e, data, meta) {
  return (queue = queue.then(function () {
    got.push(data.n + (meta.replayed ? 'r' : ''));
    return new Promise(function (done) { setTimeout(done, 1500); });
  }));
});`)
	browser, _ := browsertest.Start(t, 90*time.Second)
	run := func(ctx context.Context, what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(expr string) chromedp.Action {
		return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(20*time.Second))
	}
	open := chromedp.Tasks{chromedp.Navigate(base + "/sources/queue.html"), chromedp.WaitReady("body", chromedp.ByQuery), poll(`ns.status === 'registered'`)}

	old, closeOld := chromedp.NewContext(browser)
	defer closeOld()
	run(old, "open the source", open)
	for n := 1; n <= 4; n++ {
		fire(t, base, code, n)
	}
	waitFor(t, "the first alert shown and acknowledged", func() bool {
		es := history(t, base, code, 10).Entries
		return len(es) == 4 && es[0].Acked == 1
	})
	if err := chromedp.Cancel(old); err != nil { // OBS shuts the source down: its tab closes
		t.Fatal(err)
	}
	waitFor(t, "herald to see the source go", func() bool { return clientsCount(t, base) == 0 })

	recreated, closeRecreated := chromedp.NewContext(browser)
	defer closeRecreated()
	var got []string
	run(recreated, "OBS starts the source again", open, poll(`got.length >= 3`), chromedp.Evaluate(`got`, &got))
	if strings.Join(got, ",") != "2r,3r,4r" {
		t.Errorf("the new source showed %v, want 2r,3r,4r: what the old one never finished, in order, marked replayed", got)
	}
}
