package socketio

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRegisterForms sends REGISTER payloads as raw frames with an ack id
// and checks the exact frames the page gets back.
func TestRegisterForms(t *testing.T) {
	tests := []struct {
		name     string
		arg      string // JSON of REGISTER's argument
		wantCode string // "" means refused
	}{
		{name: "object", arg: `{"code":"c-obj"}`, wantCode: "c-obj"},
		{name: "bare string", arg: `"c-str"`, wantCode: "c-str"},
		{name: "integral number", arg: `{"code":1234}`, wantCode: "1234"},
		{name: "object without code", arg: `{"room":"x"}`},
		{name: "empty code", arg: `{"code":""}`},
		{name: "fractional number", arg: `{"code":1.5}`},
		{name: "boolean", arg: `true`},
		{name: "list", arg: `["c"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := startSink(t, Options{})
			p := dialRaw(t, srv.URL, "", nil)
			if err := p.send(`421["REGISTER",` + tc.arg + `]`); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode == "" {
				// The whole frame must be 42["ERROR",{"message":…}] with a
				// message that explains REGISTER.
				f := p.next(t)
				var errEvent []json.RawMessage
				var name string
				var body struct{ Message string }
				rest, isEvent := strings.CutPrefix(f, "42")
				if !isEvent || json.Unmarshal([]byte(rest), &errEvent) != nil || len(errEvent) != 2 ||
					json.Unmarshal(errEvent[0], &name) != nil || name != "ERROR" ||
					json.Unmarshal(errEvent[1], &body) != nil || !strings.HasPrefix(body.Message, "REGISTER needs a code") {
					t.Errorf("after REGISTER %s got %s, want an ERROR event explaining REGISTER", tc.arg, f)
				}
				if f := p.next(t); !strings.HasPrefix(f, `431[{"error":"REGISTER needs a code`) || !strings.HasSuffix(f, `,"ok":false}]`) {
					t.Errorf("REGISTER %s ack = %s, want 431[{\"error\":…,\"ok\":false}]", tc.arg, f)
				}
				if got := codes(s); len(got) != 1 || got[0] != "" {
					t.Errorf("Clients codes = %q, want one unregistered page", got)
				}
				return
			}
			if f, want := p.next(t), `431[{"code":"`+tc.wantCode+`","ok":true}]`; f != want {
				t.Errorf("REGISTER %s ack = %s, want %s", tc.arg, f, want)
			}
			d := delivery(tc.wantCode, "HELLO", nil)
			deliver(t, s, d, 1)
			if f, want := p.next(t), `42["HELLO",{},{"id":"`+d.EventID+`","source":"trigger","ts":1700000000123}]`; f != want {
				t.Errorf("delivery frame = %s, want %s", f, want)
			}
		})
	}
}

// TestSeedFramesByteForByte pins what a seed page sees on the wire for a
// plain REGISTER without ack and a delivery.
func TestSeedFramesByteForByte(t *testing.T) {
	s, srv := startSink(t, Options{})
	p := dialRaw(t, srv.URL, "", nil) // checks 42["WELCOME",{"message":"Please register your code"}]
	if err := p.send(`42["REGISTER",{"code":"seed"}]`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the page to register", func() bool { return s.rooms.count("seed") == 1 })
	d := delivery("seed", "FOLLOW", map[string]any{"code": "seed", "event": "follow", "user": "ada"})
	deliver(t, s, d, 1)
	want := `42["FOLLOW",{"code":"seed","event":"follow","user":"ada"},{"id":"ev-seed-FOLLOW","source":"trigger","ts":1700000000123}]`
	if f := p.next(t); f != want {
		t.Errorf("delivery frame =\n%s\nwant\n%s", f, want)
	}
}
