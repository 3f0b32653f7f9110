package journal

import "testing"

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in     string
		want   Position
		wantOK bool
	}{
		{in: "a1b2-42", want: Position{Epoch: "a1b2", Offset: 42}, wantOK: true},
		{in: "e-with-dashes-7", want: Position{Epoch: "e-with-dashes", Offset: 7}, wantOK: true},
		{in: "e-0", want: Position{Epoch: "e"}, wantOK: true},
		{in: "e-18446744073709551615", want: Position{Epoch: "e", Offset: 1<<64 - 1}, wantOK: true},
		{in: "e-18446744073709551616"}, // past uint64
		{in: ""},
		{in: "none"},                                                       // socketio's stand-in for no offset
		{in: "-5"},                                                         // no epoch
		{in: "e-"},                                                         // no offset
		{in: "e--5", want: Position{Epoch: "e-", Offset: 5}, wantOK: true}, // the offset is after the last dash
		{in: "e-+5"},
		{in: "e-5x"},
		{in: "e-0x5"},
		{in: "e-" + string(make([]byte, 130))},
	}
	for _, tc := range tests {
		got, err := ParsePosition(tc.in)
		if (err == nil) != tc.wantOK || got != tc.want {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.wantOK)
		}
	}
}

// FuzzParsePosition: a position is what a page sends back in its CONNECT
// auth, so outside input. Whatever parses renders to a string that parses
// to the same position.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"a1b2-42", "e-with-dashes-7", "-5", "e-", "none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			return
		}
		again, err := ParsePosition(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePosition(%q) = %+v, but its String %q parses to %+v, %v", s, p, p.String(), again, err)
		}
	})
}
