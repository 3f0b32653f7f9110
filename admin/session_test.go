package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for session tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func signIn(t *testing.T, h http.Handler, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/admin/login", strings.NewReader(`{"token":"`+token+`"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSessionExpires(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	d := New(Options{Token: "tok", Now: c.Now, SessionTTL: time.Hour})
	h := d.Handler()
	w := signIn(t, h, "tok")
	if w.Code != 200 {
		t.Fatalf("sign-in = %d %s", w.Code, w.Body)
	}
	cookie := w.Result().Cookies()[0]
	session := func() string {
		r := httptest.NewRequest("GET", "/admin/session", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Body.String()
	}
	if s := session(); !strings.Contains(s, `"signed_in":true`) {
		t.Fatalf("session right after sign-in = %s", s)
	}
	c.Add(time.Hour + time.Second)
	if s := session(); !strings.Contains(s, `"signed_in":false`) {
		t.Errorf("session after its hour = %s, want signed out", s)
	}
}

func TestWrongTokensAreLimited(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	h := New(Options{Token: "tok", Now: c.Now}).Handler()
	for i := range maxFailures {
		if w := signIn(t, h, "guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, w.Code)
		}
	}
	if w := signIn(t, h, "tok"); w.Code != http.StatusTooManyRequests {
		t.Errorf("sign-in after %d wrong tokens = %d, want 429", maxFailures, w.Code)
	}
	c.Add(time.Minute)
	if w := signIn(t, h, "tok"); w.Code != 200 {
		t.Errorf("sign-in a minute later = %d, want 200", w.Code)
	}
}
