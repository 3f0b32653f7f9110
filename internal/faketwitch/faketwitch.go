// Package faketwitch is a stand-in for Twitch in tests: the EventSub
// WebSocket, the Helix subscription endpoints and the OAuth endpoints
// (device code, token, refresh, validate, revoke), on one httptest server,
// behaving as Twitch documents. Tests drive it: send notifications,
// revocations and session_reconnect, stop keepalives, close with a code,
// slow down subscription answers, expire the access token.
package faketwitch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Server is a fake Twitch. Its zero value is not usable; call New.
type Server struct {
	// Keepalive is the keepalive_timeout_seconds of new sessions.
	Keepalive int
	// UserID and Login are the logged-in user's.
	UserID, Login string
	// Scopes are the scopes /validate reports and new tokens carry, but
	// for a device-code login's token: that one has the scopes it asked for.
	Scopes []string
	// CreateDelay delays every Helix create answer.
	CreateDelay atomic.Int64 // nanoseconds

	srv      *httptest.Server
	upgrader websocket.Upgrader
	t        testing.TB

	mu       sync.Mutex
	access   map[string]bool   // valid access tokens
	refresh  map[string]string // refresh token → next access token
	device   []string          // answers to the next device polls
	subs     []Sub
	conns    []*Conn
	sessions int
	requests []string // "METHOD path" of every HTTP request
	newConn  chan *Conn
	revoked  []string
	gate     chan struct{}       // holds reconnect welcomes (HoldReconnects)
	refuse   map[string]int      // type → 403s still to answer (-1: always)
	creates  map[string]int      // type → create requests received
	granted  map[string][]string // device-code access token → its scopes
}

// Sub is a subscription the fake holds.
type Sub struct {
	ID, Type, Version, Status string
	Condition                 map[string]string
	Method, Session, Callback string
}

// New starts a fake Twitch; Close is registered with t.Cleanup.
func New(t testing.TB) *Server {
	s := &Server{Keepalive: 10, UserID: "4242", Login: "ada", access: map[string]bool{}, refresh: map[string]string{},
		newConn: make(chan *Conn, 16), t: t,
		Scopes: []string{"bits:read", "channel:read:redemptions", "channel:read:subscriptions", "moderator:read:followers"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("POST /oauth2/device", s.deviceStart)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("GET /oauth2/validate", s.validate)
	mux.HandleFunc("POST /oauth2/revoke", s.revoke)
	mux.HandleFunc("/helix/eventsub/subscriptions", s.subscriptions)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and every connection.
func (s *Server) Close() {
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
	s.srv.Close()
}

// URLs for the rules file.
func (s *Server) EventSubURL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws" }
func (s *Server) HelixURL() string    { return s.srv.URL + "/helix" }
func (s *Server) AuthURL() string     { return s.srv.URL + "/oauth2" }

// Grant makes access a valid token and refresh its refresh token, which
// trades for nextAccess.
func (s *Server) Grant(access, refresh, nextAccess string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access[access] = true
	if refresh != "" {
		s.refresh[refresh] = nextAccess
	}
}

// Expire makes access invalid (Helix and validate answer 401).
func (s *Server) Expire(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.access, access)
}

// DevicePolls sets the answers to the next device-code polls, e.g.
// "authorization_pending", "slow_down", "ok:ACCESS:REFRESH",
// "expired_token", "access_denied".
func (s *Server) DevicePolls(answers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device = answers
}

// Requests returns "METHOD path" of every HTTP request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Sessions counts the sessions opened so far: WebSocket connections
// that did not follow a session_reconnect.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Revoked lists the tokens /revoke received.
func (s *Server) Revoked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.revoked...)
}

// Refuse makes Helix answer the next n creations of typ with 403, as
// Twitch does when the token lacks the right; n < 0 refuses until Refuse
// is called again (n = 0 stops refusing).
func (s *Server) Refuse(typ string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == nil {
		s.refuse = map[string]int{}
	}
	s.refuse[typ] = max(n, -1)
}

// Creates counts the create requests for typ so far, refused ones too.
func (s *Server) Creates(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates[typ]
}

// Subs returns the subscriptions the fake holds.
func (s *Server) Subs() []Sub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sub(nil), s.subs...)
}

// AddSub plants a subscription (as if made earlier).
func (s *Server) AddSub(sub Sub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, sub)
}

// WaitSubs waits until session has n subscriptions and returns them.
func (s *Server) WaitSubs(t testing.TB, session string, n int) []Sub {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []Sub
		for _, sub := range s.Subs() {
			if sub.Session == session {
				got = append(got, sub)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s has %d subscriptions, want %d; requests: %v", session, len(got), n, s.Requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NextConn waits for the next WebSocket connection, welcomed.
func (s *Server) NextConn(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-s.newConn:
		return c
	case <-time.After(30 * time.Second):
		t.Fatalf("herald did not connect to the fake EventSub; requests: %v", s.Requests())
		return nil
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": status, "message": msg, "error": http.StatusText(status)})
}

func (s *Server) deviceStart(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.PostForm.Get("client_id") == "" {
		fail(w, 400, "missing client id")
		return
	}
	writeJSON(w, 200, map[string]any{"device_code": "dev-code-" + r.PostForm.Get("scopes"), "user_code": "ABCDEFGH",
		"verification_uri": "https://www.twitch.tv/activate?device-code=ABCDEFGH", "expires_in": 1800, "interval": 1})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if len(s.device) == 0 {
			fail(w, 400, "authorization_pending")
			return
		}
		a := s.device[0]
		s.device = s.device[1:]
		if access, refresh, ok := strings.Cut(strings.TrimPrefix(a, "ok:"), ":"); strings.HasPrefix(a, "ok:") && ok {
			s.access[access] = true
			s.refresh[refresh] = access + "-refreshed"
			if s.granted == nil {
				s.granted = map[string][]string{}
			}
			s.granted[access] = strings.Fields(f.Get("scopes"))
			writeJSON(w, 200, map[string]any{"access_token": access, "refresh_token": refresh, "expires_in": 14000,
				"scope": strings.Fields(f.Get("scopes")), "token_type": "bearer"})
			return
		}
		fail(w, 400, a)
	case "refresh_token":
		next, ok := s.refresh[f.Get("refresh_token")]
		if !ok {
			fail(w, 400, "Invalid refresh token")
			return
		}
		// A public client's refresh token works once: the answer carries
		// the next one, as Twitch's does.
		delete(s.refresh, f.Get("refresh_token"))
		s.access[next] = true
		s.refresh[f.Get("refresh_token")+"+"] = next + "+"
		writeJSON(w, 200, map[string]any{"access_token": next, "refresh_token": f.Get("refresh_token") + "+", "expires_in": 14000,
			"scope": s.Scopes, "token_type": "bearer"})
	case "client_credentials":
		if f.Get("client_secret") == "" {
			fail(w, 403, "invalid client secret")
			return
		}
		tok := "app-token-" + strconv.Itoa(len(s.access))
		s.access[tok] = true
		writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 5000000, "token_type": "bearer"})
	default:
		fail(w, 400, "unsupported grant type")
	}
}

func (s *Server) authorized(r *http.Request, prefix string) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), prefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	return tok, ok && s.access[tok]
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorized(r, "OAuth ")
	if !ok {
		fail(w, 401, "invalid access token")
		return
	}
	if strings.HasPrefix(tok, "app-token") {
		writeJSON(w, 200, map[string]any{"client_id": "test-client", "scopes": []string{}, "expires_in": 5000000})
		return
	}
	s.mu.Lock()
	scopes, ok := s.granted[tok]
	s.mu.Unlock()
	if !ok {
		scopes = s.Scopes
	}
	writeJSON(w, 200, map[string]any{"client_id": "test-client", "login": s.Login, "user_id": s.UserID, "scopes": scopes, "expires_in": 14000})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, r.PostForm.Get("token"))
	delete(s.access, r.PostForm.Get("token"))
	w.WriteHeader(200)
}

func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorized(r, "Bearer "); !ok || r.Header.Get("Client-Id") == "" {
		fail(w, 401, "Invalid OAuth token")
		return
	}
	switch r.Method {
	case http.MethodPost:
		if d := time.Duration(s.CreateDelay.Load()); d > 0 {
			time.Sleep(d)
		}
		var req struct {
			Type, Version string
			Condition     map[string]string
			Transport     struct {
				Method    string `json:"method"`
				SessionID string `json:"session_id"`
				Callback  string `json:"callback"`
				Secret    string `json:"secret"`
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, 400, "bad body")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.creates == nil {
			s.creates = map[string]int{}
		}
		s.creates[req.Type]++
		if n := s.refuse[req.Type]; n != 0 {
			if n > 0 {
				s.refuse[req.Type] = n - 1
			}
			fail(w, 403, "subscription missing proper authorization")
			return
		}
		if req.Transport.Method == "websocket" && !s.sessionOpen(req.Transport.SessionID) {
			// Twitch closes a session with 4003 when no subscription came
			// within 10 s of its welcome; creating one later fails.
			fail(w, 400, "websocket transport session does not exist or has already disconnected")
			return
		}
		for _, sub := range s.subs {
			if sub.Type == req.Type && sub.Session == req.Transport.SessionID && sub.Callback == req.Transport.Callback && sub.Status == "enabled" {
				fail(w, 409, "subscription already exists")
				return
			}
		}
		status := "enabled"
		if req.Transport.Method == "webhook" {
			status = "webhook_callback_verification_pending"
		}
		sub := Sub{ID: fmt.Sprintf("sub-%d", len(s.subs)+1), Type: req.Type, Version: req.Version, Status: status,
			Condition: req.Condition, Method: req.Transport.Method, Session: req.Transport.SessionID, Callback: req.Transport.Callback}
		s.subs = append(s.subs, sub)
		writeJSON(w, 202, map[string]any{"data": []any{subJSON(sub)}, "total": len(s.subs), "total_cost": 0, "max_total_cost": 10})
	case http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		data := []any{}
		for _, sub := range s.subs {
			data = append(data, subJSON(sub))
		}
		writeJSON(w, 200, map[string]any{"data": data, "total": len(data), "pagination": map[string]any{}})
	case http.MethodDelete:
		id := r.URL.Query().Get("id")
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, sub := range s.subs {
			if sub.ID == id {
				s.subs = append(s.subs[:i], s.subs[i+1:]...)
				w.WriteHeader(204)
				return
			}
		}
		fail(w, 404, "subscription not found")
	default:
		fail(w, 405, "method not allowed")
	}
}

func subJSON(sub Sub) map[string]any {
	tr := map[string]any{"method": sub.Method}
	if sub.Session != "" {
		tr["session_id"] = sub.Session
	}
	if sub.Callback != "" {
		tr["callback"] = sub.Callback
	}
	return map[string]any{"id": sub.ID, "status": sub.Status, "type": sub.Type, "version": sub.Version,
		"condition": sub.Condition, "transport": tr, "created_at": "2026-11-28T00:00:00Z", "cost": 0}
}

// subscribeWindow is Twitch's limit between a welcome and the first
// subscription: past it the connection is closed with 4003.
const subscribeWindow = 10 * time.Second

// hasSubs reports whether session has a subscription.
func (s *Server) hasSubs(session string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.Session == session {
			return true
		}
	}
	return false
}

// sessionOpen reports whether a connection of session is still up; s.mu
// is held.
func (s *Server) sessionOpen(session string) bool {
	for _, c := range s.conns {
		if c.Session != session {
			continue
		}
		select {
		case <-c.closed:
		default:
			return true
		}
	}
	return false
}
