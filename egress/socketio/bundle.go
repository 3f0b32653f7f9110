package socketio

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/sources"
)

// clientBundle serves the pinned socket.io client (sources/) at
// <path>socket.io.js and socket.io.min.js, where pages written for the
// original service load it from. The library's own copy is off
// (serveClient): ours is the version the tests pin.
func (s *Sink) clientBundle(w http.ResponseWriter, r *http.Request) bool {
	name := strings.TrimPrefix(r.URL.Path, s.Path())
	if name != "socket.io.js" && name != "socket.io.min.js" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	if s.corsOrigin != "" {
		// A script tag needs no CORS, a fetch() of the bundle does.
		h.Set("Access-Control-Allow-Origin", s.corsOrigin)
	}
	http.ServeContent(w, r, "socket.io.js", s.started, bytes.NewReader(sources.SocketIOClient()))
	return true
}
