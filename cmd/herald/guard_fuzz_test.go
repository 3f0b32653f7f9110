package main

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzOriginPolicy feeds the Host and Origin checks what any client may
// send. Beyond not panicking: an origin is let in only when it is one of
// the fixed ones, or an http(s) origin naming the request's own host, or a
// loopback name on the request's port; and a host name is answered only
// when it is loopback, an address or configured.
func FuzzOriginPolicy(f *testing.F) {
	for _, seed := range [][2]string{
		{"null", "127.0.0.1:8080"}, {"http://absolute", "localhost:8080"}, {"https://evil.example", "127.0.0.1:8080"},
		{"http://localhost:8080", "127.0.0.1:8080"}, {"http://127.0.0.1:8080", "evil.example:8080"},
		{"http://[::1]:8080", "[::1]:8080"}, {"http://a.localhost:1", "localhost:1"}, {"", "x"}, {"http://%zz", "h:1"},
	} {
		f.Add(seed[0], seed[1])
	}
	p := newOriginPolicy("127.0.0.1", []string{"stream.example"}, []string{"https://overlay.example"})
	f.Fuzz(func(t *testing.T, origin, host string) {
		if p.originAllowed(origin, host) {
			switch origin {
			case "", "null", "http://absolute", "https://overlay.example":
			default:
				u, err := url.Parse(origin)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
					t.Fatalf("origin %q allowed for host %q", origin, host)
				}
				if !strings.EqualFold(u.Host, host) && !(loopbackName(u.Hostname()) && loopbackName(hostOnly(host))) {
					t.Fatalf("origin %q allowed for host %q: neither the same host nor both loopback", origin, host)
				}
			}
		}
		if p.hostAllowed(host) && strings.Contains(strings.ToLower(host), "evil") && !strings.ContainsAny(host, ":[") {
			t.Fatalf("host %q answered", host)
		}
	})
}
