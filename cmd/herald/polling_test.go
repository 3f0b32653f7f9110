package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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
// A JSONP client posts its packets as a form, separators escaped: they
// are counted all the same.
func TestPollingPostOfTooManyPacketsIsRefused(t *testing.T) {
	base := startServer(t, nil)
	for _, tc := range []struct {
		name, query, contentType string
		body                     func(payload string) string
	}{
		{"XHR", "", "text/plain;charset=UTF-8", func(p string) string { return p }},
		{"JSONP", "&j=0", "application/x-www-form-urlencoded", func(p string) string { return "d=" + url.QueryEscape(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling"+tc.query, nil, nil)
			sid := regexp.MustCompile(`"sid\\?":\\?"([^"\\]+)`).FindStringSubmatch(a.body)
			if a.status != 200 || sid == nil {
				t.Fatalf("handshake = %d %q", a.status, a.body)
			}
			post := func(packets int) answer {
				payload := strings.Repeat("6\x1e", packets-1) + "6"
				return do(t, "POST", base+"/socket.io/?EIO=4&transport=polling"+tc.query+"&sid="+sid[1], strings.NewReader(tc.body(payload)),
					map[string]string{"Content-Type": tc.contentType})
			}
			if a := post(maxPostPackets + 1); a.status != http.StatusBadRequest || !strings.Contains(a.body, "packets in one post") {
				t.Errorf("post of %d packets = %d %q, want 400 saying why", maxPostPackets+1, a.status, a.body)
			}
			if a := post(100); a.status != http.StatusOK || a.body != "ok" {
				t.Errorf("post of 100 packets = %d %q, want the library's ok", a.status, a.body)
			}
		})
	}
}

// FuzzPostPackets: a JSONP post counts as many packets as the same payload
// posted plainly, whatever the payload, and no body makes the count fail
// but a form that is not one.
func FuzzPostPackets(f *testing.F) {
	f.Add([]byte("40"))
	f.Add([]byte("6\x1e6\x1e42[\"REGISTER\",\"x\"]"))
	f.Add([]byte("%1E\x1e;&d=%"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		plain, err := postPackets(payload, false)
		if err != nil || plain < 1 {
			t.Fatalf("plain count = %d, %v", plain, err)
		}
		form, err := postPackets([]byte("d="+url.QueryEscape(string(payload))), true)
		if err != nil || form != plain {
			t.Fatalf("JSONP count = %d, %v; plain %d", form, err, plain)
		}
		_, _ = postPackets(payload, true) // anything: an error or a count, never a panic
	})
}
