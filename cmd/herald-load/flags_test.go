package main

import (
	"io"
	"strings"
	"testing"
)

func TestLoopbackURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr string
	}{
		{name: "ipv4 loopback", raw: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "other 127/8 address", raw: "http://127.0.0.2:9", want: "http://127.0.0.2:9"},
		{name: "ipv6 loopback", raw: "http://[::1]:8080/x?y", want: "http://[::1]:8080"},
		{name: "default port", raw: "http://127.0.0.1", want: "http://127.0.0.1:80"},
		{name: "private address refused", raw: "http://10.0.0.1:8080", wantErr: "not a loopback"},
		{name: "public address refused", raw: "http://8.8.8.8:80", wantErr: "not a loopback"},
		{name: "unspecified refused", raw: "http://0.0.0.0:8080", wantErr: "not a loopback"},
		{name: "https refused", raw: "https://127.0.0.1:8443", wantErr: "want http://"},
		{name: "no scheme", raw: "//127.0.0.1:8080", wantErr: "want http://"},
		{name: "no host", raw: "http:///notify", wantErr: "want http://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := loopbackURL(t.Context(), tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loopbackURL(%q) error = %v, want one containing %q", tc.raw, err, tc.wantErr)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Errorf("loopbackURL(%q) = %v, %v; want %s", tc.raw, u, err, tc.want)
			}
		})
	}
}

func TestParseFlagsRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "more codes than pages", args: []string{"-pages", "2", "-codes", "3"}, want: "-codes"},
		{name: "unknown register mode", args: []string{"-register", "query"}, want: "-register"},
		{name: "probe event name", args: []string{"-event", "PROBE"}, want: "-event"},
		{name: "warmup event name", args: []string{"-event", "WARMUP"}, want: "-event"},
		{name: "event needing escapes", args: []string{"-event", "A&B"}, want: "-event"},
		{name: "zero concurrency", args: []string{"-concurrency", "0"}, want: "-concurrency"},
		{name: "remote target", args: []string{"-url", "http://192.168.1.1:8080"}, want: "loopback"},
		{name: "stray argument", args: []string{"now"}, want: "unexpected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseFlags(%q) error = %v, want one mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
