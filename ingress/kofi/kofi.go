// Package kofi receives Ko-fi webhooks (donations, subscriptions,
// commissions, shop orders) and publishes them as herald events.
//
// Ko-fi POSTs a form whose data field holds a JSON object; the object's
// verification_token must equal the instance's token. The object's type
// becomes the event type and its fields the event data, minus what must not
// reach a public overlay: the token always, a private supporter's name and
// message (kept in headers for rules that opt in), and personal data
// (email, shipping) unless the instance sets forward_personal_data.
package kofi

import (
	"encoding/json"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
	"github.com/heraldhq/herald/internal/yamlpos"
)

func init() { ingress.Register("kofi", New) }

// Headers herald sets on events from private supporters, holding what was
// removed from Data. Rules can read headers; pages never receive them.
const (
	HdrPrivateFromName = "Kofi-Private-From-Name"
	HdrPrivateMessage  = "Kofi-Private-Message"
)

// Anonymous replaces a private supporter's from_name.
const Anonymous = "Anonymous"

// dedupeTTL covers Ko-fi's retries of one message.
const dedupeTTL = 24 * time.Hour

// personal lists the fields that identify a supporter beyond their chosen
// display name.
var personal = []string{"email", "shipping"}

// Config is the instance's block in the rules file.
type Config struct {
	// VerificationToken is the token shown on Ko-fi's webhook settings page.
	VerificationToken sig.Secret `yaml:"verification_token"`
	// ForwardPersonalData keeps email and shipping in the event data. Off by
	// default: anything in data reaches the pages of the routed code.
	ForwardPersonalData bool `yaml:"forward_personal_data"`
}

// Adapter serves one Ko-fi webhook URL.
type Adapter struct {
	*ingress.Counters
	p   ingress.Params
	cfg Config
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
	if cfg.VerificationToken.Value() == "" {
		return nil, yamlpos.List{yamlpos.Errorf(yamlpos.ValueAt(p.File, p.Options, "verification_token"),
			"ingress %q: verification_token is required (Ko-fi shows it under Settings → API → Webhooks)", p.Name)}
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{Counters: p.Counters(), p: p, cfg: cfg}, nil
}

// ServeHTTP handles one Ko-fi request.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		a.Refuse(w, a.p.Log, err)
	}
}

func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) error {
	body, err := ingress.ReadPost(w, r, a.p.MaxBody)
	if err != nil {
		return err
	}
	data, err := Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	token, _ := data["verification_token"].(string)
	switch {
	case token == "":
		return ingress.Errorf(http.StatusUnauthorized, "missing verification_token")
	case !a.cfg.VerificationToken.Equal(token):
		return ingress.Errorf(http.StatusForbidden, "invalid verification_token")
	}
	ev, err := a.event(r, data)
	if err != nil {
		return err
	}
	secret := a.cfg.VerificationToken.Value()
	if ev.ID != "" && a.p.Seen(secret, ev.ID, a.p.Now(), dedupeTTL) {
		a.Duplicate(w, a.p.Log, ev.ID)
		return nil
	}
	if !a.Publish(w, r, a.p.Log, a.p.Publish, ev) && ev.ID != "" {
		a.p.Forget(secret, ev.ID)
	}
	return nil
}

// Parse extracts Ko-fi's JSON object from a request body: the data field
// of a form, as Ko-fi sends it, or the object itself when the content type
// is JSON (handy with curl).
func Parse(contentType string, body []byte) (map[string]any, error) {
	raw := body
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "", "application/x-www-form-urlencoded", "application/json":
	default:
		return nil, ingress.Errorf(http.StatusUnsupportedMediaType,
			"Ko-fi sends a form (application/x-www-form-urlencoded) with a data field; send its JSON as application/json, not %s", mt)
	}
	if mt != "application/json" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, ingress.Errorf(http.StatusBadRequest, "malformed form body")
		}
		if !form.Has("data") {
			return nil, ingress.Errorf(http.StatusBadRequest, "missing data field")
		}
		raw = []byte(form.Get("data"))
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil || data == nil {
		return nil, ingress.Errorf(http.StatusBadRequest, "data is not a JSON object")
	}
	return data, nil
}

// event builds the event from a verified object, removing the token and
// what the instance must not forward.
func (a *Adapter) event(r *http.Request, data map[string]any) (herald.Event, error) {
	typ, _ := data["type"].(string)
	if typ == "" {
		return herald.Event{}, ingress.Errorf(http.StatusBadRequest, "missing type")
	}
	id := messageID(data["message_id"])
	headers := ingress.Headers(r.Header)
	for k := range headers {
		if strings.HasPrefix(k, "Kofi-Private-") { // only herald may set these
			delete(headers, k)
		}
	}
	delete(data, "verification_token")
	if !a.cfg.ForwardPersonalData {
		// Whatever its case: JSON keys are case-sensitive, and a payload
		// that spelled one differently must not carry it to the pages.
		for k := range data {
			if slices.Contains(personal, strings.ToLower(k)) {
				delete(data, k)
			}
		}
	}
	if private(data["is_public"]) {
		if name, ok := data["from_name"].(string); ok {
			headers[HdrPrivateFromName] = name
		}
		if msg, ok := data["message"].(string); ok {
			headers[HdrPrivateMessage] = msg
		}
		data["from_name"] = Anonymous
		delete(data, "message")
	}
	return herald.Event{ID: id, Source: a.p.Name, Type: typ, Data: data, Headers: headers, Received: a.p.Now()}, nil
}

// messageID is the event id Ko-fi's retries are recognised by: its
// message_id, a string. A hand-made request may send a whole number; one
// below 2^53, which JSON's float64 holds exactly and no other number
// shares, is used as written. Any other value
// gives no id (every copy is delivered) rather than one two different
// donations could share.
func messageID(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 { // every integer below 2^53 has its own float64
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}

// private reports whether is_public says the supporter asked for privacy.
// Ko-fi sends a boolean; a string is accepted for hand-made requests.
func private(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		return strings.EqualFold(v, "false")
	}
	return false
}
