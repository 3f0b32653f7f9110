package main

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/ingress"
)

// originPolicy decides which Host names herald answers and which web
// origins may talk to it from a browser. It is what keeps a web page the
// streamer happens to open from firing alerts, guessing codes or joining a
// room on the herald running on the same machine (see SECURITY.md).
type originPolicy struct {
	anyHost   bool
	hosts     map[string]bool // lower-case names, no port
	anyOrigin bool
	origins   map[string]bool // exact origins, e.g. "null", "https://x.example"
}

// defaultOrigins are let in whatever the flags say: "null" is a local file
// (file://) or a sandboxed page, "http://absolute" is an OBS browser source
// with "Local file" ticked (OBS 27.2 and later serve those from that
// origin). Neither is reachable by an ordinary web site.
var defaultOrigins = []string{"null", "http://absolute"}

func newOriginPolicy(listenHost string, allowedHosts, corsOrigins []string) originPolicy {
	p := originPolicy{hosts: map[string]bool{"localhost": true}, origins: map[string]bool{}}
	if h := strings.ToLower(strings.Trim(listenHost, "[]")); h != "" {
		p.hosts[h] = true
	}
	for _, h := range allowedHosts {
		if h == "*" {
			p.anyHost = true
		}
		p.hosts[strings.ToLower(h)] = true
	}
	for _, o := range defaultOrigins {
		p.origins[o] = true
	}
	for _, o := range corsOrigins {
		if o == "*" {
			p.anyOrigin = true
		}
		p.origins[strings.TrimSuffix(o, "/")] = true
	}
	return p
}

// hostAllowed reports whether herald answers requests for hostport (a
// request's Host). IP literals always pass: DNS rebinding needs a name the
// attacker controls, and an address typed by hand is not one. Names pass
// when they are localhost (or under .localhost, which resolves only to
// loopback), the listen address, or named by --allowed-hosts.
func (p originPolicy) hostAllowed(hostport string) bool {
	if p.anyHost || hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return p.hosts[host] || strings.HasSuffix(host, ".localhost")
}

// originAllowed reports whether a browser request from origin may be
// answered: no origin (not a cross-origin browser request), herald's own
// origin (a page under /sources/, by any loopback name for a loopback
// herald), the default origins, or one named by --cors-origin.
func (p originPolicy) originAllowed(origin, requestHost string) bool {
	if origin == "" || p.anyOrigin || p.origins[origin] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, requestHost) {
		return true
	}
	// http://localhost:8080 and http://127.0.0.1:8080 are two origins but
	// one herald: a page served under one name may connect by the other.
	return loopbackName(u.Hostname()) && loopbackName(hostOnly(requestHost)) && u.Port() != "" && u.Port() == portOf(requestHost)
}

// crossSiteWithoutOrigin reports a browser request another site made
// without an Origin header: a link followed, an <img> or a form GET. Those
// must not fire alerts or reach Socket.IO either.
func crossSiteWithoutOrigin(r *http.Request) bool {
	return r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

func loopbackName(h string) bool {
	h = strings.ToLower(strings.Trim(h, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func portOf(hostport string) string {
	if _, p, err := net.SplitHostPort(hostport); err == nil {
		return p
	}
	return ""
}

// guard applies the policy in front of every route. A Host herald does not
// answer for is refused (DNS rebinding), except on the rules file's
// ingress paths: platforms reach those through tunnels under names of
// their own, and each request there proves itself with a signature or
// token. A disallowed origin is refused on everything but the static
// files, which a page on another origin may embed but never read. Allowed
// cross-origin requests get CORS headers naming their origin (or "*" with
// --cors-origin '*').
//
// Every answer says nosniff: a browser then never runs a JSON, text or
// long-polling answer as a script or a style, whatever a page on another
// site embeds it as.
func (d handlerDeps) guard(next http.Handler) http.Handler {
	p := d.policy
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !p.hostAllowed(r.Host) && !d.router.Handles(r.URL.Path) {
			d.refuse(w, r, http.StatusForbidden, "host not allowed: start herald with --allowed-hosts "+hostOnly(r.Host)+" to serve it under that name", "request for a host not allowed")
			return
		}
		origin := r.Header.Get("Origin")
		if !staticPath(r.URL.Path) && !p.anyOrigin {
			if !p.originAllowed(origin, r.Host) || crossSiteWithoutOrigin(r) {
				d.refuse(w, r, http.StatusForbidden, "origin not allowed: start herald with --cors-origin ORIGIN to let that page in", "request from an origin not allowed")
				return
			}
		}
		// A sink answers CORS itself; the dashboard is same-origin only and
		// gets no CORS headers, even with --cors-origin '*'.
		if d.sinkProtocol(r.URL.Path) || strings.HasPrefix(r.URL.Path, "/admin") {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		switch {
		case p.anyOrigin:
			h.Set("Access-Control-Allow-Origin", "*")
		case origin != "" && p.originAllowed(origin, r.Host):
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// staticPath reports the files any page may embed: the overlay sources,
// the client bundle and the heartbeat.
func staticPath(path string) bool {
	return strings.HasPrefix(path, "/sources/") || strings.HasPrefix(path, "/socket.io/socket.io") && strings.HasSuffix(path, ".js") || path == "/heartbeat"
}

// refuse answers a refusal from the guards and logs it (at Warn, under a
// per-message budget: see limit.LogHandler).
func (d handlerDeps) refuse(w http.ResponseWriter, r *http.Request, status int, reason, logMsg string) {
	d.log.Warn(logMsg, "path", r.URL.Path, "remote", r.RemoteAddr, "host", r.Host, "origin", r.Header.Get("Origin"))
	closeUnread(w, r)
	ingress.WriteJSON(w, status, map[string]string{"error": reason})
}
