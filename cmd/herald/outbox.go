package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/heraldhq/herald/journal/spool"
	"github.com/heraldhq/herald/router"
)

// openOutboxSpool opens this node's outbox on disk (cluster mode), so that
// the alerts it delivers alone while Redis is away survive its stop or
// crash, and returns what an earlier run left in it. The file is named
// after the port: nodes sharing a machine and a --data directory each
// find their own again after a restart. It is never a reason not to start:
// without it the outbox waits in memory, as it does with --data :memory:.
func openOutboxSpool(cfg config, log *slog.Logger) (*spool.Spool, []router.Unjournaled) {
	switch {
	case cfg.dataDir == memoryData:
		return nil, nil
	case cfg.port == 0:
		log.Info("outbox in memory only: a node on a random port (-p 0) would not find its file again after a restart")
		return nil, nil
	}
	path := filepath.Join(cfg.dataDir, fmt.Sprintf("outbox-%d.db", cfg.port))
	sp, aside, err := spool.Open(path)
	switch {
	case errors.Is(err, spool.ErrInUse):
		log.Warn("outbox in memory only: another herald holds its file; give each node on this machine its own --data", "file", path)
		return nil, nil
	case err != nil:
		// A warning, not an error: alerts are unaffected unless this node
		// also dies while Redis is away.
		log.Warn("outbox in memory only: its file cannot be opened; give --data a writable directory, or --data :memory: to keep it in memory",
			"file", path, "err", err)
		return nil, nil
	case aside != "":
		log.Error("the outbox file was damaged and is moved aside; alerts it held may not reach the other nodes", "file", path, "aside", aside)
	}
	var left []router.Unjournaled
	bad, err := sp.Load(func(e spool.Entry) {
		left = append(left, router.Unjournaled{ID: e.ID, Delivery: e.Delivery, At: e.At, Reached: e.Reached})
	})
	if err != nil {
		log.Error("reading the outbox file", "file", path, "err", err)
	}
	if bad > 0 {
		log.Error("unreadable records removed from the outbox file", "file", path, "records", bad)
	}
	return sp, left
}
