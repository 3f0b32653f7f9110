// Package clientaddr tells which address a request came from when herald
// sits behind reverse proxies it was told to trust: the nearest address
// in X-Forwarded-For that is not one of those proxies. Every per-client
// limit, log line and page address is keyed by it, so pages behind a
// load balancer are not all counted as the balancer.
//
// Only proxies named by the operator are believed: a header from any
// other peer is ignored, since anyone can send one and pick their own
// address.
package clientaddr

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trusted is a set of proxy addresses. The zero value trusts nobody.
type Trusted struct{ prefixes []netip.Prefix }

// Parse reads a comma-separated list of IP addresses and CIDR prefixes
// ("127.0.0.1, 10.0.0.0/8, ::1"). An empty list trusts nobody.
func Parse(list string) (Trusted, error) {
	var t Trusted
	var errs []error
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := parsePrefix(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, errors.Join(errs...)
}

// parsePrefix reads one entry: a CIDR prefix, or an address standing for
// itself alone.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR prefix such as 10.0.0.0/8", s)
}

// Empty reports whether t trusts nobody.
func (t Trusted) Empty() bool { return len(t.prefixes) == 0 }

// String lists the trusted prefixes, for the start-up log.
func (t Trusted) String() string {
	s := make([]string, len(t.prefixes))
	for i, p := range t.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// trusts reports whether host (an IP address, without port) is a trusted
// proxy.
func (t Trusted) trusts(host string) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Client is the address of r's client: r.RemoteAddr's host, or, when
// that is a trusted proxy, the right-most address of X-Forwarded-For that
// is not (each proxy appends the peer it saw, so the entries right of
// the client's were written by proxies we trust and anything left of it
// by the client itself). When every entry is trusted the left-most is the
// client; an entry that is not an IP address stops the walk and the
// nearest trusted address is kept, since a proxy we trust would not have
// written it.
func (t Trusted) Client(r *http.Request) string {
	host := hostOf(r.RemoteAddr)
	if len(t.prefixes) == 0 || !t.trusts(host) {
		return host
	}
	client := host
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			ip, err := netip.ParseAddr(hostOf(e))
			if err != nil {
				return client
			}
			client = ip.Unmap().String()
			if !t.trusts(client) {
				return client
			}
		}
	}
	return client
}

// hostOf strips a port (and IPv6 brackets) from an address, if it has
// one.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// Middleware rewrites r.RemoteAddr to the client's address (Client) with
// port 0 before next sees it, when the request came through a trusted
// proxy; other requests pass unchanged.
func (t Trusted) Middleware(next http.Handler) http.Handler {
	if t.Empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client := t.Client(r); client != hostOf(r.RemoteAddr) {
			r2 := new(http.Request)
			*r2 = *r
			r2.RemoteAddr = net.JoinHostPort(client, "0")
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}
