package redis

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// FuzzDecodeEntry feeds the decoder of the store's own records (what the
// read script returns) arbitrary ids, payloads, counters and live pages.
// Property: it never panics, and a decoded entry carries its offset in its
// delivery, its time, and every page it was given as live.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := json.Marshal(herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW", Payload: map[string]any{"a": 1.0}, Time: time.UnixMilli(1)})
	liveTo, _ := json.Marshal(herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW", LiveTo: []string{"p1", "p2"}})
	f.Add("3-0", string(good), int64(1700000000000), "1", "0", "")
	f.Add("4-0", string(liveTo), int64(1700000000000), "2", "0", `["p2","p3"]`)
	f.Add("18446744073709551615-0", "{}", int64(0), "0", "2", "[]")
	f.Add("x-0", "{", int64(-1), "a", "", "[")
	f.Add("", "null", int64(5), "-1", "9999999999999999999999", `{"a":1}`)
	f.Fuzz(func(t *testing.T, id, data string, at int64, reached, acked, live string) {
		e, err := decodeEntry([]any{id, data, at, reached, acked, live})
		if err != nil {
			return
		}
		if e.Delivery.Offset != e.Offset {
			t.Fatalf("offset %d, delivery offset %d", e.Offset, e.Delivery.Offset)
		}
		if e.At.UnixMilli() != at {
			t.Fatalf("At = %d ms, want %d", e.At.UnixMilli(), at)
		}
		var own herald.Delivery
		_ = json.Unmarshal([]byte(data), &own)
		var added []string
		_ = json.Unmarshal([]byte(live), &added)
		for _, pid := range added {
			if !slices.Contains(e.Delivery.LiveTo, pid) {
				t.Fatalf("LiveTo %q lacks live page %q", e.Delivery.LiveTo, pid)
			}
		}
		if n := len(e.Delivery.LiveTo); n > len(own.LiveTo)+len(added) {
			t.Fatalf("LiveTo %q: more pages than the delivery's %q and the added %q", e.Delivery.LiveTo, own.LiveTo, added)
		}
	})
}
