package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// timeout bounds waits for something that should happen promptly; it only
// expires when something is broken.
const timeout = 15 * time.Second

// startSink runs a Sink behind a real listening server, closed at cleanup.
func startSink(t testing.TB, opts Options) (*Sink, *httptest.Server) {
	t.Helper()
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := New(opts)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, srv
}

// testWriter sends log lines to t.Log until the test's cleanups end.
// The library may still log from a goroutine of its own as the test
// finishes (a connection it was handling when the sink closed); t.Log
// then would race with the test's end, so later lines are dropped.
type testWriter struct {
	t    testing.TB
	mu   *sync.Mutex
	done *bool
}

// newTestWriter registers its own end first, so that it runs after every
// cleanup registered later (the sink's Close logs too).
func newTestWriter(t testing.TB) testWriter {
	w := testWriter{t: t, mu: &sync.Mutex{}, done: new(bool)}
	t.Cleanup(func() {
		w.mu.Lock()
		*w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(string(b))
	}
	return len(b), nil
}

// delivery builds a Delivery the way the router does.
func delivery(room, name string, payload map[string]any) herald.Delivery {
	return herald.Delivery{
		EventID: "ev-" + room + "-" + name,
		Source:  "trigger",
		Room:    room,
		Name:    name,
		Payload: payload,
		Time:    time.UnixMilli(1_700_000_000_123),
	}
}

// deliver calls Deliver and checks how many pages it reached.
func deliver(t testing.TB, s *Sink, d herald.Delivery, want int) {
	t.Helper()
	n, err := s.Deliver(t.Context(), d)
	if err != nil {
		t.Fatalf("Deliver(%s to room %q) error: %v", d.Name, d.Room, err)
	}
	if n != want {
		t.Fatalf("Deliver(%s to room %q) = %d pages, want %d", d.Name, d.Room, n, want)
	}
}

// waitFor polls cond until it holds; the deadline only fires when broken.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// codes lists the codes of the connected pages, oldest first.
func codes(s *Sink) []string {
	var out []string
	for _, c := range s.Clients() {
		out = append(out, c.Code)
	}
	return out
}

// jsonEqual reports whether raw decodes to the same value as want does
// after a JSON round trip.
func jsonEqual(t testing.TB, raw json.RawMessage, want any) bool {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(got, exp)
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
