package limit

import (
	"net"
	"net/http"
	"net/netip"
)

// Key is the limiter key of a request: its client address (see the
// package doc).
func Key(r *http.Request) string { return AddrKey(r.RemoteAddr) }

// AddrKey keys a "host:port" or bare host: IPv4 addresses as they are,
// IPv6 addresses by their /64 prefix. An address that does not parse is
// its own key.
func AddrKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() || ip.IsLoopback() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
