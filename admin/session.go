package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// cookieName holds the session id; the cookie is scoped to /admin/.
const cookieName = "herald_admin"

// csrfHeader carries the session's CSRF token on every POST.
const csrfHeader = "X-CSRF-Token"

// maxSessions bounds the sessions kept; the oldest goes first.
const maxSessions = 64

type session struct {
	csrf    string
	expires time.Time
	created time.Time
}

// sessions is the server-side session store: the cookie holds only a
// random id, so signing out or a restart ends a session for good.
type sessions struct {
	now func() time.Time
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]session

	// failures are each client's wrong tokens in its current minute:
	// past maxFailures its sign-ins are refused, the right token too,
	// until the minute is over. That makes guessing the token hopeless
	// (a guesser who got an answer for every guess would learn the right
	// one at full speed), and a guesser elsewhere cannot lock the streamer
	// out.
	failures map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

// maxFailures is how many wrong tokens a minute one client may bring;
// maxClients bounds the clients remembered at once (a minute's worth).
// Beyond it the clients not remembered share one window (overflow):
// guessing from more addresses than that is paced as one guesser.
const (
	maxFailures = 10
	maxClients  = 10_000
	overflow    = ""
)

// allow reports whether client may try a sign-in now, and if not how
// long until it may.
func (s *sessions) allow(client string) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w := s.failures[client]
	if w == nil && len(s.failures) >= maxClients {
		w = s.failures[overflow]
	}
	if w == nil || now.Sub(w.start) >= time.Minute {
		return true, 0
	}
	if w.n < maxFailures {
		return true, 0
	}
	return false, w.start.Add(time.Minute).Sub(now)
}

// failed counts a wrong token from client.
func (s *sessions) failed(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w := s.failures[client]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if w == nil && len(s.failures) >= maxClients {
			for k, old := range s.failures {
				if now.Sub(old.start) >= time.Minute {
					delete(s.failures, k)
				}
			}
			if len(s.failures) >= maxClients {
				client, w = overflow, s.failures[overflow]
			}
		}
		if w == nil || now.Sub(w.start) >= time.Minute {
			w = &failWindow{start: now}
			s.failures[client] = w
		}
	}
	w.n++
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, m: map[string]session{}, failures: map[string]*failWindow{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func (s *sessions) create() (id string, sess session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var oldest string
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		} else if oldest == "" || v.created.Before(s.m[oldest].created) {
			oldest = k
		}
	}
	if len(s.m) >= maxSessions {
		delete(s.m, oldest)
	}
	id, sess = randomHex(32), session{csrf: randomHex(32), expires: now.Add(s.ttl), created: now}
	s.m[id] = sess
	return id, sess
}

func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if ok && s.now().After(sess.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return sess, ok
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// current returns the request's live session.
func (d *Dashboard) current(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return "", session{}, false
	}
	sess, ok := d.sessions.get(c.Value)
	return c.Value, sess, ok
}

// session tells the page where it stands: off, signed out, or signed in
// with its CSRF token.
func (d *Dashboard) session(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"enabled": d.Enabled(), "signed_in": false}
	if !d.Enabled() {
		out["help"] = "The dashboard is off: start herald with --admin-token TOKEN (or set HERALD_ADMIN_TOKEN), then sign in here with that token."
	} else if _, sess, ok := d.current(r); ok {
		out["signed_in"], out["csrf"], out["expires"] = true, sess.csrf, sess.expires
	}
	writeJSON(w, http.StatusOK, out)
}

// login checks the token and starts a session. The body must be JSON, which
// a cross-site form cannot send.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.Enabled() {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "the dashboard is off: start herald with --admin-token"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !sameOrigin(r) || mt != "application/json" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "sign in from the dashboard page"})
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed sign-in"})
		return
	}
	client := d.clientKey(r)
	if ok, retry := d.sessions.allow(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second)/time.Second)+1))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many wrong tokens from this address: wait a minute"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(body.Token), []byte(d.opts.Token)) != 1 {
		d.sessions.failed(client)
		d.opts.Log.Warn("dashboard sign-in refused", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong token"})
		return
	}
	id, sess := d.sessions.create()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/admin/", Expires: sess.expires, MaxAge: int(d.opts.SessionTTL.Seconds()),
		HttpOnly: true, Secure: d.opts.SecureCookie, SameSite: http.SameSiteStrictMode,
	})
	d.opts.Log.Info("dashboard signed in", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"signed_in": true, "csrf": sess.csrf, "expires": sess.expires})
}

// clientKey names the client r came from, for the sign-in limit.
func (d *Dashboard) clientKey(r *http.Request) string {
	if d.opts.ClientKey != nil {
		if key := d.opts.ClientKey(r); key != "" {
			return key
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if id, _, ok := d.current(r); ok {
		d.sessions.end(id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin/", MaxAge: -1,
		HttpOnly: true, Secure: d.opts.SecureCookie, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]any{"signed_in": false})
}

// signedIn lets through requests with a live session.
func (d *Dashboard) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := d.current(r); !ok || !d.Enabled() {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// action guards a state-changing request: a live session, a same-origin
// request, and the session's CSRF token in the header.
func (d *Dashboard) action(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sess, ok := d.current(r)
		if !ok || !d.Enabled() {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first"})
			return
		}
		got := r.Header.Get(csrfHeader)
		if !sameOrigin(r) || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			d.opts.Log.Warn("dashboard action refused: CSRF check failed", "path", r.URL.Path, "remote", r.RemoteAddr)
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong CSRF token: reload the dashboard"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses requests a browser marks as coming from another site.
// A request without Origin (curl, an old browser) passes: the session
// cookie and the CSRF token still guard it.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

type forwardedKey struct{}

// Forwarded reports whether a request to the admin API is a signed-in
// dashboard's action, which forward sent with the token: it is no guess
// at the token, so the API's limit on wrong tokens does not apply to it.
func Forwarded(ctx context.Context) bool { return ctx.Value(forwardedKey{}) == true }

// forward sends an action to the admin API with the bearer token added.
func (d *Dashboard) forward(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.opts.API == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "no admin API"})
			return
		}
		r2 := r.Clone(context.WithValue(r.Context(), forwardedKey{}, true))
		r2.URL.Path, r2.RequestURI = path, ""
		r2.Header.Del("Cookie")
		r2.Header.Del(csrfHeader)
		r2.Header.Set("Authorization", "Bearer "+d.opts.Token)
		d.opts.API.ServeHTTP(w, r2)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
