package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald/admin"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/metrics"
	"github.com/heraldhq/herald/router"
)

// monitoring is what watches herald: /metrics and the dashboard. Each is
// nil when it is off, and then costs nothing on the alert path.
type monitoring struct {
	metrics *metrics.Metrics
	// dash is always built: without a token it only explains how to turn
	// itself on, and observes nothing.
	dash *admin.Dashboard
}

// newMonitoring builds what the flags turn on. status reads the router,
// which is built after the observers it is handed.
//
// journalHealth reads the journal's health (router.Journaled), for the
// dashboard; cluster is nil outside cluster mode.
func newMonitoring(cfg config, log *slog.Logger, lister egress.Lister, status func() router.Status, journalStats func() journal.Stats,
	journalHealth func() router.JournalStatus, cluster func() metrics.Cluster) *monitoring {
	m := &monitoring{dash: admin.New(admin.Options{
		Token: cfg.adminToken, Status: status, Journal: journalHealth, Pages: lister, Log: log.With("component", "dashboard"),
		SecureCookie: cfg.tlsCert != "" || cfg.sslContext != "",
		ClientKey: func(r *http.Request) string {
			key, _ := r.Context().Value(clientKey{}).(string) // set by the limits, per --trusted-proxies
			return key
		},
	})}
	if cfg.metrics || cfg.metricsListen != "" {
		m.metrics = metrics.New(metrics.Options{Status: status, Pages: lister, Journal: journalStats, Cluster: cluster,
			JournalHealthy: func() bool { return journalHealth().State == router.JournalOK },
			JournalLag:     func() router.JournalLag { return journalHealth().Lag }})
	}
	return m
}

// observer is what the router reports every event to; nil when nothing
// watches.
func (m *monitoring) observer() router.Observer {
	var obs router.Observers
	if m.dash.Enabled() {
		obs = append(obs, m.dash)
	}
	if m.metrics != nil {
		obs = append(obs, m.metrics)
	}
	if len(obs) == 0 {
		return nil
	}
	return obs
}

// mount adds the monitoring routes the main listener serves.
func (m *monitoring) mount(cfg config, mux *http.ServeMux) {
	m.dash.SetAPI(mux)
	mux.Handle("/admin/", m.dash.Handler())
	mux.Handle("/admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	if m.metrics != nil && cfg.metrics {
		mux.Handle("/metrics", only("GET", m.metrics.Handler()))
	}
}

// serveMetrics runs the separate metrics listener of --metrics-listen
// until stop is called.
func (m *monitoring) serveMetrics(cfg config, log *slog.Logger) (stop func(context.Context) error, err error) {
	if cfg.metricsListen == "" {
		return func(context.Context) error { return nil }, nil
	}
	ln, err := net.Listen("tcp", cfg.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", only("GET", m.metrics.Handler()))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: httpErrorLog(log)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return srv.Shutdown, nil
}
