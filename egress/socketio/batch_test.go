package socketio

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// TestDeliverAll: several deliveries handed over at once reach each page
// of their room once, in the order given, whatever carries the page
// (native WebSocket pages get theirs in one write, a library page one by
// one), and report the pages Deliver would have; a refused name is
// skipped and reported.
func TestDeliverAll(t *testing.T) {
	s, srv := startSink(t, Options{})
	a1, a2 := dialRaw(t, srv.URL, "a", nil), dialRaw(t, srv.URL, "a", nil)
	b1 := dialRaw(t, srv.URL, "b", nil)
	lib := dialGo(t, srv.URL, map[string]any{"code": "a"})
	waitFor(t, "four pages registered", func() bool { return s.rooms.count("a") == 3 && s.rooms.count("b") == 1 })
	alert := func(room string, n int) herald.Delivery {
		return delivery(room, "FOLLOW", map[string]any{"n": n})
	}
	ds := []herald.Delivery{alert("a", 1), alert("b", 1), alert("a", 2), delivery("a", "connect", nil), alert("a", 3), alert("b", 2), alert("none", 1)}
	pages, err := s.DeliverAll(t.Context(), ds)
	if err == nil || !strings.Contains(err.Error(), `"connect"`) {
		t.Errorf("DeliverAll error = %v, want the reserved name refused", err)
	}
	if want := []int{3, 1, 3, 0, 3, 1, 0}; !slices.Equal(pages, want) {
		t.Errorf("DeliverAll pages = %v, want %v", pages, want)
	}
	for name, tc := range map[string]struct {
		p    *rawPage
		want []int
	}{"a1": {a1, []int{1, 2, 3}}, "a2": {a2, []int{1, 2, 3}}, "b1": {b1, []int{1, 2}}} {
		for _, n := range tc.want {
			if got, want := tc.p.next(t), fmt.Sprintf(`42["FOLLOW",{"n":%d},`, n); !strings.HasPrefix(got, want) {
				t.Errorf("page %s: got %s, want %s…", name, got, want)
			}
		}
	}
	for _, n := range []int{1, 2, 3} {
		args := lib.expect(t, "FOLLOW")
		if got := fmt.Sprint(args[0]); got != fmt.Sprintf("map[n:%d]", n) {
			t.Errorf("library page: FOLLOW %s, want n:%d", got, n)
		}
	}
	// Journaled deliveries: an offset a page already has is not sent
	// again (it counts, as with Deliver); the rest follow in order.
	j := func(n int) herald.Delivery { d := alert("b", n); d.Offset = uint64(n); return d }
	deliver(t, s, j(5), 1)
	pages, err = s.DeliverAll(t.Context(), []herald.Delivery{j(5), j(6), j(7)})
	if err != nil || !slices.Equal(pages, []int{1, 1, 1}) {
		t.Errorf("DeliverAll(journaled) = %v, %v; want [1 1 1]", pages, err)
	}
	for _, n := range []int{5, 6, 7} {
		if got := b1.next(t); !strings.HasPrefix(got, fmt.Sprintf(`42["FOLLOW",{"n":%d},`, n)) {
			t.Errorf("page b1: got %s, want n:%d (5 once)", got, n)
		}
	}
	// Nothing else arrives: a delivery after the batches is the next frame.
	deliver(t, s, alert("b", 8), 1)
	if got := b1.next(t); !strings.HasPrefix(got, `42["FOLLOW",{"n":8},`) {
		t.Errorf("page b1 after the batches: got %s, want n:8", got)
	}
}
