package sources_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio"
	"github.com/heraldhq/herald/internal/browsertest"
	"github.com/heraldhq/herald/sources"
)

// TestExamplePageInChromium opens example.html in headless Chromium, served
// the way cmd/herald serves it, delivers alerts through the real Socket.IO
// sink and checks what the page shows: the helper registers the code from
// ?code=, alerts appear with their text or fields, the code itself is never
// shown, and a redelivered event id is dropped.
func TestExamplePageInChromium(t *testing.T) {
	browsertest.Need(t)
	const code = "browser-code-7f3a"
	srv := serve(t)
	sink := srv.sink()
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()

	url := srv.URL + "/sources/example.html?code=" + code + "&duration=3&debug=1"
	var badgeShown bool
	run(t, ctx, "open the page and wait until it is registered",
		chromedp.Navigate(url),
		chromedp.WaitReady(`#status[data-status="registered"]`, chromedp.ByQuery),
		chromedp.Evaluate(`getComputedStyle(document.getElementById('status')).display !== 'none'`, &badgeShown),
		// Record every alert the page shows, however briefly.
		chromedp.Evaluate(`window.__shown = []; window.__seen = [];
			herald.onAny(function (e) { __seen.push(e); });
			new MutationObserver(function (ms) { ms.forEach(function (m) { m.addedNodes.forEach(function (n) {
				__shown.push({event: n.dataset.event, text: n.innerText}); }); }); })
			.observe(document.getElementById('stage'), {childList: true});`, nil),
	)

	if badgeShown {
		t.Errorf("the status badge stays on stream once the page is registered")
	}

	follow := herald.Delivery{EventID: "e1", Source: "trigger", Room: code, Name: "FOLLOW",
		Payload: map[string]any{"text": "Ada followed!", "code": code, "event": "follow"}, Time: time.Now()}
	if n, err := sink.Deliver(t.Context(), follow); err != nil || n != 1 {
		t.Fatalf("Deliver(FOLLOW) = %d, %v; want 1 page", n, err)
	}
	var text string
	run(t, ctx, "see the FOLLOW alert",
		chromedp.WaitVisible(`.alert[data-event="FOLLOW"] .text`, chromedp.ByQuery),
		chromedp.Text(`.alert[data-event="FOLLOW"] .text`, &text, chromedp.ByQuery),
	)
	if text != "Ada followed!" {
		t.Errorf("FOLLOW alert text = %q, want %q", text, "Ada followed!")
	}

	// The same event id again (a retried webhook) must not show twice.
	if _, err := sink.Deliver(t.Context(), follow); err != nil {
		t.Fatal(err)
	}
	tip := herald.Delivery{EventID: "e2", Source: "kofi", Room: code, Name: "TIP",
		Payload: map[string]any{"user": "bob", "amount": 5, "code": code}, Time: time.Now()}
	if _, err := sink.Deliver(t.Context(), tip); err != nil {
		t.Fatal(err)
	}
	// A replay (the dashboard's, or a pending alert) is sent again on
	// purpose: it shows again, same id or not.
	replay := follow
	replay.Replayed = true
	if _, err := sink.Deliver(t.Context(), replay); err != nil {
		t.Fatal(err)
	}
	// One event may become alerts of two names (two rules): both show.
	sound := tip
	sound.Name = "SOUND"
	if _, err := sink.Deliver(t.Context(), sound); err != nil {
		t.Fatal(err)
	}
	var shown []struct{ Event, Text string }
	var seen []string
	run(t, ctx, "see the TIP alert after the FOLLOW one, then the FOLLOW replayed and the SOUND",
		chromedp.Poll(`__seen.length >= 4 && __shown.length >= 2`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`__shown`, &shown),
		chromedp.Evaluate(`__seen`, &seen),
	)
	if strings.Join(seen, ",") != "FOLLOW,TIP,FOLLOW,SOUND" {
		t.Errorf("helper passed on events %q, want FOLLOW,TIP,FOLLOW,SOUND (the repeated id dropped, the replay and the other name shown)", seen)
	}
	if len(shown) < 2 || shown[1].Event != "TIP" {
		t.Fatalf("page showed %+v, want FOLLOW then TIP", shown)
	}
	// No text: a readable line of the person and the amount, never the
	// raw field names.
	for _, want := range []string{"TIP", "bob · 5"} {
		if !strings.Contains(shown[1].Text, want) {
			t.Errorf("TIP alert %q lacks %q", shown[1].Text, want)
		}
	}
	for _, raw := range []string{"user", "amount"} {
		if strings.Contains(shown[1].Text, raw) {
			t.Errorf("TIP alert %q shows the field name %q", shown[1].Text, raw)
		}
	}
	for _, a := range shown {
		if strings.Contains(a.Text, code) {
			t.Errorf("alert %s shows the page's code: %q", a.Event, a.Text)
		}
	}
}

// testServer serves what cmd/herald serves for pages: /sources/, the client
// bundle and the Socket.IO endpoint of the current sink. restart replaces
// the sink, as a herald restart would.
type testServer struct {
	URL string
	cur atomic.Pointer[socketio.Sink]
	mu  sync.Mutex
	all []*socketio.Sink
}

func (s *testServer) sink() *socketio.Sink { return s.cur.Load() }

func (s *testServer) restart(t *testing.T) {
	t.Helper()
	old := s.cur.Load()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := old.Close(ctx); err != nil {
		t.Fatalf("close sink: %v", err)
	}
	s.install()
}

func (s *testServer) install() {
	sink := socketio.New(socketio.Options{Log: slog.New(slog.DiscardHandler)})
	s.mu.Lock()
	s.all = append(s.all, sink)
	s.mu.Unlock()
	s.cur.Store(sink)
}

func serve(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.install()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket.io/socket.io.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(sources.SocketIOClient())
	})
	mux.HandleFunc("/socket.io/", func(w http.ResponseWriter, r *http.Request) {
		ts.sink().Handler().ServeHTTP(w, r)
	})
	mux.Handle("GET /sources/", http.StripPrefix("/sources/", http.FileServerFS(sources.FS())))
	// A bare page configured only through the script tag, for the helper's
	// own tests.
	mux.HandleFunc("GET /test/datacode.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><meta charset="utf-8">
<script src="/socket.io/socket.io.js"></script>
<script src="/sources/notificationservice.js" data-code="tag-code-1"></script>
<script>window.got = []; window.ns = new NotificationService();
ns.onAny(function (e, data, meta) { got.push([e, data, meta]); });</script>`)
	})
	srv := httptest.NewServer(mux)
	ts.URL = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for _, s := range ts.all {
			_ = s.Close(ctx)
		}
	})
	return ts
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// TestExamplePageSurvivesServerRestart: a browser source runs unattended
// for hours, so after herald restarts the page must reconnect and register
// again by itself.
func TestExamplePageSurvivesServerRestart(t *testing.T) {
	browsertest.Need(t)
	const code = "restart-code-19"
	srv := serve(t)
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	run(t, ctx, "open the page and wait until it is registered",
		chromedp.Navigate(srv.URL+"/sources/example.html?status=1&code="+code+"&duration=2&debug=1"),
		chromedp.WaitVisible(`#status[data-status="registered"]`, chromedp.ByQuery),
		chromedp.Evaluate(`window.__statuses = []; herald.onStatus(function (s) { __statuses.push(s); }); 0`, nil),
	)
	srv.restart(t)
	run(t, ctx, "see the page go down and come back registered",
		chromedp.Poll(`__statuses.indexOf('disconnected') >= 0 && __statuses[__statuses.length - 1] === 'registered'`,
			nil, chromedp.WithPollingTimeout(30*time.Second)),
	)
	d := herald.Delivery{EventID: "r1", Source: "trigger", Room: code, Name: "RAID",
		Payload: map[string]any{"text": "back after the restart"}, Time: time.Now()}
	if n, err := srv.sink().Deliver(t.Context(), d); err != nil || n != 1 {
		t.Fatalf("Deliver after restart = %d, %v; want 1 page", n, err)
	}
	var text string
	run(t, ctx, "see the alert from the new server",
		chromedp.WaitVisible(`.alert[data-event="RAID"] .text`, chromedp.ByQuery),
		chromedp.Text(`.alert[data-event="RAID"] .text`, &text, chromedp.ByQuery),
	)
	if text != "back after the restart" {
		t.Errorf("RAID alert text = %q", text)
	}
}

// TestHelperRemembersAlertsAcrossAReload: a reloaded page (an OBS source
// refreshed) does not show again an alert it showed before the reload
// (example.html: one that was on screen for its whole time), and shows new
// ones and replays.
func TestHelperRemembersAlertsAcrossAReload(t *testing.T) {
	browsertest.Need(t)
	const code = "reload-code-31"
	srv := serve(t)
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	record := chromedp.Evaluate(`window.__seen = []; herald.onAny(function (e, data) { __seen.push(data.n); }); 0`, nil)
	run(t, ctx, "open the page and wait until it is registered",
		chromedp.Navigate(srv.URL+"/sources/example.html?status=1&code="+code+"&duration=1&debug=1"),
		chromedp.WaitVisible(`#status[data-status="registered"]`, chromedp.ByQuery),
		record,
	)
	alert := func(id, n string, replayed bool) {
		t.Helper()
		d := herald.Delivery{EventID: id, Source: "trigger", Room: code, Name: "TIP",
			Payload: map[string]any{"n": n}, Time: time.Now(), Replayed: replayed}
		if got, err := srv.sink().Deliver(t.Context(), d); err != nil || got != 1 {
			t.Fatalf("Deliver(%s) = %d, %v; want 1 page", n, got, err)
		}
	}
	alert("a", "first", false)
	run(t, ctx, "see it come and go", chromedp.Poll(`__seen.length === 1 && !document.querySelector('.alert')`, nil, chromedp.WithPollingTimeout(20*time.Second)))

	run(t, ctx, "reload the page and wait until it is registered again",
		chromedp.Reload(),
		chromedp.WaitReady("body"),
		chromedp.WaitVisible(`#status[data-status="registered"]`, chromedp.ByQuery),
		record,
	)
	alert("a", "first again", false) // shown before the reload: dropped
	alert("b", "new", false)
	alert("a", "replayed", true)
	var seen []string
	run(t, ctx, "see the new alert and the replay, not the repeat",
		chromedp.Poll(`__seen.length >= 2`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`__seen`, &seen),
	)
	if strings.Join(seen, ",") != "new,replayed" {
		t.Errorf("after the reload the helper passed on %q, want new,replayed", seen)
	}
}

// TestHelperTakesCodeFromScriptTagAndMoves: a page with no script of its
// own beyond new NotificationService() registers the script tag's
// data-code, and setCode moves it to another room.
func TestHelperTakesCodeFromScriptTagAndMoves(t *testing.T) {
	browsertest.Need(t)
	srv := serve(t)
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	var code string
	run(t, ctx, "open the page and wait until it is registered",
		chromedp.Navigate(srv.URL+"/test/datacode.html"),
		chromedp.Poll(`ns.status === 'registered'`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`ns.code`, &code),
	)
	if code != "tag-code-1" {
		t.Errorf("ns.code = %q, want the data-code tag-code-1", code)
	}
	if got := clientCodes(srv.sink()); !slices.Equal(got, []string{"tag-code-1"}) {
		t.Errorf("server sees codes %q, want [tag-code-1]", got)
	}

	run(t, ctx, "move to another code",
		chromedp.Evaluate(`ns.setCode('tag-code-2'); 0`, nil),
		chromedp.Poll(`ns.status === 'registered' && ns.code === 'tag-code-2'`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	)
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Equal(clientCodes(srv.sink()), []string{"tag-code-2"}) {
		if time.Now().After(deadline) {
			t.Fatalf("server sees codes %q, want [tag-code-2]", clientCodes(srv.sink()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := herald.Delivery{EventID: "m1", Source: "trigger", Room: "tag-code-2", Name: "HOST",
		Payload: map[string]any{"viewers": 12}, Time: time.UnixMilli(1_700_000_000_000)}
	if n, err := srv.sink().Deliver(t.Context(), d); err != nil || n != 1 {
		t.Fatalf("Deliver = %d, %v; want 1 page", n, err)
	}
	var got [][]any
	run(t, ctx, "receive the delivery with its meta",
		chromedp.Poll(`got.length >= 1`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`got`, &got),
	)
	if want := `[[HOST map[viewers:12] map[id:m1 source:trigger ts:1.7e+12]]]`; fmt.Sprint(got) != want {
		t.Errorf("handler calls = %v, want %s", got, want)
	}
}

func clientCodes(s *socketio.Sink) []string {
	var out []string
	for _, c := range s.Clients() {
		out = append(out, c.Code)
	}
	return out
}

// TestExamplePageBadgeAndText: the badge says why a page is not connected
// (the reason reaches it even though the helper failed before the page's
// handler was attached), status=1 keeps it on screen, and a runaway text
// is cut short.
func TestExamplePageBadgeAndText(t *testing.T) {
	browsertest.Need(t)
	srv := serve(t)
	ctx, consoleLog := browsertest.Start(t, 60*time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	var badge string
	run(t, ctx, "open the page without a code",
		chromedp.Navigate(srv.URL+"/sources/example.html"),
		chromedp.WaitVisible(`#status[data-status="error"]`, chromedp.ByQuery),
		chromedp.Text(`#status`, &badge, chromedp.ByQuery),
	)
	if !strings.HasPrefix(badge, "error: no code") {
		t.Errorf("badge without a code = %q, want the reason, error: no code…", badge)
	}

	const code = "badge-code-4"
	run(t, ctx, "open the page with status=1",
		chromedp.Navigate(srv.URL+"/sources/example.html?status=1&duration=3&code="+code),
		chromedp.WaitVisible(`#status[data-status="registered"]`, chromedp.ByQuery),
	)
	long := strings.Repeat("spam ", 200)
	if _, err := srv.sink().Deliver(t.Context(), herald.Delivery{EventID: "l1", Source: "trigger", Room: code, Name: "SAY",
		Payload: map[string]any{"text": long}, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var shown string
	run(t, ctx, "see the long alert",
		chromedp.WaitVisible(`.alert[data-event="SAY"] .text`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('.alert[data-event="SAY"] .text').textContent`, &shown),
	)
	if n := len([]rune(shown)); n > 200 || !strings.HasSuffix(shown, "…") {
		t.Errorf("a %d-character text shows as %d characters (%.40q…), want at most 200 ending in …", len(long), n, shown)
	}
}
