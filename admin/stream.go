package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/heraldhq/herald/router"
)

// statusEvery is how often an open dashboard's server side looks for a
// change in the status panels (pages, ingress, rules); only a change is
// sent. The event list is pushed as events happen.
const statusEvery = time.Second

// keepAlive is sent on an idle stream so proxies do not cut it.
const keepAlive = 20 * time.Second

// subscriberBuffer is how many events a tab may fall behind before it
// misses some.
const subscriberBuffer = 256

// stream is the dashboard's live feed, as Server-Sent Events:
//   - "history": the recent events, oldest first, once;
//   - "event": a new event, or a change to one (an ack), by seq;
//   - "status": pages, ingress, rules, when they changed;
//   - "signedout": the session ended; the stream closes.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sub, hist := d.feed.Subscribe(subscriberBuffer)
	defer sub.Close()
	views := make([]eventView, len(hist))
	for i, rec := range hist {
		views[i] = rec.view()
	}
	if !send(w, "history", views) {
		return
	}
	var last []byte
	sendStatus := func() bool {
		b, err := json.Marshal(d.status(sub.Dropped()))
		if err != nil || bytes.Equal(b, last) {
			return err == nil
		}
		last = b
		return sendRaw(w, "status", b)
	}
	if !sendStatus() || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	idle := time.NewTimer(keepAlive)
	defer idle.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.closing:
			return
		case rec := <-sub.C():
			if !send(w, "event", rec.view()) {
				return
			}
		case <-tick.C:
			if _, _, ok := d.current(r); !ok {
				send(w, "signedout", map[string]string{"reason": "session ended"})
				_ = rc.Flush()
				return
			}
			if !sendStatus() {
				return
			}
		case <-idle.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
		idle.Reset(keepAlive)
	}
}

func send(w http.ResponseWriter, event string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return sendRaw(w, event, b)
}

func sendRaw(w http.ResponseWriter, event string, data []byte) bool {
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
	return err == nil
}

// statusView is everything in the side panels.
type statusView struct {
	Rules   router.Status `json:"rules"`
	Pages   []codeView    `json:"pages"`
	Total   int           `json:"total_pages"`
	Missed  uint64        `json:"missed"` // events this tab missed by falling behind
	Journal *journalView  `json:"journal,omitempty"`
}

// journalView is the journal's health: whether alerts go out with their
// history (and so recover and replay), or live only.
type journalView struct {
	// State is router.JournalStatus.State: ok, memory, failing or waiting.
	State   string `json:"state"`
	Failing bool   `json:"failing"`
	// Failures counts alerts sent live without history since the start.
	Failures    uint64            `json:"failures"`
	LastFailure *router.ErrorInfo `json:"last_failure,omitempty"`
	// Waiting counts alerts a cluster node sent to its own pages only,
	// waiting for Redis to be journaled and sent to the other nodes.
	Waiting int `json:"waiting"`
	// Store is where history is kept ("bolt", "memory", "redis") and
	// StoreError the store's own last error: with store "memory", why the
	// disk was not used (history then ends at the next restart).
	Store      string `json:"store"`
	StoreError string `json:"store_error,omitempty"`
}

// codeView is the pages registered under one code.
type codeView struct {
	Code       string         `json:"code"`
	Count      int            `json:"count"`
	Transports map[string]int `json:"transports"`
	Since      time.Time      `json:"since"`
}

func (d *Dashboard) status(missed uint64) statusView {
	st := statusView{Pages: []codeView{}, Missed: missed}
	if d.opts.Status != nil {
		st.Rules = d.opts.Status()
	}
	if d.opts.Journal != nil {
		js := d.opts.Journal()
		st.Journal = &journalView{State: js.State, Failing: js.Failing, Failures: js.Failures, LastFailure: js.LastFailure,
			Store: js.Store, StoreError: js.LastError}
		if js.Outbox != nil {
			st.Journal.Waiting = js.Outbox.Waiting
		}
	}
	if d.opts.Pages == nil {
		return st
	}
	byCode := map[string]*codeView{}
	for _, c := range d.opts.Pages.Clients() {
		cv := byCode[c.Code]
		if cv == nil {
			cv = &codeView{Code: c.Code, Transports: map[string]int{}, Since: c.Connected}
			byCode[c.Code] = cv
		}
		cv.Count++
		cv.Transports[c.Transport]++
		if c.Connected.Before(cv.Since) {
			cv.Since = c.Connected
		}
		st.Total++
	}
	for _, cv := range byCode {
		st.Pages = append(st.Pages, *cv)
	}
	sort.Slice(st.Pages, func(i, j int) bool { return st.Pages[i].Since.Before(st.Pages[j].Since) })
	return st
}
