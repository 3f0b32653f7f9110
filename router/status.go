package router

import (
	"bytes"
	"errors"
	"net/url"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/yamlpos"
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
	// Refusals splits each instance's refusals by reason, with the last.
	Refusals map[string]ingress.Refusals `json:"refusals"`
	// Instances lists the ingress instances the running file declares.
	Instances []Instance `json:"instances"`
}

// Instance is one declared ingress instance.
type Instance struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
	// Connection is the state of an instance with a connection of its
	// own (the Twitch EventSub WebSocket), when it reports one.
	Connection *ingress.RunStatus `json:"connection,omitempty"`
}

// ErrorInfo is the last failed load.
type ErrorInfo struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	// Errors are the positioned errors, each with the line it points at.
	Errors []PosError `json:"errors,omitempty"`
}

// PosError is one positioned load error.
type PosError struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col,omitempty"`
	Msg  string `json:"msg"`
	// Source is the offending line of the file as it was saved.
	Source string `json:"source,omitempty"`
}

// Counters count events since start.
type Counters struct {
	Routed     uint64 `json:"routed"`
	Dropped    uint64 `json:"dropped"`
	Unrouted   uint64 `json:"unrouted"`
	ExprErrors uint64 `json:"expr_errors"`
	// FailedReloads counts loads refused since start; successful ones are
	// the generation.
	FailedReloads uint64 `json:"failed_reloads"`
}

// Status reports the running snapshot, the last load error if the newest
// attempt failed, and the event counters.
func (r *Router) Status() Status {
	s := r.cur.Load()
	st := Status{
		File: s.file, Generation: s.gen, LoadedAt: s.loaded, Rules: s.set.Len(), Tests: s.tests,
		Ingress:    append([]string{}, s.paths...),
		Traffic:    r.states.Stats(),
		Refusals:   r.states.Refusals(),
		RuleErrors: r.ruleErrs.snapshot(),
		Warnings:   []string{},
		Counters: Counters{
			Routed: r.routed.Load(), Dropped: r.dropped.Load(),
			Unrouted: r.unrouted.Load(), ExprErrors: r.exprErrs.Load(),
			FailedReloads: r.failedReloads.Load(),
		},
		Instances: []Instance{},
	}
	for _, spec := range s.set.Ingress() {
		st.Instances = append(st.Instances, Instance{Name: spec.Name, Type: spec.Type, Path: spec.Path,
			Connection: r.runStatus(spec.Name)})
	}
	for _, w := range s.set.Warnings() {
		st.Warnings = append(st.Warnings, w.Error())
	}
	if le := r.lastErr.Load(); le != nil {
		st.LastError = &ErrorInfo{At: le.at, Message: le.err.Error(), Errors: positioned(le.err, le.data)}
	}
	return st
}

// positioned lists err's positioned errors with the lines they point at.
func positioned(err error, data []byte) []PosError {
	var list yamlpos.List
	if !errors.As(err, &list) {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	out := make([]PosError, 0, len(list))
	for _, e := range list {
		pe := PosError{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Msg: e.Msg}
		if e.Pos.Line >= 1 && e.Pos.Line <= len(lines) {
			pe.Source = string(bytes.TrimRight(lines[e.Pos.Line-1], "\r"))
		}
		out = append(out, pe)
	}
	return out
}

func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		return &url.URL{Path: path}
	}
	return u
}
