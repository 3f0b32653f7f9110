package trigger

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkTrigger is the event build of the hot path: one /notify request
// parsed into an herald.Event and published (to a publisher that does
// nothing), response included.
func BenchmarkTrigger(b *testing.B) {
	rec := &recorder{pages: 100}
	a, err := New(paramsFor(rec))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/notify?code=abc123&event=new%20follower&user=ada&text=hello", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec.events = rec.events[:0]
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
