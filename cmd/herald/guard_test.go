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

// TestEveryAnswerSaysNosniff: whatever herald answers (a page's files,
// JSON, a refusal, a long-polling handshake, the library's own answers),
// a browser is told not to guess its type.
func TestEveryAnswerSaysNosniff(t *testing.T) {
	base := startServer(t, nil)
	for _, tc := range []struct {
		method, path string
		header       map[string]string
	}{
		{"GET", "/heartbeat", nil},
		{"GET", "/sources/notificationservice.js", nil},
		{"GET", "/notify?code=x&event=y", nil},
		{"GET", "/clients", map[string]string{"Authorization": "Bearer " + testToken}},
		{"GET", "/clients", nil},
		{"GET", "/socket.io/?EIO=4&transport=polling", nil},
		{"GET", "/socket.io/?EIO=4&transport=polling&j=0", nil},
		{"GET", "/socket.io/?EIO=4&transport=polling&sid=unknown", nil},
		{"GET", "/heartbeat", map[string]string{"Origin": "https://evil.example"}},
		{"GET", "/nothing-here", nil},
	} {
		a := do(t, tc.method, base+tc.path, nil, tc.header)
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d, %s): X-Content-Type-Options %q, want nosniff", tc.method, tc.path, a.status, a.header.Get("Content-Type"), got)
		}
	}
}
