package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollWatch: a session that stopped polling has its posts (the pongs
// that would keep it alive) refused once the grace has passed; one that
// polls, or is polling right now, is untouched.
func TestPollWatch(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	p := newPollWatch(45*time.Second, func() time.Time { return time.Unix(0, clock.Load()) })
	started, release := make(chan struct{}), make(chan struct{})
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("hold") != "" {
			close(started)
			<-release
		}
		w.Write([]byte("ok"))
	}))
	send := func(method, sid, extra string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/socket.io/?EIO=4&transport=polling&sid="+sid+extra, strings.NewReader("3")))
		return rec.Code
	}
	if got := send("POST", "a", ""); got != 200 {
		t.Fatalf("first post (CONNECT) = %d", got)
	}
	advance(40 * time.Second)
	if got := send("POST", "a", ""); got != 200 {
		t.Fatalf("post within the grace = %d", got)
	}
	advance(10 * time.Second)
	if got := send("POST", "a", ""); got != 400 {
		t.Fatalf("pong from a session that has not polled for 50s = %d, want 400", got)
	}
	send("GET", "a", "")
	if got := send("POST", "a", ""); got != 200 {
		t.Fatalf("post right after a poll = %d", got)
	}
	done := make(chan struct{})
	go func() { send("GET", "a", "&hold=1"); close(done) }()
	<-started
	advance(time.Hour)
	if got := send("POST", "a", ""); got != 200 {
		t.Fatalf("post while a long-poll is running = %d", got)
	}
	close(release)
	<-done
}

// TestPollingPostOfTooManyPacketsIsRefused: a long-polling POST of more
// packets than any page sends is refused with a reason before the
// library parses it (one 1 MiB post of no-op packets took 380 MB there);
// a post of a page's usual size goes through and the session lives on.
func TestPollingPostOfTooManyPacketsIsRefused(t *testing.T) {
	base := startServer(t, nil)
	a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", nil, nil)
	var open struct{ SID string }
	if a.status != 200 || !strings.HasPrefix(a.body, "0") || json.Unmarshal([]byte(a.body[1:]), &open) != nil {
		t.Fatalf("handshake = %d %q", a.status, a.body)
	}
	post := func(packets int) answer {
		body := strings.Repeat("6\x1e", packets-1) + "6"
		return do(t, "POST", base+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, strings.NewReader(body),
			map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
	}
	if a := post(maxPostPackets + 1); a.status != http.StatusBadRequest || !strings.Contains(a.body, "packets in one post") {
		t.Errorf("post of %d packets = %d %q, want 400 saying why", maxPostPackets+1, a.status, a.body)
	}
	if a := post(100); a.status != http.StatusOK || a.body != "ok" {
		t.Errorf("post of 100 packets = %d %q, want the library's ok", a.status, a.body)
	}
}
