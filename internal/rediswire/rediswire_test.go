package rediswire

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		d     herald.Delivery
		epoch string
	}{
		{name: "journaled", epoch: "r0a1b-c", d: herald.Delivery{EventID: "e1", Source: "trigger", Room: "abc", Name: "FOLLOW",
			Payload: map[string]any{"user": "ada"}, Time: time.UnixMilli(1700000000123).UTC(), Rule: "r", Offset: 42}},
		{name: "replayed without offset", d: herald.Delivery{EventID: "e2", Room: "x\ny", Name: "N", Replayed: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Encode(tc.d, tc.epoch)
			if err != nil {
				t.Fatal(err)
			}
			got, epoch, err := Decode(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.d) || epoch != tc.epoch {
				t.Errorf("Decode(Encode(d)) = %+v, %q; want %+v, %q", got, epoch, tc.d, tc.epoch)
			}
		})
	}
}

func TestRoomTag(t *testing.T) {
	a, b := RoomTag("herald:", "abc"), RoomTag("herald:", "abd")
	if a == b || !strings.HasPrefix(a, "herald:{r:") || !strings.HasSuffix(a, "}:") || strings.Contains(a, "abc") {
		t.Errorf("RoomTag = %q, %q: want distinct hash tags without the code", a, b)
	}
}

// FuzzDecode: messages on the channel come from any node (or anyone with
// access to Redis). Property: no panic, and what decodes re-encodes to a
// message that decodes to the same delivery.
func FuzzDecode(f *testing.F) {
	good, _ := Encode(herald.Delivery{EventID: "e", Room: "r", Name: "FOLLOW", Offset: 7, Payload: map[string]any{"a": 1.0}}, "ep-1")
	f.Add(good)
	f.Add([]byte("0\n{}"))
	f.Add([]byte("18446744073709551616\n{}"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, epoch, err := Decode(msg)
		if err != nil {
			return
		}
		again, err := Encode(d, epoch)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		d2, epoch2, err := Decode(again)
		if err != nil || d2.Offset != d.Offset || d2.EventID != d.EventID || d2.Room != d.Room || epoch2 != epoch {
			t.Fatalf("round trip: %+v %q, %v; want %+v %q", d2, epoch2, err, d, epoch)
		}
	})
}
