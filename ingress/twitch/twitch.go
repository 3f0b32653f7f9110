// Package twitch receives Twitch EventSub notifications over the webhook
// transport and publishes them as herald events.
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
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
	"github.com/heraldhq/herald/internal/yamlpos"
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

// Config is the instance's block in the rules file.
type Config struct {
	// Secret is the EventSub subscription's transport secret, 10 to 100
	// characters.
	Secret sig.Secret `yaml:"secret"`
}

// Adapter serves one Twitch EventSub callback URL.
type Adapter struct {
	*ingress.Counters
	p   ingress.Params
	mac sig.HMAC
}

var (
	_ ingress.Adapter       = (*Adapter)(nil)
	_ ingress.StatsReporter = (*Adapter)(nil)
)

// New builds an adapter from p.Options; it is the registered Factory.
func New(p ingress.Params) (ingress.Adapter, error) {
	var cfg Config
	if err := yamlpos.DecodeStrict(p.File, p.Options, &cfg); err != nil {
		return nil, err
	}
	if n := utf8.RuneCountInString(cfg.Secret.Value()); n < 10 || n > 100 {
		return nil, yamlpos.List{yamlpos.Errorf(secretPos(p), "ingress %q: secret must be 10 to 100 characters, got %d", p.Name, n)}
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{Counters: p.Counters(), p: p, mac: sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Prefix: "sha256=", Key: cfg.Secret}}, nil
}

// secretPos points at the secret's value, or at the block when it is missing.
func secretPos(p ingress.Params) yamlpos.Pos {
	if p.Options != nil {
		for i := 0; i+1 < len(p.Options.Content); i += 2 {
			if p.Options.Content[i].Value == "secret" {
				return yamlpos.At(p.File, p.Options.Content[i+1])
			}
		}
	}
	return yamlpos.At(p.File, p.Options)
}

// ServeHTTP handles one EventSub request.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	msg, sub, err := parse(body)
	if err != nil {
		return err
	}
	switch typ := r.Header.Get(hdrType); typ {
	case msgVerification:
		return a.verify(w, msg, sub)
	case msgNotification, msgRevocation:
		return a.publish(w, r, typ, id, msg, sub)
	default:
		return ingress.Errorf(http.StatusBadRequest, "unknown %s %q", hdrType, typ)
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
	if a.p.State != nil && a.p.State.Seen(id, a.p.Now(), dedupeTTL) {
		a.Duplicate(w, a.p.Log, id)
		return nil
	}
	if typ == msgRevocation {
		// A revoked subscription means alerts silently stop: a human must act.
		a.p.Log.Error("subscription revoked", "subscription_type", sub.Type,
			"subscription_id", sub.ID, "status", ev.Data["status"])
	}
	if !a.Publish(w, r, a.p.Log, a.p.Publish, ev) && a.p.State != nil {
		a.p.State.Forget(id) // let Twitch's retry through
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
