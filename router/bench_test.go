package router_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/router"
)

// nullSink counts deliveries and reaches one page each.
type nullSink struct{ n int }

func (s *nullSink) Deliver(context.Context, herald.Delivery) (int, error) { s.n++; return 1, nil }
func (s *nullSink) Close(context.Context) error                           { return nil }

// BenchmarkPublish is the router's share of the hot path: snapshot load,
// rules (the hook), accounting and the hand-off to egress, for a trigger
// event under the default rules and under a file of 100 non-matching
// rules before the one that matches.
func BenchmarkPublish(b *testing.B) {
	ev := herald.Event{ID: "e1", Source: "trigger", Type: "follow", Code: "abc",
		Data: map[string]any{"code": "abc", "event": "follow", "user": "ada"}, Received: time.Now()}
	many := "version: 1\nrules:\n"
	for i := range 100 {
		many += "  - {name: r" + strconv.Itoa(i) + `, when: 'source == "kofi" && data.amount >= 10', emit: X}` + "\n"
	}
	many += `  - {name: follow, when: 'type == "follow"', emit: FOLLOW}` + "\n"
	for _, tc := range []struct {
		name, rules string
	}{
		{name: "default-rules"},
		{name: "101-rules", rules: many},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sink := &nullSink{}
			rt := router.New(router.Options{Sinks: []egress.Sink{sink}})
			if tc.rules != "" {
				if err := rt.Reload("rules.yaml", []byte(tc.rules)); err != nil {
					b.Fatal(err)
				}
			}
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
