package router_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/egress/socketio"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/router"
)

const threeRooms = "version: 1\nrules:\n  - name: fan\n    to: [a, b, c]\n"

// hangup is a sink that cancels the sender's context during the first
// delivery (the sender hung up) and records the context every delivery
// got.
type hangup struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	errs   []error
}

func (h *hangup) Deliver(ctx context.Context, d herald.Delivery) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancel()
	h.errs = append(h.errs, ctx.Err())
	return 1, nil
}

func (h *hangup) Close(context.Context) error { return nil }

// TestFanoutOutlivesTheSender: a sender that hangs up during the fan-out
// no longer cancels the rooms not yet reached; the receipt says what was
// done.
func TestFanoutOutlivesTheSender(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sink := &hangup{cancel: cancel}
	r := router.New(router.Options{Sinks: []egress.Sink{sink}})
	if err := r.Reload("rules.yaml", []byte(threeRooms)); err != nil {
		t.Fatal(err)
	}
	rc, err := r.Publish(ctx, herald.Event{Source: "trigger", Type: "FOLLOW", Code: "x"})
	if err != nil {
		t.Fatalf("Publish = %v, want every room reached", err)
	}
	if rc.Deliveries != 3 || rc.Pages != 3 {
		t.Errorf("receipt = %+v, want 3 deliveries reaching 3 pages", rc)
	}
	for i, err := range sink.errs {
		if err != nil {
			t.Errorf("delivery %d ran with a cancelled context: %v", i, err)
		}
	}
}

// TestClosedSinkIsNotDelivered: once the Socket.IO sink is closed
// (shutting down), Publish says so, and the ingress can answer 503, instead
// of a receipt of 0 pages that reads like "nobody is listening".
func TestClosedSinkIsNotDelivered(t *testing.T) {
	sink := socketio.New(socketio.Options{})
	r := router.New(router.Options{Sinks: []egress.Sink{sink}})
	if err := r.Reload("rules.yaml", []byte(threeRooms)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "FOLLOW", Code: "x"}); err != nil {
		t.Fatalf("Publish before Close = %v, want nil (no pages is not a failure)", err)
	}
	if err := sink.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "FOLLOW", Code: "x"})
	if !errors.Is(err, router.ErrNotDelivered) || !errors.Is(err, socketio.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrNotDelivered wrapping socketio.ErrClosed", err)
	}
}

// roomsBroker reaches the pages its map gives each room.
type roomsBroker struct{ pages map[string]int }

func (b roomsBroker) Publish(_ context.Context, d herald.Delivery) (int, error) {
	return b.pages[d.Room], nil
}
func (roomsBroker) Subscribe(broker.Subscriber) {}
func (roomsBroker) Close(context.Context) error { return nil }

// TestAlertNobodyKeepsIsNotDelivered: with the journal failing (a full
// disk), an event that reached no page is held nowhere, so Publish says
// so (ErrNotKept: the ingress answers 503 and the sender sends it again).
// One whose other delivery reached a page is answered as delivered: a
// second copy would show that part twice.
func TestAlertNobodyKeepsIsNotDelivered(t *testing.T) {
	for _, tt := range []struct {
		name    string
		pages   map[string]int
		notKept bool
	}{
		{"no page in any room", map[string]int{}, true},
		{"a page in one room", map[string]int{"b": 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := mem.New()
			_ = j.Close() // every append fails, as on a full disk
			x := router.NewJournaled(roomsBroker{tt.pages}, j, nil)
			defer x.Close(t.Context())
			r := router.New(router.Options{Broker: x})
			if err := r.Reload("rules.yaml", []byte(threeRooms)); err != nil {
				t.Fatal(err)
			}
			_, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "FOLLOW", Code: "x"})
			if got := errors.Is(err, herald.ErrNotKept) && errors.Is(err, router.ErrNotDelivered); got != tt.notKept {
				t.Errorf("Publish = %v; want ErrNotKept %v", err, tt.notKept)
			}
			if !tt.notKept && err != nil {
				t.Errorf("Publish = %v, want nil", err)
			}
		})
	}
}
