package main

import "testing"

func TestOriginPolicy(t *testing.T) {
	p := newOriginPolicy("127.0.0.1", []string{"stream.example"}, []string{"https://overlay.example"})
	hosts := []struct {
		host string
		want bool
	}{
		{host: "127.0.0.1:8080", want: true},
		{host: "[::1]:8080", want: true},
		{host: "192.168.1.5:8080", want: true}, // an address is never rebound
		{host: "localhost:8080", want: true},
		{host: "LOCALHOST.:8080", want: true},
		{host: "obs.localhost:8080", want: true},
		{host: "stream.example", want: true},
		{host: "evil.example:8080", want: false},
		{host: "localhost.evil.example", want: false},
		{host: "", want: true}, // HTTP/1.0 without Host: not a browser
	}
	for _, tc := range hosts {
		if got := p.hostAllowed(tc.host); got != tc.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	origins := []struct {
		origin, host string
		want         bool
	}{
		{origin: "", host: "127.0.0.1:8080", want: true},
		{origin: "null", host: "127.0.0.1:8080", want: true},
		{origin: "http://absolute", host: "127.0.0.1:8080", want: true},
		{origin: "https://overlay.example", host: "127.0.0.1:8080", want: true},
		{origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080", want: true},
		{origin: "http://localhost:8080", host: "127.0.0.1:8080", want: true},
		{origin: "https://stream.example", host: "stream.example", want: true},
		{origin: "http://localhost:3000", host: "127.0.0.1:8080", want: false},
		{origin: "https://evil.example", host: "127.0.0.1:8080", want: false},
		{origin: "http://127.0.0.1:8080", host: "evil.example:8080", want: false},
		{origin: "https://overlay.example.evil", host: "127.0.0.1:8080", want: false},
		{origin: "file://", host: "127.0.0.1:8080", want: false},
	}
	for _, tc := range origins {
		if got := p.originAllowed(tc.origin, tc.host); got != tc.want {
			t.Errorf("originAllowed(%q, host %q) = %v, want %v", tc.origin, tc.host, got, tc.want)
		}
	}
	star := newOriginPolicy("127.0.0.1", []string{"*"}, []string{"*"})
	if !star.hostAllowed("evil.example") || !star.originAllowed("https://evil.example", "x") {
		t.Error("'*' does not allow every host and origin")
	}
}
