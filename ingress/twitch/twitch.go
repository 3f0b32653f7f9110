// Package twitch receives Twitch EventSub notifications, over the webhook
// transport or the EventSub WebSocket, and publishes them as herald events.
//
// With transport: websocket (run.go) herald needs no public address: it
// dials Twitch, creates the declared subscriptions itself with the login
// from `herald twitch login` (package auth), and publishes each
// notification exactly as a webhook would. With transport: webhook and an
// app's client_secret it also keeps Twitch's webhook subscriptions for its
// callback in step with the file.
//
// Every request is checked before its body is parsed: the
// Twitch-Eventsub-Message-Signature must be the HMAC-SHA256 of message id +
// timestamp + raw body under the instance's secret, and the timestamp must
// lie within ten minutes of now. Retries (same message id) are answered 200
// and not published again. See README.md for the events produced.
package twitch

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
	"github.com/heraldhq/herald/ingress/twitch/auth"
)

func init() { ingress.Register("twitch", New) }

// Header names Twitch sends (canonical form).
const (
	hdrID        = "Twitch-Eventsub-Message-Id"
	hdrTimestamp = "Twitch-Eventsub-Message-Timestamp"
	hdrSignature = "Twitch-Eventsub-Message-Signature"
	hdrType      = "Twitch-Eventsub-Message-Type"
	hdrSubType   = "Twitch-Eventsub-Subscription-Type"
	// HdrSubscriptionID is added by herald: the subscription's id from the
	// body, so rules can tell subscriptions apart without it reaching pages.
	HdrSubscriptionID = "Twitch-Eventsub-Subscription-Id"
)

// Message types.
const (
	msgVerification = "webhook_callback_verification"
	msgNotification = "notification"
	msgRevocation   = "revocation"
)

// TypeRevocation is the event type published when Twitch revokes a
// subscription.
const TypeRevocation = "revocation"

const (
	// maxAge is Twitch's documented replay window; maxAhead tolerates clock
	// skew without accepting messages dated far in the future.
	maxAge   = 10 * time.Minute
	maxAhead = 10 * time.Minute
	// dedupeTTL outlives the whole timestamp window: an id older than that
	// is refused as stale anyway.
	dedupeTTL = maxAge + maxAhead
)

// Adapter serves one Twitch EventSub callback URL, or holds an EventSub
// WebSocket session (Run), or both keeps webhook subscriptions in step
// and serves their callback.
type Adapter struct {
	*ingress.Counters
	p ingress.Params
	// cfg is the block; a running websocket instance takes a changed one
	// over (Update), so it is read with config().
	cfg atomic.Pointer[Config]
	mac sig.HMAC
	src *auth.Source // set by Run

	// redeclared tells a running websocket instance that Update stored a
	// new block; buffered, so a change is never missed.
	redeclared chan struct{}

	// run is what RunStatus reports (status.go).
	run runState
}

var (
	_ ingress.Adapter       = (*Adapter)(nil)
	_ ingress.StatsReporter = (*Adapter)(nil)
	_ ingress.Runner        = (*Adapter)(nil)
	_ ingress.Updater       = (*Adapter)(nil)
	_ ingress.Statuser      = (*Adapter)(nil)
)

// config is the block the instance follows.
func (a *Adapter) config() *Config { return a.cfg.Load() }

// New builds an adapter from p.Options; it is the registered Factory.
func New(p ingress.Params) (ingress.Adapter, error) {
	cfg, err := DecodeConfig(p)
	if err != nil {
		return nil, err
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{Counters: p.Counters(), p: p, redeclared: make(chan struct{}, 1),
		mac: sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Prefix: "sha256=", Key: cfg.Secret}}
	a.cfg.Store(cfg)
	return a, nil
}

// ServeHTTP handles one EventSub request.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.config().Transport != Webhook {
		a.Refuse(w, a.p.Log, ingress.Errorf(http.StatusNotFound, "this instance receives Twitch over the websocket transport"))
		return
	}
	if err := a.serve(w, r); err != nil {
		a.Refuse(w, a.p.Log, err)
	}
}

// message is the part of an EventSub body herald reads.
type message struct {
	Challenge    *string         `json:"challenge"`
	Subscription json.RawMessage `json:"subscription"`
	Event        json.RawMessage `json:"event"`
}

type subscription struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) error {
	body, err := ingress.ReadPost(w, r, a.p.MaxBody)
	if err != nil {
		return err
	}
	id, ts := r.Header.Get(hdrID), r.Header.Get(hdrTimestamp)
	if id == "" && ts == "" && r.Header.Get(hdrSignature) == "" {
		return ingress.Errorf(http.StatusUnauthorized, "unsigned request: is the secret configured on the sender?")
	}
	if id == "" || ts == "" {
		return ingress.Errorf(http.StatusUnauthorized, "missing %s or %s", hdrID, hdrTimestamp)
	}
	if err := a.mac.Verify(r.Header.Get(hdrSignature), []byte(id), []byte(ts), body); err != nil {
		return sig.Refusal(err)
	}
	sent, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ingress.Errorf(http.StatusBadRequest, "malformed %s", hdrTimestamp)
	}
	if err := sig.CheckWindow(sent, a.p.Now(), maxAge, maxAhead); err != nil {
		return sig.Refusal(err)
	}
	// The type decides what the body must hold, so a message of a type
	// herald does not know is refused for that, not for its body.
	typ := r.Header.Get(hdrType)
	if err := knownType(typ); err != nil {
		return err
	}
	msg, sub, err := parse(body)
	if err != nil {
		return err
	}
	if typ == msgVerification {
		return a.verify(w, msg, sub)
	}
	return a.publish(w, r, typ, id, msg, sub)
}

// knownType refuses a message whose type herald cannot handle, naming the
// ones it can.
func knownType(typ string) error {
	switch typ {
	case msgVerification, msgNotification, msgRevocation:
		return nil
	case "":
		return ingress.Errorf(http.StatusBadRequest, "missing %s header", hdrType)
	default:
		return ingress.Errorf(http.StatusBadRequest, "unknown %s %q (known: %s, %s, %s)",
			hdrType, typ, msgNotification, msgVerification, msgRevocation)
	}
}

// parse decodes a verified body; anything but a JSON object with a
// subscription object is malformed.
func parse(body []byte) (message, subscription, error) {
	var msg message
	var sub subscription
	if err := json.Unmarshal(body, &msg); err != nil {
		return msg, sub, ingress.Errorf(http.StatusBadRequest, "malformed JSON body")
	}
	if err := json.Unmarshal(msg.Subscription, &sub); err != nil {
		return msg, sub, ingress.Errorf(http.StatusBadRequest, "missing subscription object")
	}
	return msg, sub, nil
}

// verify answers the subscription handshake with the raw challenge.
func (a *Adapter) verify(w http.ResponseWriter, msg message, sub subscription) error {
	if msg.Challenge == nil {
		return ingress.Errorf(http.StatusBadRequest, "missing challenge")
	}
	a.p.Log.Info("subscription verified", "subscription_type", sub.Type, "subscription_id", sub.ID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(*msg.Challenge))
	return nil
}

// publish turns a notification or revocation into an event, once per
// message id.
func (a *Adapter) publish(w http.ResponseWriter, r *http.Request, typ, id string, msg message, sub subscription) error {
	ev := herald.Event{ID: id, Source: a.p.Name, Headers: ingress.Headers(r.Header), Received: a.p.Now()}
	delete(ev.Headers, hdrSignature)
	ev.Headers[HdrSubscriptionID] = sub.ID
	if typ == msgRevocation {
		ev.Type = TypeRevocation
		ev.Data = object(msg.Subscription)
	} else {
		ev.Type = sub.Type
		if ev.Type == "" {
			ev.Type = r.Header.Get(hdrSubType)
		}
		ev.Data = object(msg.Event)
		if ev.Data == nil {
			return ingress.Errorf(http.StatusBadRequest, "notification without an event object")
		}
	}
	if a.p.Seen(a.mac.Key.Value(), id, a.p.Now(), dedupeTTL) {
		a.Duplicate(w, a.p.Log, id)
		return nil
	}
	if typ == msgRevocation {
		// A revoked subscription means alerts silently stop: a human must act.
		a.p.Log.Error("subscription revoked", "subscription_type", sub.Type,
			"subscription_id", sub.ID, "status", ev.Data["status"])
	}
	if !a.Publish(w, r, a.p.Log, a.p.Publish, ev) {
		a.p.Forget(a.mac.Key.Value(), id) // let Twitch's retry through
	}
	return nil
}

// object decodes a JSON object, or returns nil if raw is not one.
func object(raw json.RawMessage) map[string]any {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
