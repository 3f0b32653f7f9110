package bolt

import (
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

func sampleEntries() []journal.Entry {
	return []journal.Entry{
		{
			Offset: 1,
			At:     time.Date(2026, 11, 28, 21, 0, 0, 1, time.UTC),
			Delivery: herald.Delivery{
				EventID: "ev-1", Source: "kofi", Room: "abc", Name: "DONATION", Rule: "donations",
				Time:    time.Date(2026, 11, 28, 20, 59, 59, 999_999_999, time.UTC),
				Payload: map[string]any{"from_name": "Zoë", "amount": 3.5, "list": []any{nil, true, "x"}, "obj": map[string]any{}},
			},
		},
		{Offset: 1 << 40, Reached: 3, Acked: 2, Delivery: herald.Delivery{Room: "a\x00b", Name: "FOLLOW"}},
		{Delivery: herald.Delivery{Payload: map[string]any{}}},
		{At: time.Unix(-1, 5).UTC(), Delivery: herald.Delivery{Time: time.Unix(1<<40, 0).UTC()}},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, e := range sampleEntries() {
		b, err := encodeRecord(nil, e)
		if err != nil {
			t.Fatalf("entry %d: encode: %v", i, err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("entry %d: decode: %v", i, err)
		}
		want := e
		want.Delivery.Offset = e.Offset
		if !reflect.DeepEqual(got, want) {
			t.Errorf("entry %d: decodeRecord(encodeRecord(e)) = %#v, want %#v", i, got, want)
		}
		// Every strict prefix is refused, never misread.
		for n := range len(b) {
			if _, err := decodeRecord(b[:n]); err == nil {
				t.Errorf("entry %d: a record cut to %d of %d bytes decoded without error", i, n, len(b))
			}
		}
		if _, err := decodeRecord(append(b, 0)); err == nil {
			t.Errorf("entry %d: a record with a trailing byte decoded without error", i)
		}
		marked, err := setCounts(b, e.Reached+2, e.Acked+1)
		if err != nil {
			t.Fatalf("entry %d: setCounts: %v", i, err)
		}
		if m, err := decodeRecord(marked); err != nil || m.Reached != e.Reached+2 || m.Acked != e.Acked+1 || !reflect.DeepEqual(m.Delivery, want.Delivery) {
			t.Errorf("entry %d: setCounts decodes to %+v, %v; want the same entry with counts %d, %d", i, m, err, e.Reached+2, e.Acked+1)
		}
		p, err := peekRecord(b)
		if err != nil || !p.at.Equal(e.At) || p.eventID != e.Delivery.EventID || p.room != e.Delivery.Room || p.offset != e.Offset || p.reached != e.Reached || p.acked != e.Acked {
			t.Errorf("entry %d: peekRecord = %+v, %v; want %d %v %q %q", i, p, err, e.Offset, e.At, e.Delivery.EventID, e.Delivery.Room)
		}
	}
}

// FuzzDecodeRecord reads records as a damaged disk could hand them back.
// The property is a round trip: whatever decodes encodes again, and that
// encoding decodes to the very same entry (and peekRecord agrees with it).
func FuzzDecodeRecord(f *testing.F) {
	for _, e := range sampleEntries() {
		b, err := encodeRecord(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{recordVersion})
	saturated, _ := encodeRecord(nil, journal.Entry{Reached: maxCount, Acked: maxCount})
	f.Add(saturated)
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeRecord(b)
		if err != nil {
			return
		}
		if e.Delivery.Offset != e.Offset {
			t.Fatalf("decoded Delivery.Offset %d, entry offset %d", e.Delivery.Offset, e.Offset)
		}
		again, err := encodeRecord(nil, e)
		if err != nil {
			t.Fatalf("a decoded entry does not encode: %v", err)
		}
		e2, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("a re-encoded entry does not decode: %v", err)
		}
		if !reflect.DeepEqual(e2, e) {
			t.Fatalf("round trip changed the entry:\n got %#v\nwant %#v", e2, e)
		}
		marked, err := setCounts(b, 7, 3)
		if err != nil {
			t.Fatalf("setCounts of a record that decodes: %v", err)
		}
		m, err := decodeRecord(marked)
		if err != nil || m.Reached != 7 || m.Acked != 3 || !reflect.DeepEqual(m.Delivery, e.Delivery) {
			t.Fatalf("setCounts(7, 3) = %+v, %v; want %+v with counts 7, 3", m, err, e)
		}
		p, err := peekRecord(b)
		if err != nil || !p.at.Equal(e.At) || p.eventID != e.Delivery.EventID || p.room != e.Delivery.Room || p.offset != e.Offset || p.reached != e.Reached || p.acked != e.Acked {
			t.Fatalf("peekRecord = %+v, %v; decodeRecord says %d %v %q %q", p, err, e.Offset, e.At, e.Delivery.EventID, e.Delivery.Room)
		}
	})
}

func TestSessionValues(t *testing.T) {
	exp := time.Date(2026, 11, 29, 4, 0, 0, 7, time.UTC)
	tests := []struct {
		name string
		b    []byte
		want journal.Session
	}{
		{name: "with since", b: encodeSession(journal.Session{Code: "abc", Expires: exp, Since: 1 << 40}),
			want: journal.Session{PID: "p", Code: "abc", Expires: exp, Since: 1 << 40}},
		{name: "since 0", b: encodeSession(journal.Session{Code: "\x01x", Expires: exp}),
			want: journal.Session{PID: "p", Code: "\x01x", Expires: exp}},
		{name: "with the session it replaced", b: encodeSession(journal.Session{Code: "abc", Expires: exp, Since: 9, Formerly: "old-pid"}),
			want: journal.Session{PID: "p", Code: "abc", Expires: exp, Since: 9, Formerly: "old-pid"}},
		{name: "with its socket id", b: encodeSession(journal.Session{Code: "abc", Expires: exp, Since: 9, SID: "sock-1"}),
			want: journal.Session{PID: "p", Code: "abc", Expires: exp, Since: 9, SID: "sock-1"}},
		{name: "with both", b: encodeSession(journal.Session{Code: "abc", Expires: exp, Since: 9, Formerly: "old-pid", SID: "sock-1"}),
			want: journal.Session{PID: "p", Code: "abc", Expires: exp, Since: 9, Formerly: "old-pid", SID: "sock-1"}},
		{name: "the first form: expiry, code", b: append(appendTime(nil, exp), "abc"...),
			want: journal.Session{PID: "p", Code: "abc", Expires: exp}},
	}
	for _, tc := range tests {
		got, err := decodeSession("p", tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%s: decodeSession = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// FuzzDecodeSession: whatever decodes encodes again to the same session.
func FuzzDecodeSession(f *testing.F) {
	f.Add(encodeSession(journal.Session{Code: "abc", Expires: time.Unix(1e9, 5), Since: 300}))
	f.Add(append(appendTime(nil, time.Unix(1e9, 0)), "old"...))
	f.Add([]byte{sessionSince})
	f.Add(encodeSession(journal.Session{Code: "abc", Expires: time.Unix(1e9, 5), Since: 300, Formerly: "x"}))
	f.Add(encodeSession(journal.Session{Code: "abc", Expires: time.Unix(1e9, 5), Since: 300, SID: "s"}))
	f.Add([]byte{sessionSID, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSession("p", b)
		if err != nil {
			return
		}
		again, err := decodeSession("p", encodeSession(s))
		if err != nil || again != s {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
	})
}
