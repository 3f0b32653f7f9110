package sources

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// TestReloadedPageGetsWhatItMissed: notificationservice.js keeps the last
// position per code in sessionStorage and sends it back when the page is
// loaded again, so alerts that fired while the page was away (an OBS
// scene switch, a reload) are shown once it is back, in order, and the
// ones it had already shown are not shown again.
func TestReloadedPageGetsWhatItMissed(t *testing.T) {
	needChromium(t)
	const code = "reload-code-5"
	j := mem.New()
	defer j.Close()
	keeper := recovery.New(j, recovery.Options{PendingOff: true})
	sink := socketio.New(socketio.Options{Log: slog.New(slog.DiscardHandler), Recovery: keeper,
		Position: func(d herald.Delivery) string { return keeper.Position(d.Offset) }})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket.io/socket.io.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(SocketIOClient())
	})
	mux.Handle("/socket.io/", sink.Handler())
	mux.Handle("GET /sources/", http.StripPrefix("/sources/", http.FileServerFS(FS())))
	mux.HandleFunc("GET /test/reload.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><meta charset="utf-8">
<script src="/socket.io/socket.io.js"></script>
<script src="/sources/notificationservice.js" data-code="`+code+`"></script>
<script>window.got = []; window.ns = new NotificationService();
ns.onAny(function (e, data) { got.push(data.n); });</script>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer sink.Close(t.Context())

	// deliver journals an alert (with its offset, as the router does) and
	// sends it to the pages that are there.
	deliver := func(n string) (pages int) {
		d := herald.Delivery{EventID: "ev-" + n, Source: "trigger", Room: code, Name: "FOLLOW",
			Payload: map[string]any{"n": n}, Time: time.Now()}
		e, err := j.Append(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		d.Offset = e.Offset
		pages, err = sink.Deliver(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		return pages
	}

	ctx, consoleLog := browser(t)
	defer func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", consoleLog())
		}
	}()
	page := srv.URL + "/test/reload.html"
	run(t, ctx, "open the page", chromedp.Navigate(page),
		chromedp.Poll(`ns.status === 'registered'`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	if n := deliver("1"); n != 1 {
		t.Fatalf("alert 1 reached %d pages, want 1", n)
	}
	run(t, ctx, "see alert 1", chromedp.Poll(`got.length === 1`, nil, chromedp.WithPollingTimeout(20*time.Second)))

	run(t, ctx, "leave the page", chromedp.Navigate("about:blank"))
	for _, n := range []string{"2", "3"} {
		deliver(n) // the page may still be closing; whether it saw them or not, it must show each once
	}
	run(t, ctx, "come back", chromedp.Navigate(page),
		chromedp.Poll(`ns.status === 'registered'`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var got []string
	run(t, ctx, "see what was missed", chromedp.Poll(`got.length >= 2`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`got`, &got))
	deliver("4")
	run(t, ctx, "then the live one", chromedp.Poll(`got.length >= 3`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`got`, &got))
	if strings.Join(got, ",") != "2,3,4" {
		t.Errorf("reloaded page showed %v, want 2,3,4 (what it missed, in order, then live; 1 not again)", got)
	}
	// The helper acknowledges every alert once its handlers ran; herald
	// counts the acks in the journal (1 before the reload, 2, 3 and 4
	// after it).
	deadline := time.Now().Add(20 * time.Second)
	for {
		es, err := j.After(t.Context(), code, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		acked := 0
		for _, e := range es {
			acked += e.Acked
		}
		if acked == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal counts %d acks, want 4 (one per alert shown)", acked)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var stored string
	run(t, ctx, "read the stored position", chromedp.Evaluate(`sessionStorage.getItem('herald.offset.`+code+`')`, &stored))
	if p, err := journal.ParsePosition(stored); err != nil || p.Offset != 4 || p.Epoch != j.Epoch() {
		t.Errorf("stored position = %q (%v), want %s-4", stored, err, j.Epoch())
	}
}
