package admin

import (
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/router"
)

// record is one event in the dashboard's history: the observation as the
// router made it, rendered only when a dashboard asks.
type record struct {
	seq  uint64
	obs  router.Observation
	acks []int // per delivery; nil until the first ack
}

// Observe implements router.Observer: one copy into the ring (large
// payloads cut, see bounded), offered to the open dashboards without
// waiting.
func (d *Dashboard) Observe(o router.Observation) {
	d.feed.Add(record{seq: d.seq.Add(1), obs: bounded(o)})
}

// Acked records that a page acknowledged (showed) the journaled delivery
// at offset in room: the recovery keeper calls it for every ack a page
// sends (acks name the journal offset), and the dashboard shows the count
// beside the delivery.
func (d *Dashboard) Acked(room string, offset uint64) {
	match := func(r *record) bool {
		for _, dl := range r.obs.Result.Deliveries {
			if dl.Offset == offset && dl.Room == room {
				return true
			}
		}
		return false
	}
	d.feed.Update(match, func(r *record) {
		for i, dl := range r.obs.Result.Deliveries {
			if dl.Offset == offset && dl.Room == room {
				if r.acks == nil {
					r.acks = make([]int, len(r.obs.Result.Deliveries))
				}
				r.acks[i]++
				return
			}
		}
	})
}

// eventView is a record as the page receives it.
type eventView struct {
	Seq        uint64         `json:"seq"`
	ID         string         `json:"id"`
	Time       time.Time      `json:"time"`
	Source     string         `json:"source"`
	Type       string         `json:"type"`
	Code       string         `json:"code,omitempty"`
	Outcome    string         `json:"outcome"` // "rule", "default", "dropped" or "unrouted"
	Rules      []string       `json:"rules"`
	Deliveries []deliveryView `json:"deliveries"`
	Errors     []string       `json:"errors,omitempty"`
	Generation uint64         `json:"generation"`
	LatencyMS  float64        `json:"latency_ms"`
	Arrived    arrivedView    `json:"arrived"`
}

type deliveryView struct {
	Room    string         `json:"room"`
	Name    string         `json:"name"`
	Rule    string         `json:"rule,omitempty"`
	Pages   int            `json:"pages"`
	Acks    int            `json:"acks"`
	Offset  uint64         `json:"offset,omitempty"`
	Payload map[string]any `json:"payload"`
}

// arrivedView is the event as the ingress made it, secrets and personal
// fields removed.
type arrivedView struct {
	Data    map[string]any    `json:"data"`
	Headers map[string]string `json:"headers"`
}

func (r record) view() eventView {
	ev, res := r.obs.Event, r.obs.Result
	v := eventView{
		Seq: r.seq, ID: ev.ID, Time: ev.Received, Source: ev.Source, Type: ev.Type, Code: ev.Code,
		Rules: append([]string{}, res.Matched...), Deliveries: []deliveryView{}, Generation: r.obs.Generation,
		Arrived: arrivedView{Data: cleanMap(ev.Data), Headers: cleanHeaders(ev.Headers)},
	}
	switch {
	case res.Dropped:
		v.Outcome = "dropped"
	case res.Unrouted:
		v.Outcome = "unrouted"
	case len(res.Matched) == 0:
		v.Outcome = "default"
	default:
		v.Outcome = "rule"
	}
	for i, dl := range res.Deliveries {
		dv := deliveryView{Room: dl.Room, Name: dl.Name, Rule: dl.Rule, Pages: r.obs.Pages.At(i),
			Offset: dl.Offset, Payload: cleanMap(dl.Payload)}
		if i < len(r.acks) {
			dv.Acks = r.acks[i]
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	for _, e := range res.Errors {
		v.Errors = append(v.Errors, e.Error())
	}
	if !r.obs.Done.IsZero() && !ev.Received.IsZero() {
		v.LatencyMS = float64(r.obs.Done.Sub(ev.Received).Microseconds()) / 1000
	}
	return v
}

// secretWords mark data fields never shown: credentials an ingress may
// have left in (a trigger's ?token=) and personal data (Ko-fi drops these
// already; a generic webhook may not). A key matches when the word is in
// it, whatever its case and separators: "Email", "e_mail", "userEmail",
// "ip_address", "access-token".
var secretWords = []string{"token", "password", "passwd", "passphrase", "secret", "apikey", "signature", "authorization",
	"email", "shipping", "phone", "address", "creditcard", "cardnumber", "iban"}

// secretParts are matched as a whole part of a key only ("ip", "user_ip",
// "ipv6", "pass", "credit_card", "X-Auth"): inside a word ("tip",
// "shipping", "compass") they mean nothing.
var secretParts = []string{"ip", "ipv4", "ipv6", "pass", "auth", "card", "cvv", "cvc"}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	joined := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == ' ' {
			return -1
		}
		return r
	}, k)
	for _, w := range secretWords {
		if strings.Contains(joined, w) {
			return true
		}
	}
	for _, part := range strings.FieldsFunc(k, func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' }) {
		if slices.Contains(secretParts, part) {
			return true
		}
	}
	return false
}

// cleanMap copies m without secret fields, at any depth.
func cleanMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if secretKey(k) {
			out[k] = "(hidden)"
			continue
		}
		out[k] = cleanValue(v)
	}
	return out
}

func cleanValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cleanMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cleanValue(e)
		}
		return out
	}
	return v
}

// secretHeaderParts mark headers never shown: credentials, signatures,
// where the sender is (IP addresses are personal data: X-Forwarded-For,
// CF-Connecting-IP, X-Envoy-External-Address, ...) and what Ko-fi's
// private supporters asked to keep private.
var secretHeaderParts = []string{"authorization", "cookie", "token", "secret", "signature", "api-key",
	"forwarded", "real-ip", "client-ip", "connecting-ip", "external-address", "private"}

// secretHeader reports whether header k is never shown: it holds one of
// secretHeaderParts, or an "ip" of its own ("X-Ip", "Fastly-Client-IP").
func secretHeader(k string) bool {
	lk := strings.ToLower(k)
	for _, p := range secretHeaderParts {
		if strings.Contains(lk, p) {
			return true
		}
	}
	return slices.ContainsFunc(strings.Split(lk, "-"), func(part string) bool { return slices.Contains(secretParts, part) })
}

func cleanHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if secretHeader(k) {
			v = "(hidden)"
		}
		out[k] = v
	}
	return out
}
