// Command profile is a profiling harness for herald's fan-out path: the
// real egress/socketio Sink behind a minimal /notify (no router, no rules)
// with net/http/pprof mounted, so a CPU profile taken under herald-load
// shows the Socket.IO egress and nothing else. Loopback only.
//
//	go run ./bench/profile -p 18070 &
//	herald-load -url http://127.0.0.1:18070 -triggers 20000 … &
//	go tool pprof -top 'http://127.0.0.1:18070/debug/pprof/profile?seconds=10'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress/socketio"
)

func main() {
	port := flag.Int("p", 18070, "port on 127.0.0.1")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sink := socketio.New(socketio.Options{Log: log})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", sink.Handler())
	mux.HandleFunc("GET /heartbeat", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /notify", notify(sink))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	log.Info("profile harness listening", "addr", addr, "pid", os.Getpid())
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// notify is the seed's /notify without the router: every query parameter
// becomes the payload of event E (upper-cased, spaces → _) for room C.
func notify(sink *socketio.Sink) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		payload := make(map[string]any, len(q))
		for k, v := range q {
			payload[k] = v[0]
		}
		d := herald.Delivery{
			EventID: "profile", Source: "trigger", Room: q.Get("code"),
			Name:    strings.ReplaceAll(strings.ToUpper(q.Get("event")), " ", "_"),
			Payload: payload, Time: time.Now(),
		}
		n, err := sink.Deliver(r.Context(), d)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"success": 0, "msg": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": 1, "count": n, "msg": fmt.Sprintf("Broadcast event to %d clients", n)})
	}
}
