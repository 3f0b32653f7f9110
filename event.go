package herald

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Event is what an ingress makes of one incoming request: a follow from
// Twitch, a Ko-fi donation, a hit on the trigger URL. It is built once by the
// ingress and never mutated after Publish.
type Event struct {
	// ID is unique per event. Ingresses set it (a platform's own message id
	// when there is one, which makes retries recognisable); the router fills
	// it with NewID when it is empty.
	ID string
	// Source is the ingress instance name, e.g. "trigger", "twitch", "kofi".
	Source string
	// Type is the event type as the source names it: "FOLLOW" for the
	// trigger URL, "channel.follow" for Twitch, "Donation" for Ko-fi.
	Type string
	// Code is the target code when the source names one (the trigger URL's
	// code parameter); empty otherwise.
	Code string
	// Data is the event's payload as decoded JSON values (string, float64,
	// bool, nil, []any, map[string]any).
	Data map[string]any
	// Headers holds transport metadata: canonical header names, first value.
	Headers map[string]string
	// Received is when the ingress accepted the request.
	Received time.Time
}

// Delivery is one message for one room: what the router hands to egress
// after the rules have been applied to an Event.
type Delivery struct {
	// EventID is the ID of the Event this delivery came from. Pages receive
	// it, so one event fanned out to several rooms shares one id.
	EventID string `json:"event_id"`
	// Source is the Event's Source, passed through for the page's metadata.
	Source string `json:"source"`
	// Room is the code of the pages to reach.
	Room string `json:"room"`
	// Name is the Socket.IO event name the pages receive, e.g. "FOLLOW".
	Name string `json:"name"`
	// Payload is the event's data object, the first emit argument.
	Payload map[string]any `json:"payload"`
	// Time is the Event's Received time.
	Time time.Time `json:"time"`
	// Rule names the rule that produced the delivery ("" for a default route).
	Rule string `json:"rule,omitempty"`
	// Offset is the delivery's place in its room's journal, 0 when it was
	// not journaled. Pages receive it (with the journal's epoch) as the last
	// argument of the event, which is what Socket.IO recovery sends back.
	Offset uint64 `json:"offset,omitempty"`
	// Replayed is set on a delivery sent again from the journal (pending
	// delivery to a page that came late, or an admin replay); pages see it
	// in meta as replayed: true.
	Replayed bool `json:"replayed,omitempty"`
	// Late is set by a cluster node's broker on a journaled delivery that
	// reaches the node after later ones of its room went out (it fills a
	// hole: the node served its pages alone while Redis was away, or
	// missed it on the channel). Pages get it as a replay, without a
	// position, so their recovery position does not move back; egress
	// still knows its Offset, so a page that got it another way (a
	// pending alert claimed late) does not get it twice. It is never
	// journaled or sent between nodes.
	Late bool `json:"-"`
	// LiveTo lists the private session ids (Socket.IO pids) of pages that
	// received this delivery live before the journal took it: in cluster
	// mode, a node that lost Redis delivers to its own pages and journals
	// the delivery once Redis is back. Recovery does not send it to those
	// pages again. Pages never see it.
	LiveTo []string `json:"live_to,omitempty"`
}

// reservedNames are the event names Socket.IO keeps for its own events.
// The official client takes a packet under one of them for a broken one
// and drops its connection: the page would never show the alert, and a
// page recovering it would drop again, in a loop.
var reservedNames = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// protocolNames are the events of the page protocol that pages take for
// something other than an alert, with what a page does with one.
var protocolNames = map[string]string{
	"WELCOME": "pages take it for the server's greeting and register again",
	"ERROR":   "pages take it for a refusal of their code and log it",
}

// ErrInvalidEvent wraps a Publisher's refusal of an event no rule could
// make an alert of (it has no type, say): the sender's mistake, answered
// 400, where any other error means "retry later".
var ErrInvalidEvent = errors.New("invalid event")

// ErrNotKept wraps a Publisher's error for an event that reached no page
// and that the journal could not take (a full or failing disk): nothing
// holds it, so the sender must send it again later (503), where a 2xx
// would tell it the alert was kept for the next page.
var ErrNotKept = errors.New("no page is connected to its room and the journal cannot keep it")

// CheckName reports why name cannot be sent to pages as an event name, or
// nil when it can.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("an event name cannot be empty")
	case reservedNames[name]:
		return fmt.Errorf("%q is an event name Socket.IO keeps for itself: pages would drop their connection instead of showing the alert", name)
	case protocolNames[name] != "":
		return fmt.Errorf("%q is an event of the page protocol (%s), not an alert: name the alert otherwise", name, protocolNames[name])
	}
	return nil
}

// Meta is the second emit argument every page receives beside the payload:
// pages written for the original service read only the first argument and
// keep working, newer pages use the id to acknowledge or de-duplicate.
func (d Delivery) Meta() map[string]any {
	m := map[string]any{"id": d.EventID, "source": d.Source, "ts": d.Time.UnixMilli()}
	if d.Replayed {
		m["replayed"] = true
	}
	return m
}

// Receipt tells an ingress what became of a published event.
type Receipt struct {
	// EventID is the id the event was routed under.
	EventID string
	// Deliveries is the number of deliveries the rules produced.
	Deliveries int
	// Pages is the number of pages reached, summed over deliveries.
	Pages int
	// Dropped names the rule that dropped the event ("" if none did).
	Dropped string
	// Unrouted is true when no rule acted and no default route applied.
	Unrouted bool
}

// Publisher is the router as an ingress sees it.
type Publisher interface {
	// Publish routes ev through exactly one rule set and hands every
	// resulting delivery to egress before returning. It is safe for
	// concurrent use. Once routing has started, the sender's context no
	// longer matters: a sender that hangs up does not cut the fan-out
	// short. An error means the event, or one of its deliveries, could not
	// be handed over (the context had already ended, egress is closed,
	// herald is shutting down): the sender must be told to retry (503) and
	// must not be treated as delivered. A dropped or unrouted event, or a
	// room with no page, is not an error.
	Publish(ctx context.Context, ev Event) (Receipt, error)
}

// NewID returns a random 128-bit id in hex, for events whose source has none.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
