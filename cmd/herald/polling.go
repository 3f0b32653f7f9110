package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/heraldhq/herald/ingress"
)

// pollWatch keeps long-polling sessions honest from outside the Socket.IO
// library. The library keeps a session alive as long as pongs arrive, and
// a client may post pongs without ever polling: it then never reads the
// alerts (or pings) queued for it. pollWatch notes when each session last
// polled; a session that has not polled for the heartbeat's grace (ping
// interval + ping timeout) has its posts refused as the library refuses an
// unknown session, so no pong of it arrives and the library's own
// heartbeat closes it.
type pollWatch struct {
	grace time.Duration
	now   func() time.Time

	mu       sync.Mutex
	sessions map[string]*pollState
}

type pollState struct {
	inFlight int       // polls (GETs) running now
	last     time.Time // when a poll last started or ended
}

// maxWatched bounds the table: past it, sessions idle longer than the
// grace (which the library has closed by then) are dropped.
const maxWatched = 1 << 16

// libraryGrace is the library's ping interval + ping timeout (its
// defaults, which herald keeps).
const libraryGrace = 25*time.Second + 20*time.Second

func newPollWatch(grace time.Duration, now func() time.Time) *pollWatch {
	if now == nil {
		now = time.Now
	}
	return &pollWatch{grace: grace, now: now, sessions: map[string]*pollState{}}
}

// wrap applies the watch to the library's long-polling requests.
func (p *pollWatch) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sid := q.Get("sid")
		if sid == "" || q.Get("transport") != "polling" {
			next.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			p.polling(sid, +1)
			defer p.polling(sid, -1)
		case http.MethodPost:
			if !p.alive(sid) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"code":1,"message":"Session ID unknown"}`))
				return
			}
			if !fewPackets(w, r, q.Has("j")) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxPostPackets bounds the packets one long-polling POST may carry. The
// library makes objects some hundreds of bytes large of each: a 1 MiB
// body of one-byte no-op packets took 380 MB. A page posts a handful at a
// time (a pong, its REGISTER, acks); the acks of a whole catch-up, which
// retention bounds (200 alerts by default), fit many times over.
const maxPostPackets = 4096

// fewPackets refuses (400) a POST of more than maxPostPackets packets. The
// body is in memory already (limits.readBody), so counting costs one scan.
func fewPackets(w http.ResponseWriter, r *http.Request, jsonp bool) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		ingress.WriteError(w, ingress.BodyError(w, err, 0))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	n, err := postPackets(body, jsonp)
	if err != nil {
		ingress.WriteError(w, ingress.Errorf(http.StatusBadRequest, "%v", err))
		return false
	}
	if n > maxPostPackets {
		ingress.WriteError(w, ingress.Errorf(http.StatusBadRequest, "%d packets in one post; at most %d", n, maxPostPackets))
		return false
	}
	return true
}

// postPackets counts the packets of a long-polling POST body. Engine.IO
// v4 separates a payload's packets with the record separator; a JSONP
// client (?j=N: socket.io-client 3 without XHR) posts the payload as the
// d field of a form, where the separators are escaped (%1E), so the form
// is read as the library reads it before counting.
func postPackets(body []byte, jsonp bool) (int, error) {
	if jsonp {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return 0, errors.New("malformed JSONP post: the payload goes in a form's d field")
		}
		body = []byte(form.Get("d"))
	}
	return bytes.Count(body, []byte{0x1e}) + 1, nil
}

func (p *pollWatch) polling(sid string, delta int) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.state(sid, now)
	st.inFlight += delta
	st.last = now
}

// alive reports whether a post of sid is let through: the session polls
// now, or polled within the grace. A session seen for the first time is
// alive (the client posts CONNECT before its first poll).
func (p *pollWatch) alive(sid string) bool {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.state(sid, now)
	return st.inFlight > 0 || now.Sub(st.last) <= p.grace
}

func (p *pollWatch) state(sid string, now time.Time) *pollState {
	st, ok := p.sessions[sid]
	if ok {
		return st
	}
	if len(p.sessions) >= maxWatched {
		for k, s := range p.sessions {
			if s.inFlight == 0 && now.Sub(s.last) > 2*p.grace {
				delete(p.sessions, k)
			}
		}
	}
	st = &pollState{last: now}
	p.sessions[sid] = st
	return st
}

// pollWriteTimeout bounds how long writing one long-poll answer may take,
// as the Socket.IO sink bounds one write to a WebSocket page (its
// WriteTimeout, 10 s by default). It runs from the answer's first byte,
// not from the poll's start: the library holds a healthy poll open until
// it has something to send, up to its ping interval (25 s), and that
// wait writes nothing.
const pollWriteTimeout = 10 * time.Second

// boundPoll bounds the writing of the answer to r when r is a long-poll
// (a GET of a polling session). The library sets no write deadline and
// ignores a failed write, so a client that never read its answer held
// the answer (megabytes of queued alerts) in memory until TCP gave up,
// two minutes later, and its session alive meanwhile. Now the write
// fails after pollWriteTimeout, which frees the answer, and done (to be
// called once r is served) closes the session: its page no longer reads,
// and it would otherwise wait for the heartbeat to end it.
func (d handlerDeps) boundPoll(w http.ResponseWriter, r *http.Request) (_ http.ResponseWriter, done func()) {
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("transport") != "polling" {
		return w, func() {}
	}
	pw := &pollWriter{ResponseWriter: w, timeout: pollWriteTimeout}
	return pw, func() {
		if pw.finish() {
			return
		}
		d.log.Warn("socket.io long-poll cut: its answer was not read in time", "remote", r.RemoteAddr)
		d.sinks.closeSession(q.Get("sid"))
	}
}

// pollWriter is a long-poll's response, with a write deadline from its
// first byte on.
type pollWriter struct {
	http.ResponseWriter
	timeout time.Duration

	mu      sync.Mutex
	bounded bool // the deadline is set
	failed  bool // a write did not complete
}

func (p *pollWriter) WriteHeader(code int) {
	p.begin()
	p.ResponseWriter.WriteHeader(code)
}

func (p *pollWriter) Write(b []byte) (int, error) {
	p.begin()
	n, err := p.ResponseWriter.Write(b)
	if err != nil {
		p.mu.Lock()
		p.failed = true
		p.mu.Unlock()
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (p *pollWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

func (p *pollWriter) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.bounded {
		p.bounded = true
		_ = http.NewResponseController(p.ResponseWriter).SetWriteDeadline(time.Now().Add(p.timeout))
	}
}

// finish sends what the answer still has buffered, within its deadline,
// and reports whether all of it was written. An answer of known length
// (every library answer that carries packets) has nothing left to write
// after this; net/http lifts the deadline once the request is done.
func (p *pollWriter) finish() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bounded && !p.failed && p.Header().Get("Content-Length") != "" &&
		http.NewResponseController(p.ResponseWriter).Flush() != nil {
		p.failed = true
	}
	return !p.failed
}
