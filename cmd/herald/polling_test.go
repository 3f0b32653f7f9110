package main

import (
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
