package webhook_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/webhook"
)

// FuzzParse: Parse either refuses with a 400 or yields data that encodes
// as JSON (what pages receive).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `[1,2]`, `a=1&a=2`, `"x"`, ``, `{`} {
		f.Add("application/json", []byte(seed))
		f.Add("application/x-www-form-urlencoded", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		data, err := webhook.Parse(contentType, body)
		if err != nil {
			if err.Error()[:4] != "400 " {
				t.Fatalf("Parse error %q is not a 400", err)
			}
			return
		}
		if data == nil {
			t.Fatal("Parse gave nil data without an error")
		}
		if _, err := json.Marshal(data); err != nil {
			t.Fatalf("data does not encode: %v", err)
		}
	})
}

// FuzzServe sends arbitrary requests to the GitHub-style and the Standard
// Webhooks instances of testdata: the answer is a documented status, and
// nothing unsigned is ever published.
func FuzzServe(f *testing.F) {
	adaptertest.Seed(f)
	allowed := []int{200, 400, 401, 403, 405, 413}
	configs := map[string]string{}
	for _, name := range []string{"github-star", "standard-good"} {
		c, _ := load(f, name)
		configs[name] = c
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for name, config := range configs {
			req, err := adaptertest.ParseRequest(raw)
			if err != nil {
				return
			}
			req.RequestURI = ""
			a, rec := adaptertest.Build(t, webhook.New, "webhook", config, now)
			w := httptest.NewRecorder()
			a.ServeHTTP(w, req)
			if !slices.Contains(allowed, w.Code) {
				t.Fatalf("%s: status %d not in %v", name, w.Code, allowed)
			}
			signed := req.Header.Get("X-Hub-Signature-256") != "" || req.Header.Get("Webhook-Signature") != "" || req.Header.Get("Svix-Signature") != ""
			if n := len(rec.Events()); n > 1 || (n == 1 && (w.Code != 200 || !signed)) {
				t.Fatalf("%s: status %d, published %d events (signed %v)", name, w.Code, n, signed)
			}
		}
	})
}
