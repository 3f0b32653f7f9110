package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/router"
)

// onePage is a sink that reaches one page per delivery.
type onePage struct{}

func (onePage) Deliver(context.Context, herald.Delivery) (int, error) { return 1, nil }
func (onePage) Close(context.Context) error                           { return nil }

// BenchmarkPublish is the router's hot path with the dashboard watching in
// different ways: not configured, configured with nobody watching, one tab
// that never reads (its subscription full, or a real SSE connection whose
// socket is full), and one live tab rendering every event. The alert path
// must cost the same in all of them but a few nanoseconds.
func BenchmarkPublish(b *testing.B) {
	ev := herald.Event{ID: "e1", Source: "trigger", Type: "follow", Code: "abc",
		Data: map[string]any{"code": "abc", "event": "follow", "user": "ada"}, Received: time.Now()}
	for _, tc := range []struct {
		name  string
		watch func(b *testing.B, d *Dashboard)
		off   bool
	}{
		{name: "no dashboard", off: true},
		{name: "dashboard, nobody watching", watch: func(*testing.B, *Dashboard) {}},
		{name: "1 stuck subscriber", watch: func(b *testing.B, d *Dashboard) {
			sub, _ := d.feed.Subscribe(subscriberBuffer)
			b.Cleanup(sub.Close)
		}},
		{name: "1 stuck SSE client", watch: stuckStream},
		{name: "1 live subscriber", watch: func(b *testing.B, d *Dashboard) {
			sub, _ := d.feed.Subscribe(subscriberBuffer)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case rec := <-sub.C():
						_, _ = json.Marshal(rec.view()) // what the stream does per event
					case <-b.Context().Done():
						return
					}
				}
			}()
			b.Cleanup(func() { sub.Close(); <-done })
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := New(Options{Token: "t", Status: router.New(router.Options{}).Status})
			opts := router.Options{Sinks: []egress.Sink{onePage{}}}
			if !tc.off {
				opts.Observer = d
				tc.watch(b, d)
			}
			rt := router.New(opts)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if rc, err := rt.Publish(ctx, ev); err != nil || rc.Pages != 1 {
					b.Fatalf("Publish = %+v, %v", rc, err)
				}
			}
		})
	}
}

// stuckStream opens a real /admin/stream over TCP and never reads it: the
// server's socket buffers fill, its handler blocks in Write, and its
// subscription fills up behind it.
func stuckStream(b *testing.B, d *Dashboard) {
	srv := httptest.NewServer(d.Handler())
	id, _ := d.sessions.create()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/stream", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	if err := req.Write(conn); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("stream: %v %v", resp, err)
	}
	// From here on nobody reads conn. Fill the socket and the subscription
	// until the feed drops, so the benchmark measures a stuck tab, not one
	// still catching up.
	b.Cleanup(func() { conn.Close(); srv.CloseClientConnections(); srv.Close() })
	rec := router.Observation{Event: herald.Event{ID: "fill", Source: "trigger", Type: "follow",
		Data: map[string]any{"text": string(make([]byte, 4096))}}}
	for d.feed.Missed() == 0 {
		d.Observe(rec)
	}
}

// BenchmarkObserve is the dashboard's whole share of an event when nobody
// watches: one copy into the ring.
func BenchmarkObserve(b *testing.B) {
	d := New(Options{Token: "t"})
	o := router.Observation{Event: herald.Event{ID: "e1", Source: "trigger", Type: "follow"}}
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(o)
	}
}
