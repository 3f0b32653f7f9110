package kofi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/kofi"
)

// FuzzServe: whatever arrives, the answer is a documented status and a
// published event never carries the token or personal data, and a private
// supporter is never named in data.
func FuzzServe(f *testing.F) {
	adaptertest.Seed(f)
	allowed := []int{200, 400, 401, 403, 405, 413, 415}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := adaptertest.ParseRequest(raw)
		if err != nil {
			return
		}
		a, rec := adaptertest.Build(t, kofi.New, "kofi", "verification_token: "+token, now)
		req.RequestURI = ""
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if !slices.Contains(allowed, w.Code) {
			t.Fatalf("status %d not in %v", w.Code, allowed)
		}
		for _, ev := range rec.Events() {
			if w.Code != http.StatusOK {
				t.Fatalf("status %d but published %+v", w.Code, ev)
			}
			for _, k := range []string{"verification_token", "email", "shipping"} {
				if _, ok := ev.Data[k]; ok {
					t.Fatalf("published data has %s: %v", k, ev.Data)
				}
			}
			if ev.Data["is_public"] == false && (ev.Data["from_name"] != kofi.Anonymous || ev.Data["message"] != nil) {
				t.Fatalf("private supporter exposed: %v", ev.Data)
			}
		}
	})
}
