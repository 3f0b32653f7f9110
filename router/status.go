package router

import (
	"net/url"
	"time"

	"github.com/heraldhq/herald/ingress"
)

// Status is what GET /api/rules shows.
type Status struct {
	File       string     `json:"file"`
	Generation uint64     `json:"generation"`
	LoadedAt   time.Time  `json:"loaded_at"`
	Rules      int        `json:"rules"`
	Ingress    []string   `json:"ingress"`
	LastError  *ErrorInfo `json:"last_error"`
	// Tests is how the file's own tests fared when it was loaded.
	Tests    TestSummary `json:"tests"`
	Counters Counters    `json:"counters"`
	// Traffic counts each ingress instance's requests since start, by name.
	Traffic map[string]ingress.Stats `json:"traffic"`
	// Warnings are what loading the running file found probable but not
	// certain (a field the event type probably lacks), positioned.
	Warnings []string `json:"warnings"`
	// RuleErrors counts each rule's runtime failures since start, by name.
	RuleErrors map[string]RuleErrors `json:"rule_errors"`
}

// ErrorInfo is the last failed load.
type ErrorInfo struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
}

// Counters count events since start.
type Counters struct {
	Routed     uint64 `json:"routed"`
	Dropped    uint64 `json:"dropped"`
	Unrouted   uint64 `json:"unrouted"`
	ExprErrors uint64 `json:"expr_errors"`
}

// Status reports the running snapshot, the last load error if the newest
// attempt failed, and the event counters.
func (r *Router) Status() Status {
	s := r.cur.Load()
	st := Status{
		File: s.file, Generation: s.gen, LoadedAt: s.loaded, Rules: s.set.Len(), Tests: s.tests,
		Ingress:    append([]string{}, s.paths...),
		Traffic:    r.states.Stats(),
		RuleErrors: r.ruleErrs.snapshot(),
		Warnings:   []string{},
		Counters: Counters{
			Routed: r.routed.Load(), Dropped: r.dropped.Load(),
			Unrouted: r.unrouted.Load(), ExprErrors: r.exprErrs.Load(),
		},
	}
	for _, w := range s.set.Warnings() {
		st.Warnings = append(st.Warnings, w.Error())
	}
	if le := r.lastErr.Load(); le != nil {
		st.LastError = &ErrorInfo{At: le.at, Message: le.err.Error()}
	}
	return st
}

func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		return &url.URL{Path: path}
	}
	return u
}
