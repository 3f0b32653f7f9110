package redis

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// FuzzDecodeEntry feeds the decoder of the store's own records (what the
// read script returns) arbitrary ids, payloads and counters. Property: it
// never panics, and a decoded entry carries its offset in its delivery and
// the counters it was given.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := json.Marshal(herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW", Payload: map[string]any{"a": 1.0}, Time: time.UnixMilli(1)})
	f.Add("3-0", string(good), int64(1700000000000), "1", "0")
	f.Add("18446744073709551615-0", "{}", int64(0), "0", "2")
	f.Add("x-0", "{", int64(-1), "a", "")
	f.Add("", "null", int64(5), "-1", "9999999999999999999999")
	f.Fuzz(func(t *testing.T, id, data string, at int64, reached, acked string) {
		e, err := decodeEntry([]any{id, data, at, reached, acked})
		if err != nil {
			return
		}
		if e.Delivery.Offset != e.Offset {
			t.Fatalf("offset %d, delivery offset %d", e.Offset, e.Delivery.Offset)
		}
		if e.At.UnixMilli() != at {
			t.Fatalf("At = %d ms, want %d", e.At.UnixMilli(), at)
		}
	})
}
