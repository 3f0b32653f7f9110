package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/browsertest"
	"github.com/heraldhq/herald/internal/needs"
	"github.com/heraldhq/herald/internal/pagetest"
)

// TestDashboardShowsAFailingJournal: a real herald on a disk that fills up
// (a file size limit, which fails writes as a full disk does) keeps
// sending alerts to its page, and the dashboard, in real Chromium, turns
// its history pill from ok to failing with the alerts that went out live
// only: the streamer sees it without reading the log.
func TestDashboardShowsAFailingJournal(t *testing.T) {
	browsertest.Need(t)
	prlimit := needs.Program(t, "apt-get install util-linux", "prlimit")
	h := startHeraldUnder(t, []string{prlimit, "--fsize=131072"}, "--data", t.TempDir(), "--rate-misses", "off", "--metrics")
	const code = "journal-pill-7f3a"
	page := pagetest.Start(t, h.base, pagetest.Options{Code: code})
	page.WaitRegistered(t)
	ctx, consoleLog := browsertest.Start(t, 90*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	step(t, ctx, "sign in: history is kept",
		chromedp.Navigate(h.base+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SetValue(`#token`, testToken, chromedp.ByID),
		chromedp.Click(`#signin-button`, chromedp.ByID),
		chromedp.WaitVisible(`#pill-journal[data-state="ok"]`, chromedp.ByQuery),
	)

	// Alerts of 2 KB for codes with no page, kept as pending, fill the
	// 128 KiB the journal's files may take.
	big := url.QueryEscape(strings.Repeat("x", 2000))
	failing := func() bool {
		a := do(t, "GET", h.base+"/api/journal", nil, map[string]string{"Authorization": "Bearer " + testToken})
		var st struct{ Failing bool }
		return json.Unmarshal([]byte(a.body), &st) == nil && st.Failing
	}
	for i := 0; !failing(); i++ {
		if i == 1000 {
			t.Fatalf("the journal never failed on a 128 KiB disk:\n%s", h.logs.String())
		}
		do(t, "GET", h.base+"/notify?event=donation&text="+big+"&code=filler-"+string(rune('a'+i%20)), nil, nil)
	}
	var pill string
	step(t, ctx, "the pill says history is failing",
		chromedp.WaitVisible(`#pill-journal[data-state="failing"]`, chromedp.ByQuery),
		chromedp.Text(`#pill-journal`, &pill, chromedp.ByID),
	)
	if !strings.Contains(pill, "history failing") || !strings.Contains(pill, "live only") {
		t.Errorf("pill reads %q, want it to say history is failing and count the alerts sent live only", pill)
	}
	if got, ok := value(scrape(t, h.base)["herald_journal_healthy"], nil); !ok || got != 0 {
		t.Errorf("herald_journal_healthy = %v (present %v) while alerts go out live only, want 0", got, ok)
	}
	// The page still gets its alerts, live.
	do(t, "GET", h.base+"/notify?event=follow&user=ada&code="+code, nil, nil)
	if m := page.Next(t, pageWait); m.Event != "FOLLOW" {
		t.Fatalf("the page got %s %s while the disk was full, want its FOLLOW", m.Event, m.Args)
	}
}

// TestDashboardShowsHistoryInMemory: herald whose --data cannot be opened
// (a file in its place) starts anyway with its history in memory; the
// dashboard says so, since that history ends at the next restart.
func TestDashboardShowsHistoryInMemory(t *testing.T) {
	browsertest.Need(t)
	notADir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHerald(t, "--data", notADir)
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	var pill, title string
	var ok bool
	step(t, ctx, "sign in: history is in memory",
		chromedp.Navigate(h.base+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SetValue(`#token`, testToken, chromedp.ByID),
		chromedp.Click(`#signin-button`, chromedp.ByID),
		chromedp.WaitVisible(`#pill-journal[data-state="memory"]`, chromedp.ByQuery),
		chromedp.Text(`#pill-journal`, &pill, chromedp.ByID),
		chromedp.AttributeValue(`#pill-journal`, "title", &title, &ok, chromedp.ByID),
	)
	if !strings.Contains(pill, "history in memory") || !strings.Contains(title, "a-file") {
		t.Errorf("pill reads %q (title %q), want it to say history is in memory, and why", pill, title)
	}
}
