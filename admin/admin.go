// Package admin is herald's dashboard at /admin/: a page embedded in the
// binary that shows, live over Server-Sent Events, every event and what
// became of it, the connected pages, the ingress instances and the rules,
// and lets the streamer fire a test alert, replay alerts and dry-run an
// event.
//
// # Signing in
//
// The dashboard is on only when herald has an admin token; without one the
// page says how to turn it on. Signing in with the token creates a
// server-side session (a random id in an HttpOnly, SameSite=Strict cookie
// scoped to /admin/, with an expiry) and a per-session CSRF token that the
// page sends in a header with every POST. Actions are forwarded to the
// admin API (/api/route, /api/replay, /api/history, /api/rules) with the
// bearer token added server-side, so the page never holds the token.
//
// # Cost on the alert path
//
// The Dashboard is a router.Observer: each event is copied into a bounded
// ring (no allocation for up to four deliveries) and offered to the open
// dashboards without waiting; a tab that does not keep up misses items, it
// never slows delivery. Rendering (JSON, removing secrets) happens on the
// dashboard's own goroutine.
package admin

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/internal/feed"
	"github.com/heraldhq/herald/router"
)

//go:embed ui
var ui embed.FS

// History is how many events the dashboard remembers for a tab that opens.
const History = 500

// Options configures the dashboard.
type Options struct {
	// Token is the admin token; "" turns the dashboard off.
	Token string
	// Status reads the router (Router.Status).
	Status func() router.Status
	// Journal reads the journal's health (Journaled.Status); nil shows
	// none.
	Journal func() router.JournalStatus
	// Pages lists connected pages; nil shows none.
	Pages egress.Lister
	// API serves the admin endpoints the dashboard's actions forward to
	// (the server's own mux); requests reach it with the bearer token set.
	API http.Handler
	// SecureCookie marks the session cookie Secure (herald serves HTTPS).
	SecureCookie bool
	// ClientKey names the client a request came from (its address; behind
	// a trusted proxy, the client's), for the sign-in limit: each client
	// may bring maxFailures wrong tokens a minute. nil, or "", means the
	// request's remote IP.
	ClientKey func(*http.Request) string
	// SessionTTL is how long a sign-in lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// Log is scoped already; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Dashboard serves /admin/ and observes the router.
type Dashboard struct {
	opts     Options
	feed     *feed.Feed[record]
	seq      atomic.Uint64
	sessions *sessions
	static   http.Handler

	closing   chan struct{} // closed by Close: open streams end
	closeOnce sync.Once
}

// New builds the dashboard. It starts nothing.
func New(opts Options) *Dashboard {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	files, _ := fs.Sub(ui, "ui") // the directory is embedded: cannot fail
	return &Dashboard{
		opts:     opts,
		feed:     feed.New[record](History),
		sessions: newSessions(opts.Now, opts.SessionTTL),
		static:   http.StripPrefix("/admin/", http.FileServerFS(files)),
		closing:  make(chan struct{}),
	}
}

// Close ends every open stream, for a server that is shutting down:
// http.Server.Shutdown waits for its handlers, and a stream would return
// only when its tab went away. The tabs see the stream end and try again
// (the page says "reconnecting") until the server is back.
func (d *Dashboard) Close() { d.closeOnce.Do(func() { close(d.closing) }) }

// SetAPI sets the handler actions are forwarded to, for a server whose mux
// is built after the dashboard.
func (d *Dashboard) SetAPI(h http.Handler) { d.opts.API = h }

// Enabled reports whether an admin token is configured.
func (d *Dashboard) Enabled() bool { return d.opts.Token != "" }

// Handler serves everything under /admin/.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/session", d.session)
	mux.HandleFunc("POST /admin/login", d.login)
	mux.Handle("POST /admin/logout", d.action(http.HandlerFunc(d.logout)))
	mux.Handle("GET /admin/stream", d.signedIn(http.HandlerFunc(d.stream)))
	mux.Handle("POST /admin/api/route", d.action(d.forward("/api/route")))
	mux.Handle("POST /admin/api/replay", d.action(d.forward("/api/replay")))
	mux.Handle("GET /admin/api/history", d.signedIn(d.forward("/api/history")))
	mux.Handle("GET /admin/api/rules", d.signedIn(d.forward("/api/rules")))
	mux.Handle("GET /admin/", d.files())
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed here"})
	}))
	return secureHeaders(mux)
}

// files serves the page; a directory path gets index.html, nothing lists.
func (d *Dashboard) files() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != "/admin/" {
			http.NotFound(w, r)
			return
		}
		d.static.ServeHTTP(w, r)
	})
}

// secureHeaders keeps the dashboard out of frames and limits it to its own
// scripts: codes and the admin session are behind it.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

var _ router.Observer = (*Dashboard)(nil)
