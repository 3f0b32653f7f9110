package socketio

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// TestLibraryPIDIsReadable guards libraryPID's reflection: if an update of
// the library renames or retypes the socket's pid field, recovery on the
// library path would silently stop; this fails instead.
func TestLibraryPIDIsReadable(t *testing.T) {
	sock := &socket.Socket{}
	if got := libraryPID(sock); got != "" {
		t.Fatalf("libraryPID(zero socket) = %q, want \"\"", got)
	}
	if _, ok := reflectField(sock, "pid"); !ok {
		t.Fatal("socket.Socket has no string field pid: update libraryPID for the new library version")
	}
}

func TestWithNoOffset(t *testing.T) {
	tests := []struct {
		name, packet, want string // want "" when the packet stays as it is
	}{
		{name: "pid without offset", packet: `0{"pid":"p1","code":"abc"}`, want: `0{"code":"abc","offset":"none","pid":"p1"}`},
		{name: "numbers unchanged", packet: `0{"pid":"p1","n":12345678901234567890}`, want: `0{"n":12345678901234567890,"offset":"none","pid":"p1"}`},
		{name: "pid with offset", packet: `0{"pid":"p1","offset":"e-3"}`},
		{name: "empty offset", packet: `0{"pid":"p1","offset":""}`, want: `0{"offset":"none","pid":"p1"}`},
		{name: "null offset", packet: `0{"pid":"p1","offset":null}`, want: `0{"offset":"none","pid":"p1"}`},
		{name: "no pid", packet: `0{"code":"abc"}`},
		{name: "pid not a string", packet: `0{"pid":1}`},
		{name: "no auth", packet: `0`},
		{name: "another namespace", packet: `0/admin,{"pid":"p1"}`},
		{name: "an event", packet: `2["REGISTER",{"pid":"p1"}]`},
		{name: "broken JSON", packet: `0{"pid":"p1"`},
		{name: "trailing bytes", packet: `0{"pid":"p1"}x`},
	}
	for _, tc := range tests {
		got, ok := withNoOffset([]byte(tc.packet))
		if ok != (tc.want != "") || (ok && string(got) != tc.want) {
			t.Errorf("%s: withNoOffset(%s) = %s, %v; want %q", tc.name, tc.packet, got, ok, tc.want)
		}
	}
}

// FuzzWithNoOffset: a CONNECT from a page is outside input. Whatever is
// rewritten is the same auth object with noOffset added.
func FuzzWithNoOffset(f *testing.F) {
	f.Add([]byte(`0{"pid":"p1","code":"abc"}`))
	f.Add([]byte(`0{"pid":"p1","offset":"e-1"}`))
	f.Add([]byte(`0{"pid":"p1","a":[1,{"b":null}]}`))
	f.Fuzz(func(t *testing.T, packet []byte) {
		got, ok := withNoOffset(packet)
		if !ok {
			return
		}
		var before, after map[string]any
		if err := json.Unmarshal(packet[1:], &before); err != nil {
			t.Fatalf("rewrote a packet whose auth is not JSON: %q", packet)
		}
		if got[0] != '0' || json.Unmarshal(got[1:], &after) != nil {
			t.Fatalf("rewrite %q is not a CONNECT with JSON auth", got)
		}
		if o, _ := before["offset"].(string); after["offset"] != noOffset || o != "" {
			t.Fatalf("offset before %v, after %v; want none or empty, then %q", before["offset"], after["offset"], noOffset)
		}
		delete(after, "offset")
		delete(before, "offset")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("auth changed: %v → %v", before, after)
		}
	})
}
