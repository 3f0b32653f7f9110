package admin

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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
	return signInFrom(t, h, token, "192.0.2.1:1234")
}

// signInFrom signs in from the client at remote.
func signInFrom(t *testing.T, h http.Handler, token, remote string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/admin/login", strings.NewReader(`{"token":"`+token+`"}`))
	r.RemoteAddr = remote
	r.Header.Set("Content-Type", "application/json; charset=utf-8") // what scripts send; the page sends it bare
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

// TestWrongTokensAreLimited: a client that brought maxFailures wrong
// tokens within a minute gets no answer on the next one, the right one
// included, so guessing learns nothing faster than that; the streamer,
// signing in from elsewhere, is not locked out.
func TestWrongTokensAreLimited(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	h := New(Options{Token: "tok", Now: c.Now}).Handler()
	const guesser, streamer = "198.51.100.7:4000", "192.0.2.1:1234"
	for i := range maxFailures {
		if w := signInFrom(t, h, "guess", guesser); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, w.Code)
		}
	}
	w := signInFrom(t, h, "tok", guesser)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("the right token after %d wrong ones from one client = %d (Retry-After %q), want 429 with Retry-After",
			maxFailures, w.Code, w.Header().Get("Retry-After"))
	}
	if w := signInFrom(t, h, "tok", streamer); w.Code != 200 {
		t.Errorf("the streamer's sign-in from another address = %d, want 200: a guesser must not lock them out", w.Code)
	}
	c.Add(time.Minute)
	if w := signInFrom(t, h, "tok", guesser); w.Code != 200 {
		t.Errorf("sign-in a minute later = %d, want 200", w.Code)
	}
}

// TestWrongTokensFromTooManyClients: beyond maxClients remembered at
// once, the clients not remembered are paced together, not unpaced.
func TestWrongTokensFromTooManyClients(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	s := newSessions(c.Now, time.Hour)
	for i := range maxClients {
		s.failed(strconv.Itoa(i))
	}
	for range maxFailures {
		if ok, _ := s.allow("one-more"); !ok {
			t.Fatal("a client not remembered was refused before the shared window was spent")
		}
		s.failed("one-more")
	}
	if ok, _ := s.allow("and-another"); ok {
		t.Error("clients beyond maxClients are not paced: guessing from many addresses goes unlimited")
	}
	c.Add(time.Minute)
	if ok, _ := s.allow("and-another"); !ok {
		t.Error("a minute later the shared window still refuses")
	}
}
