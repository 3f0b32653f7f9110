package main

import (
	"testing"
)

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		kind  kind
		event string
	}{
		{name: "empty", msg: "", kind: kindOther},
		{name: "open", msg: `0{"sid":"x","pingInterval":25000}`, kind: kindOpen},
		{name: "close", msg: "1", kind: kindClose},
		{name: "ping", msg: "2", kind: kindPing},
		{name: "pong is not for pages", msg: "3", kind: kindOther},
		{name: "noop", msg: "6", kind: kindOther},
		{name: "bare message", msg: "4", kind: kindOther},
		{name: "connect ack", msg: `40{"sid":"abc"}`, kind: kindConnect},
		{name: "connect error", msg: `44{"message":"no"}`, kind: kindConnectErr},
		{name: "disconnect", msg: "41", kind: kindDisconnect},
		{name: "welcome", msg: `42["WELCOME",{"message":"Please register your code"}]`, kind: kindEvent, event: "WELCOME"},
		{name: "event with ack id", msg: `4217["LOAD",{}]`, kind: kindEvent, event: "LOAD"},
		{name: "event without args", msg: `42["PING_ME"]`, kind: kindEvent, event: "PING_ME"},
		{name: "event array broken", msg: `42["LOAD`, kind: kindEvent, event: ""},
		{name: "event not an array", msg: `42{"a":1}`, kind: kindEvent, event: ""},
		{name: "binary event is not handled", msg: `451-["LOAD",{}]`, kind: kindOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parseFrame([]byte(tc.msg))
			if f.kind != tc.kind || string(f.event) != tc.event {
				t.Errorf("parseFrame(%q) = {%d %q}, want {%d %q}", tc.msg, f.kind, f.event, tc.kind, tc.event)
			}
		})
	}
}

func TestIntField(t *testing.T) {
	const load = `42["LOAD",{"event":"LOAD","code":"c7","seq":"12","t":"1732500000123456789"}]`
	tests := []struct {
		name string
		msg  string
		key  string
		want int64
		ok   bool
	}{
		{name: "nanosecond stamp, 19 digits", msg: load, key: "t", want: 1732500000123456789, ok: true},
		{name: "other field", msg: load, key: "seq", want: 12, ok: true},
		{name: "missing", msg: load, key: "g", ok: false},
		{name: "not digits", msg: load, key: "code", ok: false},
		{name: "key suffix is not the key", msg: `42["LOAD",{"at":"5"}]`, key: "t", ok: false},
		{name: "escaped lookalike in a value", msg: `42["LOAD",{"x":"\"t\":\"9","t":"3"}]`, key: "t", want: 3, ok: true},
		{name: "number, not string", msg: `42["LOAD",{"t":5}]`, key: "t", ok: false},
		{name: "overflow", msg: `42["LOAD",{"t":"9999999999999999999"}]`, key: "t", ok: false},
		{name: "too long", msg: `42["LOAD",{"t":"12345678901234567890"}]`, key: "t", ok: false},
		{name: "empty", msg: `42["LOAD",{"t":""}]`, key: "t", ok: false},
		{name: "unterminated", msg: `42["LOAD",{"t":"12`, key: "t", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := intField([]byte(tc.msg), tc.key)
			if got != tc.want || ok != tc.ok {
				t.Errorf("intField(%q, %q) = %d, %v; want %d, %v", tc.msg, tc.key, got, ok, tc.want, tc.ok)
			}
		})
	}
}
