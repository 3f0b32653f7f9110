package limit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LogHandler passes at most N records per message per interval at or
// above a level to the handler it wraps; the rest are counted, and the
// next record of that message to pass carries "suppressed"=count. It
// keeps one remote client from flooding the log (failed webhooks, refused
// admin requests) while the first lines of any new trouble still show.
// Records below the level (Debug, asked for on purpose) all pass.
type LogHandler struct {
	next  slog.Handler
	state *logState
}

type logState struct {
	n        int
	interval time.Duration
	level    slog.Level
	now      func() time.Time

	mu   sync.Mutex
	msgs map[string]*logWindow
}

type logWindow struct {
	start      time.Time
	passed     int
	suppressed int
}

// maxMessages bounds the table; messages are constant strings, so it
// only fills if a caller builds them from data.
const maxMessages = 1024

// NewLogHandler wraps next. n <= 0 or interval <= 0 passes everything.
func NewLogHandler(next slog.Handler, level slog.Level, n int, interval time.Duration, now func() time.Time) *LogHandler {
	if now == nil {
		now = time.Now
	}
	return &LogHandler{next: next, state: &logState{n: n, interval: interval, level: level, now: now, msgs: map[string]*logWindow{}}}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.state.level || h.state.n <= 0 || h.state.interval <= 0 {
		return h.next.Handle(ctx, r)
	}
	pass, suppressed := h.state.admit(r.Message)
	if !pass {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (s *logState) admit(msg string) (bool, int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.msgs[msg]
	if !ok {
		if len(s.msgs) >= maxMessages {
			for k, old := range s.msgs {
				if now.Sub(old.start) >= s.interval && old.suppressed == 0 {
					delete(s.msgs, k)
				}
			}
			if len(s.msgs) >= maxMessages {
				return false, 0
			}
		}
		w = &logWindow{start: now}
		s.msgs[msg] = w
	}
	if now.Sub(w.start) >= s.interval {
		w.start, w.passed = now, 0
	}
	if w.passed >= s.n {
		w.suppressed++
		return false, 0
	}
	w.passed++
	n := w.suppressed
	w.suppressed = 0
	return true, n
}

// WithAttrs implements slog.Handler; derived loggers share the budget.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(attrs), state: h.state}
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), state: h.state}
}
