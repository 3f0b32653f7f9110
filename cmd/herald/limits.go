package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/limit"
)

// limits are the server's refusals of too much from one client or from
// everyone at once. Each is set by a flag (see flags.go); a zero rate or
// count is off.
type limits struct {
	requests        *limit.Buckets // /notify, per client
	refusals        *limit.Buckets // refused requests to rules-file ingress, per client
	misses          *limit.Buckets // /notify answers that reached no page, per client
	handshakes      *limit.Buckets // new Socket.IO sessions, per client
	handshakesTotal *limit.Buckets // new Socket.IO sessions, everyone
	socketConns     *limit.Conns   // connections carrying Socket.IO
	bodies          *limit.Conns   // request bodies being received, per client
	bodiesPerIP     int
	bodyTimeout     time.Duration
	maxBody         int64
}

func newLimits(cfg config) *limits {
	return &limits{
		requests:        limit.NewBuckets(cfg.rateRequests, nil),
		refusals:        limit.NewBuckets(cfg.rateRequests, nil),
		misses:          limit.NewBuckets(cfg.rateMisses, nil),
		handshakes:      limit.NewBuckets(cfg.rateHandshakes, nil),
		handshakesTotal: limit.NewBuckets(cfg.rateHandshakesTotal, nil),
		socketConns:     limit.NewConns(cfg.connsPerIP, cfg.connsTotal),
		bodies:          limit.NewConns(cfg.bodiesPerIP, 0),
		bodiesPerIP:     cfg.bodiesPerIP,
		bodyTimeout:     cfg.bodyTimeout,
		maxBody:         cfg.maxBody,
	}
}

type clientKey struct{}

// tooMany answers a refusal with Retry-After (whole seconds).
func tooMany(w http.ResponseWriter, r *http.Request, status int, retry time.Duration, reason string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(max(retry, time.Second)/time.Second)))
	refuse(w, r, status, reason)
}

// triggerShaped marks (in a request's context) a request of a trigger
// URL: the built-in /notify or one the rules file declares.
type triggerShaped struct{}

// refuse answers a request the limits turn away in the shape its sender
// reads: a trigger URL's (bots written for the seed service read
// success, count and msg), {"error": reason} anywhere else.
func refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	closeUnread(w, r)
	if shaped, _ := r.Context().Value(triggerShaped{}).(bool); shaped {
		ingress.WriteJSON(w, status, seedAnswer{Success: 0, Count: 0, Msg: reason})
		return
	}
	ingress.WriteJSON(w, status, map[string]string{"error": reason})
}

// closeUnread makes the server close the connection after it answers r,
// when r has a body that may not have been read. Otherwise Go's server
// reads what is left of the body before it sends the answer, so that the
// connection can serve the next request, and with no deadline: a client
// trickling a body would never get its refusal and would hold the
// connection for as long as it liked, past --body-timeout and
// --bodies-per-ip.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// apply puts the per-client limits in front of next: request rates on the
// trigger URL and the rules file's ingress paths, connection counts,
// handshake rates and the long-polls' write deadline on Socket.IO, and the
// body read deadline everywhere.
func (d handlerDeps) apply(l *limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := limit.Key(r)
		ctx := context.WithValue(r.Context(), clientKey{}, key)
		if path := r.URL.Path; path == "/notify" || !d.sinkProtocol(path) && d.router.IngressType(path) == "trigger" {
			ctx = context.WithValue(ctx, triggerShaped{}, true)
		}
		r = r.WithContext(ctx)
		switch path := r.URL.Path; {
		case d.sinkProtocol(path):
			var end func()
			var ok bool
			if w, r, end, ok = d.admitSocket(l, w, r, key); !ok {
				return
			}
			defer end()
		case path == "/notify":
			if ok, retry := l.requests.Allow(key); !ok {
				d.log.Warn("request refused: too many", "path", path, "remote", r.RemoteAddr)
				d.triggerRefused(ingress.Errorf(http.StatusTooManyRequests, "too many requests"))
				tooMany(w, r, http.StatusTooManyRequests, retry, "too many requests; retry later")
				return
			}
		case d.router.Handles(path):
			// Webhooks are limited by their refusals only: a platform's
			// burst of genuine notifications (a gift-sub train, all from
			// one proxy address) must never be answered 429, or the
			// platform retries and may cancel the subscription; a client
			// sending forged or malformed requests is cut off.
			if ok, retry := l.refusals.Peek(key); !ok {
				d.log.Warn("request refused: too many refused before", "path", path, "remote", r.RemoteAddr)
				tooMany(w, r, http.StatusTooManyRequests, retry, "too many refused requests; retry later")
				return
			}
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				if rec.status >= 400 {
					l.refusals.Spend(key)
				}
			}()
			w = rec
		}
		if !l.readBody(w, r, key) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admitSocket applies the connection and handshake limits to a request
// of the Socket.IO endpoint, and answers it when it is refused. A request
// of a session (with its sid) was counted at the session's handshake; its
// long-polls are given a write deadline (boundPoll). A handshake is
// counted (countSocket) and spends a handshake token. end is to be called
// once the request is served.
func (d handlerDeps) admitSocket(l *limits, w http.ResponseWriter, r *http.Request, key string) (_ http.ResponseWriter, _ *http.Request, end func(), ok bool) {
	if r.URL.Query().Get("sid") != "" {
		w, end = d.boundPoll(w, r)
		return w, r, end, true
	}
	hold, ok := l.countSocket(r, key)
	if !ok {
		d.log.Warn("socket.io connection refused: too many open", "remote", r.RemoteAddr)
		tooMany(w, r, http.StatusServiceUnavailable, 10*time.Second, "too many open connections")
		return w, r, nil, false
	}
	end = func() {}
	if hold != nil {
		end = hold.End
		r = r.WithContext(limit.WithHold(r.Context(), hold))
	}
	ok, retry := l.handshakes.Allow(key)
	if ok {
		ok, retry = l.handshakesTotal.Allow("")
	}
	if !ok {
		end()
		d.log.Warn("socket.io handshake refused: too many", "remote", r.RemoteAddr)
		tooMany(w, r, http.StatusTooManyRequests, retry, "too many new connections; retry later")
		return w, r, nil, false
	}
	return w, r, end, true
}

// countSocket counts a new Socket.IO session (a handshake: no sid) as
// one open connection of client key until it closes, and reports false
// when key or everyone is at the bound (--conns-per-ip, --conns-total).
// A WebSocket is counted by its connection, which it holds to its end
// (hijacked). A long-polling session holds no connection between its
// polls: it is counted by the Hold it returns, which the Socket.IO sink
// keeps for the session, from this handshake until the library closes
// it, upgraded to a WebSocket or not (the upgrade carries the sid, so it
// is not counted again); the caller Ends the Hold once the request is
// served, which gives the count back if no session was opened. Without
// connection tracking (limit.Listener) WebSockets are not counted.
func (l *limits) countSocket(r *http.Request, key string) (*limit.Hold, bool) {
	if websocket.IsWebSocketUpgrade(r) {
		c := limit.ConnOf(r.Context())
		return nil, c == nil || c.Claim(l.socketConns, key)
	}
	return l.socketConns.Hold(key)
}

// readBody reads a request's body before any handler sees it, under the
// body deadline and the size limit, so that no handler (the Socket.IO
// library's long-polling POSTs included) ever waits on a client trickling
// bytes: 408 when the body does not arrive in time, 413 when it is too
// large. One client may send only so many bodies at once (503 beyond), so
// slow senders cannot hold connections without end. It reports whether
// the request may go on.
func (l *limits) readBody(w http.ResponseWriter, r *http.Request, key string) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	if r.ContentLength > l.maxBody {
		// Refused at once: waiting for a body it would refuse anyway kept
		// the sender waiting for the body deadline, then answered 408.
		w.Header().Set("Connection", "close")
		e := ingress.BodyError(w, &http.MaxBytesError{Limit: l.maxBody}, l.maxBody)
		refuse(w, r, e.Status, e.Reason)
		return false
	}
	if l.bodiesPerIP > 0 {
		release, ok := l.bodies.Acquire(key)
		if !ok {
			w.Header().Set("Connection", "close")
			tooMany(w, r, http.StatusServiceUnavailable, time.Second, "too many request bodies in progress")
			return false
		}
		defer release()
	}
	rc := http.NewResponseController(w)
	if l.bodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Now().Add(l.bodyTimeout))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.maxBody))
	if err != nil {
		e := ingress.BodyError(w, err, l.maxBody)
		refuse(w, r, e.Status, e.Reason)
		return false
	}
	// The connection goes on (keep-alive, or the library's long-poll):
	// from here on only the server's own timeouts apply.
	_ = rc.SetReadDeadline(time.Time{})
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return true
}

// missLimited wraps the built-in /notify so that it is no oracle for
// codes: every answer that reached no page costs the client a token, and a
// client out of tokens is refused (429, in the seed's answer shape) before
// anything is published, so guessing codes runs at the --rate-misses pace
// whatever the guesser does. Unused with --trigger-key, where only key
// holders get that far.
//
// A refusal is logged and counted as the trigger's: a bot firing at a
// mistyped code, or at one whose page was never opened, is refused for
// its live codes too until its misses come back, and the streamer must be
// able to see why.
func missLimited(l *limits, log *slog.Logger, refused func(error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := r.Context().Value(clientKey{}).(string)
		if ok, retry := l.misses.Peek(key); !ok {
			log.Warn("trigger refused: too many for codes with no page (--rate-misses)", "remote", r.RemoteAddr,
				"retry_after", retry.Round(time.Second).String())
			refused(ingress.Errorf(http.StatusTooManyRequests, "too many triggers for codes with no page"))
			tooMany(w, r, http.StatusTooManyRequests, retry, "too many triggers for codes with no page; retry later")
			return
		}
		// A code with its own key answers 401 to a guesser: that is as
		// telling as a count, so it costs a miss too.
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			l.misses.Spend(key)
		}
	})
}

// seedAnswer is /notify's answer shape, field order included.
type seedAnswer struct {
	Success int    `json:"success"`
	Count   int    `json:"count"`
	Msg     string `json:"msg"`
}

// missCounter is the publisher behind the built-in /notify: it charges
// the client (from the request context) for each event that reached no
// page, unless a page held the event's code lately (held): a bot firing
// alerts while OBS is closed is no guesser, and its alerts wait in the
// journal for the page. That is no oracle either: every wrong guess still
// costs a miss, so guessing runs at the --rate-misses pace whatever a
// guesser learns from which of its guesses were free.
type missCounter struct {
	next   herald.Publisher
	misses *limit.Buckets
	held   func(code string) bool
}

func (m missCounter) Publish(ctx context.Context, ev herald.Event) (herald.Receipt, error) {
	rc, err := m.next.Publish(ctx, ev)
	// An alert not kept (no page, and a failing journal) is answered 503,
	// as telling as a count of 0: it costs the same.
	reachedNone := err == nil || errors.Is(err, herald.ErrNotKept)
	if reachedNone && rc.Pages == 0 && !(ev.Code != "" && m.held(ev.Code)) {
		if key, ok := ctx.Value(clientKey{}).(string); ok {
			m.misses.Spend(key)
		}
	}
	return rc, err
}

// statusRecorder notes the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
