package ingress

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"
)

// Refusal reasons: a short, fixed vocabulary derived from the HTTP status,
// safe as a metrics label (the full reason can carry request data and goes
// only to the last error).
var reasons = [...]string{"bad_request", "unauthorized", "forbidden", "method", "too_large",
	"media_type", "too_many", "unavailable", "server_error", "other"}

// ReasonOf names the refusal an error stands for, from its status.
func ReasonOf(err error) string {
	var he *Error
	if !errors.As(err, &he) {
		return "server_error"
	}
	switch he.Status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusMethodNotAllowed:
		return "method"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "media_type"
	case http.StatusTooManyRequests:
		return "too_many"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if he.Status >= 500 {
		return "server_error"
	}
	return "other"
}

// refusals tallies refusals by reason and keeps the last one.
type refusals struct {
	by   [len(reasons)]atomic.Uint64
	last atomic.Pointer[LastError]
}

// LastError is the newest refusal an instance answered.
type LastError struct {
	At time.Time `json:"at"`
	// Reason is the answer the sender got, e.g. "403 invalid verification_token".
	Reason string `json:"reason"`
}

func (r *refusals) add(err error, now time.Time) {
	reason := ReasonOf(err)
	for i, name := range reasons {
		if name == reason {
			r.by[i].Add(1)
			break
		}
	}
	r.last.Store(&LastError{At: now, Reason: err.Error()})
}

// Refusals is an instance's refusals by reason (see ReasonOf) and the
// newest one. Refusals counted without an error (Count(false)) are in
// Stats.Refused only.
type Refusals struct {
	By   map[string]uint64 `json:"by"`
	Last *LastError        `json:"last,omitempty"`
}

func (r *refusals) snapshot() Refusals {
	out := Refusals{By: map[string]uint64{}, Last: r.last.Load()}
	for i, name := range reasons {
		if n := r.by[i].Load(); n > 0 {
			out.By[name] = n
		}
	}
	return out
}
