package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/broker"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/bolt"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

// memoryData is the --data value that keeps the journal in memory: nothing
// survives a restart, and nothing is written to disk.
const memoryData = ":memory:"

// openJournal opens the store --data names: a directory for the bbolt
// file (created on first run), or ":memory:".
//
// History must never stop alerts: when the directory or its file cannot
// be opened (a full or read-only disk, a path that is a file), herald
// starts anyway with the journal in memory, says so at ERROR and keeps
// saying it as the journal's last error (GET /api/journal, the
// dashboard). Only a journal another herald holds stops the start: two
// servers on one history is a mistake to fix, not to work around.
func openJournal(data string, log *slog.Logger) (journal.Journal, error) {
	if data == memoryData {
		return mem.New(), nil
	}
	s, err := bolt.Open(data, bolt.Options{Logger: log.With("component", "journal")})
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, bolt.ErrInUse):
		return nil, err
	}
	log.Error("the journal cannot be opened on disk; alerts go live, and their history is kept in memory only until herald restarts",
		"data", data, "err", err)
	return inMemoryInstead{Journal: mem.New(),
		why: fmt.Sprintf("journal on disk unavailable, history in memory until restart: %v", err)}, nil
}

// inMemoryInstead is the memory journal standing in for the one on disk;
// its stats carry why, so the fallback stays visible.
type inMemoryInstead struct {
	journal.Journal
	why string
}

// Volatile implements journal.Volatile: this history, too, ends with the
// process (an alert refused at shutdown must be refused, not kept here).
func (inMemoryInstead) Volatile() {}

func (j inMemoryInstead) Stats() journal.Stats {
	st := j.Journal.Stats()
	if st.LastError == "" {
		st.LastError = j.why
	}
	return st
}

// journalRetention is the retention the rules file asks for.
func journalRetention(s rules.JournalSettings) journal.Retention {
	return journal.Retention{MaxEntries: s.MaxEntries, MaxAge: s.MaxAge}.WithDefaults()
}

// recoveryOptions are the rules file's recovery and pending windows, the
// rules' own pending windows included.
func recoveryOptions(s rules.JournalSettings) recovery.Options {
	return recovery.Options{Window: s.RecoveryWindow, PendingWindow: s.PendingWindow, PendingOff: s.PendingOff,
		RulePending: s.RulePending}
}

// historyEntry is one line of GET /api/history.
type historyEntry struct {
	Offset  uint64         `json:"offset"`
	At      time.Time      `json:"at"`
	EventID string         `json:"event_id"`
	Source  string         `json:"source"`
	Name    string         `json:"name"`
	Rule    string         `json:"rule"`
	Reached int            `json:"reached"`
	Acked   int            `json:"acked"`
	Payload map[string]any `json:"payload"`
}

// maxHistory bounds one history answer.
const maxHistory = 1000

// historyHandler serves GET /api/history?room=CODE&limit=N: the room's
// newest N journaled alerts (default 20), oldest first, with what became
// of each. It is behind the admin token: entries hold donor names.
func historyHandler(x *router.Journaled) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room := r.URL.Query().Get("room")
		if room == "" {
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "room is required: /api/history?room=CODE&limit=N"})
			return
		}
		if why := badRoom(room); why != "" {
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": why})
			return
		}
		limit := 20
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxHistory {
				ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit must be a number from 1 to %d", maxHistory)})
				return
			}
			limit = n
		}
		es, err := x.Journal().Last(r.Context(), room, limit)
		if err != nil {
			ingress.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "journal: " + err.Error()})
			return
		}
		out := make([]historyEntry, 0, len(es))
		for _, e := range es {
			d := e.Delivery
			out = append(out, historyEntry{Offset: e.Offset, At: e.At, EventID: d.EventID, Source: d.Source,
				Name: d.Name, Rule: d.Rule, Reached: e.Reached, Acked: e.Acked, Payload: d.Payload})
		}
		ingress.WriteJSON(w, http.StatusOK, map[string]any{"room": room, "epoch": x.Journal().Epoch(), "entries": out})
	}
}

// maxRoomBytes is the longest code a page can register (egress/socketio
// refuses longer ones), so the longest room with a history.
const maxRoomBytes = 256

// badRoom says why room cannot be a room with a history, or "".
func badRoom(room string) string {
	switch {
	case len(room) > maxRoomBytes:
		return fmt.Sprintf("room: %d bytes; a code is at most %d", len(room), maxRoomBytes)
	case !utf8.ValidString(room) || strings.ContainsFunc(room, unicode.IsControl):
		return "room: not a code (invalid UTF-8 or a control character)"
	}
	return ""
}

// replayRequest is POST /api/replay's body: either a room and how many of
// its newest alerts, or one event id (every room it went to).
type replayRequest struct {
	Room string `json:"room"`
	Last int    `json:"last"`
	ID   string `json:"id"`
}

// replayHandler serves POST /api/replay: journaled alerts are sent again,
// marked replayed: true in meta. A replay is not a new event: it is not
// journaled again and never meets the webhook de-duplication.
func replayHandler(x *router.Journaled) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req replayRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			why := "body: " + err.Error()
			if errors.Is(err, io.EOF) {
				why = fmt.Sprintf(`body: empty; want {"room": CODE, "last": 1..%d} or {"id": EVENT_ID}`, maxHistory)
			}
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": why})
			return
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body: one JSON object, with nothing after it"})
			return
		}
		if why := badRoom(req.Room); req.Room != "" && why != "" {
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": why})
			return
		}
		var (
			es  []journal.Entry
			err error
		)
		switch {
		case req.ID != "" && req.Room == "" && req.Last == 0:
			es, err = x.Journal().Find(r.Context(), req.ID)
		case req.ID == "" && req.Room != "" && req.Last >= 1 && req.Last <= maxHistory:
			es, err = x.Journal().Last(r.Context(), req.Room, req.Last)
		default:
			ingress.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(`want {"room": CODE, "last": 1..%d} or {"id": EVENT_ID}`, maxHistory)})
			return
		}
		if err != nil {
			ingress.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "journal: " + err.Error()})
			return
		}
		if len(es) == 0 {
			ingress.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "nothing journaled to replay"})
			return
		}
		pages, err := x.Replay(r.Context(), es)
		if err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, r.Context().Err()) {
				status = http.StatusRequestTimeout
			}
			ingress.WriteJSON(w, status, map[string]string{"error": "replay: " + err.Error()})
			return
		}
		ingress.WriteJSON(w, http.StatusOK, map[string]int{"replayed": len(es), "pages": pages})
	}
}

// journalStatusHandler serves GET /api/journal: the store, its size on
// disk, and the deliveries that went out live without being journaled.
func journalStatusHandler(x *router.Journaled) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		ingress.WriteJSON(w, http.StatusOK, x.Status())
	}
}

// heldJournal is the journal the sinks' recovery reads, filled in once the
// journal is open and before anything is served.
type heldJournal struct{ journal.Journal }

// deferredBroker is the router's broker before the journal is open (the
// rules load first, so a broken file creates no data directory); b is set
// once, before the server accepts its first request.
type deferredBroker struct{ b broker.Broker }

func (d *deferredBroker) Publish(ctx context.Context, dl herald.Delivery) (int, error) {
	return d.b.Publish(ctx, dl)
}

// PublishOffset implements router.OffsetPublisher when the broker does.
func (d *deferredBroker) PublishOffset(ctx context.Context, dl herald.Delivery) (int, uint64, error) {
	if op, ok := d.b.(router.OffsetPublisher); ok {
		return op.PublishOffset(ctx, dl)
	}
	n, err := d.b.Publish(ctx, dl)
	return n, 0, err
}
func (d *deferredBroker) Subscribe(s broker.Subscriber)   { d.b.Subscribe(s) }
func (d *deferredBroker) Close(ctx context.Context) error { return d.b.Close(ctx) }
