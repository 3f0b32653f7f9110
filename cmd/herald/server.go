package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/admin"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// handlerDeps is what the fixed routes need.
type handlerDeps struct {
	cfg     config
	log     *slog.Logger
	router  *router.Router
	sinks   sinks
	trigger ingress.Adapter
	sources fs.FS
	mon     *monitoring
	journal *router.Journaled
	policy  originPolicy
	limits  *limits
	cluster *cluster // nil unless --redis
	started time.Time
}

// newHandler builds the fixed routes; paths it does not know go to the
// router, which serves the ingress instances the rules file declares.
func newHandler(d handlerDeps) http.Handler {
	mux := http.NewServeMux()
	notify := http.Handler(d.trigger)
	if d.cfg.triggerKey == "" {
		notify = missLimited(d.limits, d.log, d.triggerRefused, notify)
	}
	mux.Handle("/notify", notify)
	mux.Handle("/heartbeat", only("GET", http.HandlerFunc(heartbeat)))
	mux.Handle("/clients", only("GET", d.admin(http.HandlerFunc(d.clients))))
	mux.Handle("/api/rules", only("GET", d.admin(http.HandlerFunc(d.rulesStatus))))
	mux.Handle("/api/status", only("GET", d.admin(http.HandlerFunc(d.status))))
	mux.Handle("/api/route", only("POST", d.admin(http.HandlerFunc(d.route))))
	mux.Handle("/api/journal", only("GET", d.admin(journalStatusHandler(d.journal))))
	if d.cluster != nil {
		mux.Handle("/api/cluster", only("GET", d.admin(d.cluster.statusHandler())))
	} else {
		mux.Handle("/api/cluster", apiMissing("cluster mode is off: herald runs it with --redis"))
	}
	// The rest of /api/ is herald's too (no ingress may take it): a
	// mistyped path is told so in JSON, like every other /api/ answer.
	mux.Handle("/api/", apiMissing("no such API; herald has /api/rules, /api/status, /api/route, /api/journal, /api/history, /api/replay and, in cluster mode, /api/cluster"))
	mux.Handle("/api/history", only("GET", d.admin(historyHandler(d.journal))))
	mux.Handle("/api/replay", only("POST", d.admin(replayHandler(d.journal))))
	mux.Handle("/sources/", only("GET", http.StripPrefix("/sources/", http.FileServerFS(noDirs{d.sources}))))
	for _, m := range d.sinks.mounts() {
		// Long-polling sessions that stopped polling are let go (polling.go).
		mux.Handle(m.Path(), newPollWatch(libraryGrace, nil).wrap(m.Handler()))
	}
	landing(mux)
	if d.mon != nil {
		d.mon.mount(d.cfg, mux)
	}
	mux.Handle("/", d.router)
	// Behind a trusted proxy every handler below, the limits first, sees
	// the client's address instead of the proxy's.
	return d.cfg.trustedProxies.Middleware(d.guard(d.apply(d.limits, mux)))
}

// apiMissing answers 404 with why, in JSON.
func apiMissing(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ingress.WriteJSON(w, http.StatusNotFound, map[string]string{"error": why})
	})
}

func heartbeat(w http.ResponseWriter, _ *http.Request) {
	ingress.WriteJSON(w, http.StatusOK, map[string]string{"heartbeat": "OK"})
}

// only refuses every method but method (and HEAD with GET) with a 405, so
// a fixed path never falls through to the rules file's ingress routes.
func only(method string, next http.Handler) http.Handler {
	allow := method
	if method == http.MethodGet {
		allow += ", HEAD"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", allow)
			ingress.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// triggerRefused counts a refusal the limits answered for /notify as the
// built-in trigger's, so /api/rules, the dashboard and the metrics show it.
func (d handlerDeps) triggerRefused(err error) {
	if c, ok := d.trigger.(interface{ Refused(error) }); ok {
		c.Refused(err)
	}
}

// sinkProtocol reports whether path is a sink's own protocol endpoint
// (Socket.IO's, not the client bundle it also serves), which answers CORS
// itself.
func (d handlerDeps) sinkProtocol(path string) bool {
	return d.sinks.mounted(path) && !strings.HasSuffix(path, ".js")
}

// admin guards next with the admin bearer token. With no token configured
// the admin endpoints are disabled, not open: codes are secrets.
func (d handlerDeps) admin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.cfg.adminToken == "" {
			ingress.WriteJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "admin endpoints are disabled: start herald with --admin-token or HERALD_ADMIN_TOKEN"})
			return
		}
		if d.guessing(w, r) {
			return
		}
		got, ok := ingress.BearerToken(r.Header)
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(d.cfg.adminToken)) != 1 {
			d.refuseAdmin(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guessing answers 429 to a client that sent too many wrong admin tokens
// lately (its --rate-requests refusals ran out), whatever token it sends
// now, the right one too, and reports whether it did. The token may be a
// weak one its owner chose: a guesser answered for every guess would
// learn the right one at full speed, 429 or not for the wrong ones. So
// guessing runs at the --rate-requests pace. Only the guesser's address
// waits; a signed-in dashboard's actions are no guesses and never wait.
func (d handlerDeps) guessing(w http.ResponseWriter, r *http.Request) bool {
	if d.limits == nil || admin.Forwarded(r.Context()) {
		return false
	}
	key, _ := r.Context().Value(clientKey{}).(string)
	ok, retry := d.limits.refusals.Peek(key)
	if !ok {
		tooMany(w, r, http.StatusTooManyRequests, retry, "too many wrong admin tokens from this address; retry later")
	}
	return !ok
}

// refuseAdmin answers a missing or wrong admin token; each costs the
// client one of its refusals (guessing).
func (d handlerDeps) refuseAdmin(w http.ResponseWriter, r *http.Request) {
	if d.limits != nil {
		key, _ := r.Context().Value(clientKey{}).(string)
		d.limits.refusals.Spend(key)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
	ingress.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
	d.log.Warn("admin request refused", "path", r.URL.Path, "remote", r.RemoteAddr)
}

// clients lists registered pages, grouped by code as the original service did.
func (d handlerDeps) clients(w http.ResponseWriter, r *http.Request) {
	list := d.sinks.Clients()
	if d.cluster != nil {
		// Every node's pages, from their presence listings.
		all, err := d.cluster.clients(r.Context())
		if err != nil {
			// Not the whole answer, so not a 200; but this node's own
			// pages are still known, and worth showing while Redis is away.
			body := clientsBody(list)
			body["partial"], body["error"] = true, "cluster listing: "+err.Error()+"; these are this node's pages only"
			ingress.WriteJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		list = all
	}
	ingress.WriteJSON(w, http.StatusOK, clientsBody(list))
}

// clientsBody is GET /clients's answer for list.
func clientsBody(list []egress.Client) map[string]any {
	byCode := map[string][]egress.Client{}
	for _, c := range list {
		byCode[c.Code] = append(byCode[c.Code], c)
	}
	return map[string]any{"count": len(list), "codes": byCode, "clients": nonNil(list)}
}

func (d handlerDeps) rulesStatus(w http.ResponseWriter, r *http.Request) {
	// The journal's size and health ride along: retention lives in the
	// rules file, so this is where its effect is looked for.
	ingress.WriteJSON(w, http.StatusOK, struct {
		router.Status
		Journal router.JournalStatus `json:"journal"`
	}{d.router.Status(), d.journal.Status()})
}

// healthAnswer is GET /api/status: herald's health in one answer.
type healthAnswer struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Pages is the pages connected to this node.
	Pages int         `json:"pages"`
	Rules rulesHealth `json:"rules"`
	// Journal is the alert history: store, size on disk, failures.
	Journal router.JournalStatus `json:"journal"`
	// Cluster is set in cluster mode (--redis): the link to Redis.
	Cluster *clusterStatus `json:"cluster,omitempty"`
}

type rulesHealth struct {
	File       string            `json:"file"`
	Generation uint64            `json:"generation"`
	LoadedAt   time.Time         `json:"loaded_at"`
	LastError  *router.ErrorInfo `json:"last_error"`
}

func (d handlerDeps) status(w http.ResponseWriter, _ *http.Request) {
	rs := d.router.Status()
	out := healthAnswer{Version: version, Started: d.started, Pages: len(d.sinks.Clients()),
		Rules:   rulesHealth{File: rs.File, Generation: rs.Generation, LoadedAt: rs.LoadedAt, LastError: rs.LastError},
		Journal: d.journal.Status()}
	if d.cluster != nil {
		st := d.cluster.status()
		out.Cluster = &st
	}
	ingress.WriteJSON(w, http.StatusOK, out)
}

// route runs an event through the live rules. With ?dry_run=1 it only
// reports the matches and the deliveries; without, it publishes for real,
// which makes it a handy way to test an overlay.
func (d handlerDeps) route(w http.ResponseWriter, r *http.Request) {
	body, err := ingress.ReadBody(w, r, d.cfg.maxBody)
	if err != nil {
		ingress.WriteError(w, err)
		return
	}
	ev, err := rules.DecodeEvent(body)
	if err != nil {
		ingress.WriteError(w, ingress.Errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if ev.Source == "" {
		ev.Source = "api"
	}
	if ev.ID == "" {
		ev.ID = herald.NewID() // one id for the reported result and the real publish
	}
	res := d.router.Route(ev)
	out, err := asObject(res)
	if err != nil {
		ingress.WriteError(w, err)
		return
	}
	if dry := r.URL.Query().Get("dry_run"); dry == "1" || dry == "true" {
		out["dry_run"] = true
		ingress.WriteJSON(w, http.StatusOK, out)
		return
	}
	rc, err := d.router.Publish(r.Context(), ev)
	if errors.Is(err, herald.ErrInvalidEvent) {
		ingress.WriteError(w, ingress.Errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if err != nil {
		ingress.WriteError(w, ingress.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	out["dry_run"], out["event_id"], out["pages"] = false, rc.EventID, rc.Pages
	ingress.WriteJSON(w, http.StatusOK, out)
}

// asObject turns a routing result into a JSON object with the same keys
// `herald route` prints, so the answer can carry a few more.
func asObject(res rules.Result) (map[string]any, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
