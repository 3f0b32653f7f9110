package twitch_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/twitch"
)

// FuzzServe feeds arbitrary requests to the adapter twice: as they are
// (almost always forged, so nothing may be published), and re-signed with
// the right secret at the right time so the body parser is exercised too.
// Properties: the answer is one of the documented statuses, and a published
// event carries the message id and the instance name.
func FuzzServe(f *testing.F) {
	adaptertest.Seed(f)
	allowed := []int{200, 400, 401, 403, 405, 413}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := adaptertest.ParseRequest(raw)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		ts, err := time.Parse(time.RFC3339Nano, req.Header.Get("Twitch-Eventsub-Message-Timestamp"))
		if err != nil {
			ts = time.Unix(0, 0)
		}
		for _, resign := range []bool{false, true} {
			id := req.Header.Get("Twitch-Eventsub-Message-Id")
			h := req.Header.Clone()
			if resign {
				h.Set("Twitch-Eventsub-Message-Signature", "sha256="+mac(id+h.Get("Twitch-Eventsub-Message-Timestamp")+string(body)))
			}
			a, rec := adaptertest.Build(t, twitch.New, "twitch", "secret: "+secret, ts)
			r := httptest.NewRequest(req.Method, "/webhooks/twitch", bytes.NewReader(body))
			r.Header = h
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if !slices.Contains(allowed, w.Code) {
				t.Fatalf("status %d not in %v", w.Code, allowed)
			}
			evs := rec.Events()
			if len(evs) > 1 || (len(evs) == 1 && (w.Code != http.StatusOK || evs[0].ID != id || evs[0].Source != "twitch")) {
				t.Fatalf("status %d published %+v", w.Code, evs)
			}
			if !resign && len(evs) > 0 && h.Get("Twitch-Eventsub-Message-Signature") != "sha256="+mac(id+h.Get("Twitch-Eventsub-Message-Timestamp")+string(body)) {
				t.Fatalf("published an event whose signature is wrong")
			}
		}
	})
}
