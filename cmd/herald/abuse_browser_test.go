package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/browsertest"

	"github.com/heraldhq/herald/internal/pagetest"
)

// attackPage is what a web site the streamer opens could run against the
// herald on their machine (HERALD is replaced by its URL): read a
// /notify answer, fire alerts by form post and by <img>, open a WebSocket
// and a Socket.IO session with the victim's code. It records what worked
// in window.__results.
const attackPage = `<!doctype html><meta charset="utf-8"><title>attack</title>
<script src="HERALD/socket.io/socket.io.js"></script>
<script>
window.__results = {};
const H = "HERALD", R = window.__results;
fetch(H + "/notify?code=victim&event=read").then(r => r.text()).then(t => R.read = "read: " + t, e => R.read = "refused");
fetch(H + "/notify", {method: "POST", mode: "no-cors", headers: {"Content-Type": "application/x-www-form-urlencoded"},
  body: "code=victim&event=posted"}).then(() => R.post = "sent", () => R.post = "sent");
const img = new Image(); img.onload = img.onerror = () => R.img = "sent"; img.src = H + "/notify?code=victim&event=img";
const ws = new WebSocket(H.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
ws.onopen = () => R.ws = "open"; ws.onerror = () => R.ws = "refused";
for (const transports of [["polling"], ["websocket"]]) {
  const s = io(H, {transports, auth: {code: "victim"}, reconnection: false, timeout: 5000});
  s.on("connect", () => R[transports[0]] = "joined");
  s.on("connect_error", () => R[transports[0]] = "refused");
}
</script>`

// TestAbuseCrossOriginInChromium: a real browser on another site can
// neither read a count, nor fire an alert, nor join a room of the herald
// on 127.0.0.1, while herald's own page can fire one.
func TestAbuseCrossOriginInChromium(t *testing.T) {
	browsertest.Need(t)
	base := startServer(t, nil)
	victim := pagetest.Start(t, base, pagetest.Options{Code: "victim"})
	victim.WaitRegistered(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.ReplaceAll(attackPage, "HERALD", base)))
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "evil.test", 1) // a site of its own

	ctx, _ := browsertest.Start(t, 60*time.Second, chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"))

	var results map[string]string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(evilURL),
		chromedp.Poll(`Object.keys(__results).length >= 6 && __results`, &results, chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		t.Fatalf("attack page: %v (results so far %v)", err, results)
	}
	t.Logf("what the attack page saw: %v", results)
	for what, got := range results {
		if got != "refused" && got != "sent" {
			t.Errorf("cross-site %s: %q, want refused", what, got)
		}
	}
	// Herald's own page may fire an alert; the victim's next alert must be
	// that one, so none of the attack's reached it.
	var status int
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/heartbeat"),
		chromedp.Evaluate(`fetch("/notify?code=victim&event=own").then(r => r.status)`, &status,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	); err != nil {
		t.Fatal(err)
	}
	if status != 200 {
		t.Fatalf("herald's own page firing an alert = %d, want 200", status)
	}
	if got := victim.Next(t, 10*time.Second).Event; got != "OWN" {
		t.Fatalf("the victim page's next alert is %s, want OWN (an attack got through)", got)
	}
}
