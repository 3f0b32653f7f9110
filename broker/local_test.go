package broker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
)

// fixed is a subscriber that reaches a fixed number of pages, or fails.
type fixed struct {
	pages int
	err   error
	got   []herald.Delivery
}

func (f *fixed) Deliver(_ context.Context, d herald.Delivery) (int, error) {
	f.got = append(f.got, d)
	return f.pages, f.err
}

var errSinkClosed = errors.New("sink closed")

func TestLocalPublish(t *testing.T) {
	tests := []struct {
		name      string
		subs      []*fixed
		close     bool
		wantPages int
		wantErr   error // nil: success
	}{
		{name: "no subscriber", wantPages: 0},
		{name: "one", subs: []*fixed{{pages: 3}}, wantPages: 3},
		{name: "pages are summed", subs: []*fixed{{pages: 3}, {pages: 2}}, wantPages: 5},
		{name: "a closed sink is an error, the others still get it", subs: []*fixed{{err: errSinkClosed}, {pages: 2}}, wantPages: 2, wantErr: errSinkClosed},
		{name: "closed broker", subs: []*fixed{{pages: 3}}, close: true, wantErr: broker.ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := broker.NewLocal()
			for _, s := range tc.subs {
				b.Subscribe(s)
			}
			if tc.close {
				if err := b.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			d := herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW"}
			n, err := b.Publish(t.Context(), d)
			if n != tc.wantPages || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Publish = %d, %v; want %d, %v", n, err, tc.wantPages, tc.wantErr)
			}
			for i, s := range tc.subs {
				if want := 1; !tc.close && len(s.got) != want {
					t.Errorf("subscriber %d got %d deliveries, want %d", i, len(s.got), want)
				}
				if tc.close && len(s.got) != 0 {
					t.Errorf("subscriber %d got a delivery after Close", i)
				}
			}
		})
	}
}

// BenchmarkLocalPublish is the broker's whole cost on the hot path: one
// indirect call per subscriber.
func BenchmarkLocalPublish(b *testing.B) {
	l := broker.NewLocal()
	l.Subscribe(nop{})
	d := herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW"}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Publish(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

type nop struct{}

func (nop) Deliver(context.Context, herald.Delivery) (int, error) { return 1, nil }
