package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// TestLibraryPIDIsReadable guards libraryPID's reflection: if an update of
// the library renames or retypes the socket's pid field, recovery on the
// library path would silently stop; this fails instead.
func TestLibraryPIDIsReadable(t *testing.T) {
	sock := &socket.Socket{}
	if got := libraryPID(sock); got != "" {
		t.Fatalf("libraryPID(zero socket) = %q, want \"\"", got)
	}
	if _, ok := reflectField(sock, "pid"); !ok {
		t.Fatal("socket.Socket has no string field pid: update libraryPID for the new library version")
	}
}

func TestWithNoOffset(t *testing.T) {
	tests := []struct {
		name, packet, want string // want "" when the packet stays as it is
	}{
		{name: "pid without offset", packet: `0{"pid":"p1","code":"abc"}`, want: `0{"code":"abc","offset":"none","pid":"p1"}`},
		{name: "numbers unchanged", packet: `0{"pid":"p1","n":12345678901234567890}`, want: `0{"n":12345678901234567890,"offset":"none","pid":"p1"}`},
		{name: "pid with offset", packet: `0{"pid":"p1","offset":"e-3"}`},
		{name: "empty offset", packet: `0{"pid":"p1","offset":""}`, want: `0{"offset":"none","pid":"p1"}`},
		{name: "null offset", packet: `0{"pid":"p1","offset":null}`, want: `0{"offset":"none","pid":"p1"}`},
		{name: "no pid", packet: `0{"code":"abc"}`},
		{name: "pid not a string", packet: `0{"pid":1}`},
		{name: "no auth", packet: `0`},
		{name: "another namespace", packet: `0/admin,{"pid":"p1"}`},
		{name: "an event", packet: `2["REGISTER",{"pid":"p1"}]`},
		{name: "broken JSON", packet: `0{"pid":"p1"`},
		{name: "trailing bytes", packet: `0{"pid":"p1"}x`},
	}
	for _, tc := range tests {
		got, ok := withNoOffset([]byte(tc.packet))
		if ok != (tc.want != "") || (ok && string(got) != tc.want) {
			t.Errorf("%s: withNoOffset(%s) = %s, %v; want %q", tc.name, tc.packet, got, ok, tc.want)
		}
	}
}

// FuzzWithNoOffset: a CONNECT from a page is outside input. Whatever is
// rewritten is the same auth object with noOffset added.
func FuzzWithNoOffset(f *testing.F) {
	f.Add([]byte(`0{"pid":"p1","code":"abc"}`))
	f.Add([]byte(`0{"pid":"p1","offset":"e-1"}`))
	f.Add([]byte(`0{"pid":"p1","a":[1,{"b":null}]}`))
	f.Fuzz(func(t *testing.T, packet []byte) {
		got, ok := withNoOffset(packet)
		if !ok {
			return
		}
		var before, after map[string]any
		if err := json.Unmarshal(packet[1:], &before); err != nil {
			t.Fatalf("rewrote a packet whose auth is not JSON: %q", packet)
		}
		if got[0] != '0' || json.Unmarshal(got[1:], &after) != nil {
			t.Fatalf("rewrite %q is not a CONNECT with JSON auth", got)
		}
		if o, _ := before["offset"].(string); after["offset"] != noOffset || o != "" {
			t.Fatalf("offset before %v, after %v; want none or empty, then %q", before["offset"], after["offset"], noOffset)
		}
		delete(after, "offset")
		delete(before, "offset")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("auth changed: %v → %v", before, after)
		}
	})
}

// TestLibraryRecoveryNotRestoredIsANewPage: when the library does not
// restore a session that herald's journal knows a moment later (the
// library's lookup failed), the library answers with a new pid and the
// client is a new page: it is greeted (WELCOME), and it takes what it
// missed as a reloaded page does, the alerts no page had marked replayed.
func TestLibraryRecoveryNotRestoredIsANewPage(t *testing.T) {
	mj := mem.New()
	defer mj.Close()
	j := &failingSession{Journal: mj}
	k := recovery.New(j, recovery.Options{})
	s, srv := startSink(t, Options{Log: discardLog(), Recovery: k, Position: func(d herald.Delivery) string { return k.Position(d.Offset) }})

	first := connectRaw(t, srv.URL, "polling", map[string]any{"code": "abc"})
	waitFor(t, "session saved", func() bool { _, ok, _ := mj.Session(t.Context(), first.pid); return ok })
	first.close()
	waitFor(t, "the page gone", func() bool { return len(s.Clients()) == 0 })
	s.writes.Wait()
	d := delivery("abc", "DONATION", map[string]any{"n": 1})
	d.Time = time.Now()
	if _, err := mj.Append(t.Context(), d); err != nil { // it reached no page
		t.Fatal(err)
	}

	j.failOnce(first.pid) // the library's lookup, before herald's
	next, _ := pollingPage(t, srv.URL, `40{"pid":"`+first.pid+`"}`)
	answer := next()
	var a struct{ PID string }
	if !strings.HasPrefix(answer, "40{") || json.Unmarshal([]byte(answer[2:]), &a) != nil || a.PID == "" || a.PID == first.pid {
		t.Fatalf("CONNECT answer = %q, want a new pid (the library did not restore the session)", answer)
	}
	if got := next(); !strings.HasPrefix(got, `42["WELCOME"`) {
		t.Fatalf("first event = %q, want WELCOME: the client is a new page", got)
	}
	if name, n, replayed, _ := frame(t, next()); name != "DONATION" || n != "1" || !replayed {
		t.Fatalf("got %s n=%s replayed=%v, want the pending DONATION n=1 marked replayed", name, n, replayed)
	}
}

// failingSession is a journal whose next Session lookup of one pid fails.
type failingSession struct {
	journal.Journal
	mu   sync.Mutex
	fail string
}

func (j *failingSession) failOnce(pid string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fail = pid
}

func (j *failingSession) Session(ctx context.Context, pid string) (journal.Session, bool, error) {
	j.mu.Lock()
	fail := pid != "" && pid == j.fail
	if fail {
		j.fail = ""
	}
	j.mu.Unlock()
	if fail {
		return journal.Session{}, false, errors.New("journal lookup failed")
	}
	return j.Journal.Session(ctx, pid)
}

// pollingPage opens a long-polling session, sends connect, and returns a
// function that reads the server's Socket.IO packets one at a time, and
// one that ends the session.
func pollingPage(t *testing.T, base, connect string) (next func() string, closeFn func()) {
	t.Helper()
	u := base + "/socket.io/?EIO=4&transport=polling"
	open := pollingDo(t, http.MethodGet, u, "")
	var hs struct{ SID string }
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &hs) != nil {
		t.Fatalf("polling handshake = %q", open)
	}
	u += "&sid=" + url.QueryEscape(hs.SID)
	pollingDo(t, http.MethodPost, u, connect)
	var queued []string
	closeFn = func() { pollingDo(t, http.MethodPost, u, "1") }
	return func() string {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for len(queued) == 0 && time.Now().Before(deadline) {
			for p := range strings.SplitSeq(pollingDo(t, http.MethodGet, u, ""), "\x1e") {
				if strings.HasPrefix(p, "4") { // Socket.IO packets, not pings
					queued = append(queued, p)
				}
			}
		}
		if len(queued) == 0 {
			t.Fatal("no packet over polling")
		}
		p := queued[0]
		queued = queued[1:]
		return p
	}, closeFn
}
