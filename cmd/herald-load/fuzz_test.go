package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"testing"
)

// FuzzParseFrame feeds server frames (seeded from testdata/frames.txt, one
// per line) to the page's parsers. Properties: the event name is a slice of
// the message, and a "t" field, when found, is the value of a quoted
// "t" key in the message and agrees with strconv.ParseInt.
func FuzzParseFrame(f *testing.F) {
	b, err := os.ReadFile("testdata/frames.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f.Add(sc.Bytes())
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr := parseFrame(msg)
		if fr.kind != kindEvent && fr.event != nil {
			t.Fatalf("parseFrame(%q): event %q on a non-event frame", msg, fr.event)
		}
		if len(fr.event) > 0 && !bytes.Contains(msg, append([]byte(`"`), fr.event...)) {
			t.Fatalf("parseFrame(%q): event %q is not in the message", msg, fr.event)
		}
		if n, ok := intField(msg, "t"); ok {
			raw, _ := stringField(msg, "t")
			want, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || n != want || !bytes.Contains(msg, []byte(`"t":"`+string(raw)+`"`)) {
				t.Fatalf("intField(%q, t) = %d, want the message's %q (%d, %v)", msg, n, raw, want, err)
			}
		}
	})
}
