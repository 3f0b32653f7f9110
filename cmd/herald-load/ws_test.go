package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// serverFrame encodes one unmasked frame as a server sends it.
func serverFrame(b0 byte, payload string) []byte {
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xFFFF:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, payload...)
}

// decodeAll feeds stream to a decoder in chunks of size step (the rest of
// the stream when step is 0), as reads would return it, and lists what it
// handed on: "text:…", "ping:…", "close:…".
func decodeAll(stream []byte, step int) ([]string, error) {
	var d wsDecoder
	var got []string
	on := func(op byte, p []byte) error {
		got = append(got, fmt.Sprintf("%s:%s", opName(op), p))
		return nil
	}
	var pending []byte
	for len(stream) > 0 || len(pending) > 0 {
		n := len(stream)
		if step > 0 {
			n = min(step, n)
		}
		pending = append(pending, stream[:n]...)
		stream = stream[n:]
		used, err := d.decode(pending, on)
		if err != nil {
			return got, err
		}
		pending = pending[used:]
		if n == 0 {
			break // an incomplete frame at the end
		}
	}
	return got, nil
}

func opName(op byte) string {
	switch op {
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	case opClose:
		return "close"
	}
	return fmt.Sprintf("op%#x", op)
}

func TestWSDecode(t *testing.T) {
	long := strings.Repeat("x", 300)
	huge := strings.Repeat("y", 70000)
	masked := []byte{0x81, 0x80 | 5, 1, 2, 3, 4}
	for i, c := range []byte("hello") {
		masked = append(masked, c^[]byte{1, 2, 3, 4}[i%4])
	}
	tests := []struct {
		name   string
		stream []byte
		want   []string
		err    error
	}{
		{name: "one text message", stream: serverFrame(0x81, `42["LOAD"]`), want: []string{`text:42["LOAD"]`}},
		{name: "two in one read", stream: append(serverFrame(0x81, "2"), serverFrame(0x81, "6")...), want: []string{"text:2", "text:6"}},
		{name: "16-bit length", stream: serverFrame(0x81, long), want: []string{"text:" + long}},
		{name: "64-bit length", stream: serverFrame(0x81, huge), want: []string{"text:" + huge}},
		{name: "empty message", stream: serverFrame(0x81, ""), want: []string{"text:"}},
		{name: "masked by a server that should not", stream: masked, want: []string{"text:hello"}},
		{
			name:   "fragmented, with a ping between the pieces",
			stream: bytes.Join([][]byte{serverFrame(0x01, "42[\"A"), serverFrame(0x89, "p"), serverFrame(0x00, "B\""), serverFrame(0x80, "]")}, nil),
			want:   []string{"ping:p", `text:42["AB"]`},
		},
		{name: "close", stream: serverFrame(0x88, "\x03\xe8"), want: []string{"close:\x03\xe8"}},
		{name: "binary", stream: serverFrame(0x82, "\x00\x01"), want: []string{"binary:\x00\x01"}},
		{name: "incomplete frame waits", stream: serverFrame(0x81, "abc")[:4], want: nil},
		{name: "reserved bits", stream: serverFrame(0xC1, "x"), err: errBadFrame},
		{name: "reserved opcode", stream: serverFrame(0x83, "x"), err: errBadFrame},
		{name: "continuation without a message", stream: serverFrame(0x80, "x"), err: errBadFrame},
		{name: "message inside a fragmented one", stream: append(serverFrame(0x01, "a"), serverFrame(0x81, "b")...), err: errBadFrame},
		{name: "fragmented control frame", stream: serverFrame(0x09, "x"), err: errBadFrame},
		{name: "control frame over 125 bytes", stream: serverFrame(0x89, long), err: errBadFrame},
		{name: "over 1 MiB", stream: []byte{0x81, 127, 0, 0, 0, 0, 0, 0x20, 0, 0}, err: errTooLarge},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 7} {
			t.Run(fmt.Sprintf("%s/reads of %d", tt.name, step), func(t *testing.T) {
				got, err := decodeAll(bytes.Clone(tt.stream), step)
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if tt.err == nil && fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %.200q, want %.200q", got, tt.want)
				}
			})
		}
	}
}

// TestClientFrameDecodes checks the page's own frames against the
// decoder: masked, final, and the payload back for every length class.
func TestClientFrameDecodes(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'z'}, n)
		f := appendClientFrame(nil, opText, payload, 0xdeadbeef)
		if f[0] != 0x81 || f[1]&0x80 == 0 {
			t.Fatalf("%d bytes: header %#x %#x, want final text and the mask bit", n, f[0], f[1])
		}
		var d wsDecoder
		var got []byte
		used, err := d.decode(f, func(op byte, p []byte) error { got = bytes.Clone(p); return nil })
		if err != nil || used != len(f) || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: decode used %d of %d, err %v, payload back %t", n, used, len(f), err, bytes.Equal(got, payload))
		}
	}
}

// FuzzWSDecode feeds arbitrary bytes to the decoder, whole and split in
// two reads at an arbitrary point. It must never panic, must not consume
// more than it was given, and must hand on the same messages either way.
func FuzzWSDecode(f *testing.F) {
	f.Add(serverFrame(0x81, `42["LOAD",{"t":"1"}]`), 3)
	f.Add(append(serverFrame(0x01, "a"), serverFrame(0x80, "b")...), 2)
	f.Add(serverFrame(0x81, strings.Repeat("x", 200)), 1)
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 5)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		whole, errWhole := decodeAll(bytes.Clone(stream), 0)
		step := 1 + abs(cut)%(len(stream)+1)
		split, errSplit := decodeAll(bytes.Clone(stream), step)
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %v; in reads of %d: %v", errWhole, step, errSplit)
		}
		if errWhole == nil && fmt.Sprint(whole) != fmt.Sprint(split) {
			t.Fatalf("whole: %q; in reads of %d: %q", whole, step, split)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
