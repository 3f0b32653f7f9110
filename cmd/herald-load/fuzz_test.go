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
// "t" key in the message as strconv.ParseInt reads it (found by a plain
// scan, not by the parser's own helpers).
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
		if n, ok := intField(msg, "t"); ok && !quotedIntAt(msg, "t", n) {
			t.Fatalf("intField(%q, t) = %d, but no quoted \"t\" value in the message parses to it", msg, n)
		}
	})
}

// quotedIntAt reports whether some "key":"digits" in msg parses to n.
func quotedIntAt(msg []byte, key string, n int64) bool {
	prefix := []byte(`"` + key + `":"`)
	for rest := msg; ; {
		i := bytes.Index(rest, prefix)
		if i < 0 {
			return false
		}
		rest = rest[i+len(prefix):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return false
		}
		if v, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil && v == n {
			return true
		}
	}
}
