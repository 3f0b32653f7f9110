package ingress

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Stats is a snapshot of what one adapter instance did.
type Stats struct {
	// Published counts events handed to the router.
	Published uint64 `json:"published"`
	// Duplicates counts retries recognised by id and answered without publishing.
	Duplicates uint64 `json:"duplicates"`
	// Refused counts requests answered with a 4xx or 5xx.
	Refused uint64 `json:"refused"`
}

// StatsReporter is the optional capability of an adapter that counts its
// traffic; the admin API finds it by type assertion.
type StatsReporter interface {
	Stats() Stats
}

// Counters is the concurrency-safe tally behind Stats. Adapters embed one
// and call Refuse, Duplicate and Published.
type Counters struct {
	published, duplicates, refused atomic.Uint64
	refusals                       refusals
}

// Stats returns the current counts.
func (c *Counters) Stats() Stats {
	return Stats{Published: c.published.Load(), Duplicates: c.duplicates.Load(), Refused: c.refused.Load()}
}

// Refusals returns the refusals by reason and the last one.
func (c *Counters) Refusals() Refusals { return c.refusals.snapshot() }

// Refused counts a refusal the adapter answered in its own format, with
// its reason.
func (c *Counters) Refused(err error) {
	c.refused.Add(1)
	c.refusals.add(err, time.Now())
}

// Count tallies a request an adapter answered in its own format (the
// trigger URL keeps the seed's): published or refused.
func (c *Counters) Count(published bool) {
	if published {
		c.published.Add(1)
	} else {
		c.refused.Add(1)
	}
}

// CountDuplicate tallies a retry recognised by id that an adapter with
// no HTTP answer to give (a WebSocket transport) skipped.
func (c *Counters) CountDuplicate() { c.duplicates.Add(1) }

// Refuse answers err (see WriteError), counts it, and logs it: at Warn
// for an *Error (a refused request is the sender's problem, not ours) and
// at Error otherwise. The reason is logged, never a secret.
func (c *Counters) Refuse(w http.ResponseWriter, log *slog.Logger, err error) {
	c.Refused(err)
	var he *Error
	if errors.As(err, &he) {
		log.LogAttrs(context.Background(), slog.LevelWarn, "webhook refused",
			slog.Int("status", he.Status), slog.String("reason", he.Reason))
	} else {
		log.LogAttrs(context.Background(), slog.LevelError, "webhook failed", slog.String("err", err.Error()))
	}
	WriteError(w, err)
}

// Duplicate counts a recognised retry and answers it with 200 so the sender
// stops retrying.
func (c *Counters) Duplicate(w http.ResponseWriter, log *slog.Logger, id string) {
	c.duplicates.Add(1)
	log.LogAttrs(context.Background(), slog.LevelDebug, "duplicate ignored", slog.String("event_id", id))
	WriteJSON(w, http.StatusOK, map[string]any{"success": 1, "duplicate": true, "event_id": id})
}

// Publish hands ev to p and answers the sender: 200 with the receipt, or
// 503 if the event could not be routed (the server is shutting down), so
// the sender retries later. It reports whether the event was published.
func (c *Counters) Publish(w http.ResponseWriter, r *http.Request, log *slog.Logger, p herald.Publisher, ev herald.Event) bool {
	rc, err := p.Publish(r.Context(), ev)
	if errors.Is(err, herald.ErrInvalidEvent) {
		c.Refuse(w, log, Errorf(http.StatusBadRequest, "%v", err))
		return false
	}
	if err != nil {
		c.Refuse(w, log, NotDelivered(err))
		return false
	}
	c.published.Add(1)
	answer := map[string]any{
		"success": 1, "event_id": rc.EventID, "deliveries": rc.Deliveries, "count": rc.Pages,
	}
	switch {
	case rc.Dropped != "":
		answer["dropped"] = rc.Dropped
	case rc.Unrouted:
		answer["unrouted"] = true
	}
	WriteJSON(w, http.StatusOK, answer)
	return true
}

// NotDelivered is the answer to a Publisher's error: a 400 for an event
// no rule could make an alert of (herald.ErrInvalidEvent: sending it
// again changes nothing), else a 503: the event was not kept for its page
// (see herald.ErrNotKept), or herald is not accepting events, and the
// sender should send it again later.
func NotDelivered(err error) *Error {
	if errors.Is(err, herald.ErrInvalidEvent) {
		return Errorf(http.StatusBadRequest, "%v", err)
	}
	if errors.Is(err, herald.ErrNotKept) {
		return Errorf(http.StatusServiceUnavailable, "not delivered: %v; send it again later", herald.ErrNotKept)
	}
	return Errorf(http.StatusServiceUnavailable, "not accepting events")
}

// ReadPost is the prologue every webhook shares: a 405 unless r is a POST,
// then the body, size-limited as ReadBody does.
func ReadPost(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := CheckMethod(w, r, http.MethodPost); err != nil {
		return nil, err
	}
	return ReadBody(w, r, limit)
}

// CheckMethod returns a 405 *Error, after setting Allow, unless r uses
// method.
func CheckMethod(w http.ResponseWriter, r *http.Request, method string) error {
	if r.Method == method {
		return nil
	}
	w.Header().Set("Allow", method)
	return Errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
}
