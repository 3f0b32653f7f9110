package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestDedupe: what a node hands its pages, in the orders the cluster
// produces them, and which copies it drops.
func TestDedupe(t *testing.T) {
	type step struct {
		event    string
		offset   uint64
		replayed bool
		liveTo   []string      // the pages that had it live (an outbox copy)
		blind    bool          // the node's subscription is down
		after    time.Duration // clock moves this far first
		fresh    bool
		late     bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"journaled in order", []step{
			{event: "a", offset: 1, fresh: true}, {event: "b", offset: 2, fresh: true}, {event: "b", offset: 2},
		}},
		{"an unjournaled copy twice", []step{
			{event: "a", fresh: true}, {event: "a"},
		}},
		{"journaled after going live, by an append that ran late: handed over, for the pages that came since", []step{
			{event: "a", offset: 1, fresh: true},
			{event: "b", fresh: true},            // Redis stalled: live without an offset
			{event: "b", offset: 2, fresh: true}, // the append Redis ran on resuming
			{event: "b", offset: 2},              // once
			{event: "c", offset: 3, fresh: true},
		}},
		{"journaled late by the outbox: handed over, for the pages that came since", []step{
			{event: "a", offset: 1, fresh: true},
			{event: "b", fresh: true},                                    // Redis away: live without an offset
			{event: "b", offset: 2, liveTo: []string{"p1"}, fresh: true}, // egress skips p1
			{event: "b", offset: 2, liveTo: []string{"p1"}},              // a second copy is still one
			{event: "c", offset: 3, fresh: true},
		}},
		{"an unjournaled copy after the journaled one: dropped", []step{
			{event: "a", offset: 1, fresh: true}, // the append a stalled Redis ran on resuming
			{event: "a"},                         // the PUBLISH its node made when the append timed out
			{event: "b", offset: 2, fresh: true},
		}},
		{"another node's late alert reaches this node's pages", []step{
			{event: "a", offset: 1, fresh: true},
			{event: "mine", fresh: true},
			{event: "theirs", offset: 2, fresh: true},
			{event: "mine", offset: 3, fresh: true}, // the pages that had it skip it (egress)
			{event: "next", offset: 4, fresh: true},
		}},
		{"a replay is always sent", []step{
			{event: "a", offset: 1, fresh: true}, {event: "a", replayed: true, fresh: true},
		}},
		{"journaled after the window: sent", []step{
			{event: "b", fresh: true}, {event: "b", offset: 1, after: 3 * time.Minute, fresh: true},
		}},
		{"a room first seen while the subscription is down keeps what other nodes appended meanwhile", []step{
			{event: "mine", offset: 7, blind: true, fresh: true},
			{event: "theirs", offset: 6, fresh: true, late: true}, // the re-sync brings it
			{event: "mine", offset: 7},
		}},
		{"a hole filled by a re-sync is late", []step{
			{event: "a", offset: 1, fresh: true}, {event: "c", offset: 3, fresh: true},
			{event: "b", offset: 2, fresh: true, late: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			s := newDedupe(2 * time.Minute)
			s.now = func() time.Time { return now }
			for i, st := range tc.steps {
				now = now.Add(st.after)
				d := herald.Delivery{EventID: st.event, Room: "room", Name: "TIP", Offset: st.offset, Replayed: st.replayed, LiveTo: st.liveTo}
				fresh, late := s.add(d, "epoch", st.blind)
				if fresh != st.fresh || late != st.late {
					t.Fatalf("step %d %s: add = fresh %v late %v, want %v %v", i, describe(st.event, st.offset), fresh, late, st.fresh, st.late)
				}
			}
		})
	}
}

func describe(event string, offset uint64) string {
	if offset == 0 {
		return fmt.Sprintf("%s (no offset)", event)
	}
	return fmt.Sprintf("%s@%d", event, offset)
}

// TestSettleCoversWhatTheResyncLeft: once a re-sync read a room up to an
// offset, what it left there on purpose (an alert that reached no page
// before the loss was noticed: the pending path's) is never handed over
// afterwards, by a retry of the re-sync or the next one, whether the room
// was blind or not.
func TestSettleCoversWhatTheResyncLeft(t *testing.T) {
	for _, blind := range []bool{false, true} {
		t.Run(fmt.Sprint("blind=", blind), func(t *testing.T) {
			s := newDedupe(time.Minute)
			d := func(off uint64) herald.Delivery {
				return herald.Delivery{EventID: fmt.Sprint("ev", off), Room: "r", Name: "N", Offset: off}
			}
			// The re-sync hands over 1 and 3, and leaves 2.
			for _, off := range []uint64{1, 3} {
				if fresh, _ := s.add(d(off), "e", blind); !fresh {
					t.Fatalf("offset %d not fresh", off)
				}
			}
			s.settle("r", "e", 3)
			if fresh, _ := s.add(d(2), "e", false); fresh {
				t.Error("offset 2, left by the re-sync, was handed over after it settled the room")
			}
			if _, floor, ok := s.floor("r"); !ok || floor != 3 {
				t.Errorf("floor = %d, %v; want 3: the next re-sync starts after what this one read", floor, ok)
			}
			if fresh, _ := s.add(d(4), "e", false); !fresh {
				t.Error("offset 4 not fresh")
			}
		})
	}
}
