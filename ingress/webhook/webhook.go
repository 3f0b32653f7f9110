// Package webhook receives any JSON or form webhook, optionally signed,
// and publishes it as a herald event: GitHub, Patreon, Stripe-like
// senders, anything that speaks Standard Webhooks, or a plain script.
//
// The signature (an HMAC over the raw body in a header, or the Standard
// Webhooks scheme) is checked before the body is parsed. The event type,
// the dedupe id and the target code come from expr expressions over the
// request, compiled once when the rules file loads.
package webhook

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
	"github.com/heraldhq/herald/internal/yamlpos"
)

func init() {
	ingress.Register("webhook", New)
	ingress.RegisterCodeless("webhook", "code") // its events have a code only from its code: expression
}

// DefaultType is the event type when the instance sets no event expression.
const DefaultType = "webhook"

// Signature schemes.
const (
	SchemeHMAC     = "hmac"
	SchemeStandard = "standard_webhooks"
)

// Config is the instance's block in the rules file.
type Config struct {
	// Signature, when present, is required on every request.
	Signature yaml.Node `yaml:"signature"`
	// Event, ID and Code are expressions over headers, data, body and
	// query (see Env). A fixed value is a quoted string: '"pledge"'.
	Event yaml.Node `yaml:"event"`
	ID    yaml.Node `yaml:"id"`
	Code  yaml.Node `yaml:"code"`
	// DedupeWindow is how long an id is remembered (default 24h).
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}

// SignatureConfig is the signature block.
type SignatureConfig struct {
	// Scheme is "hmac" (default) or "standard_webhooks" (also spelt
	// "standard", "standard-webhooks").
	Scheme string `yaml:"scheme"`
	// Secret is the shared secret; for standard_webhooks, whsec_<base64>.
	Secret sig.Secret `yaml:"secret"`
	// Header, Algorithm, Prefix and Encoding describe an hmac signature:
	// e.g. X-Hub-Signature-256, sha256, "sha256=", hex.
	Header    string `yaml:"header"`
	Algorithm string `yaml:"algorithm"`
	Prefix    string `yaml:"prefix"`
	Encoding  string `yaml:"encoding"`
	// Tolerance is the standard_webhooks timestamp window (default 5m).
	Tolerance time.Duration `yaml:"tolerance"`
}

// verifier checks one request's signature at time now.
type verifier func(h http.Header, body []byte, now time.Time) error

// Adapter serves one generic webhook URL.
type Adapter struct {
	*ingress.Counters
	p               ingress.Params
	verify          verifier
	standard        bool
	event, id, code *program
	window          time.Duration
	secret          sig.Secret // the signature's, for DedupeKey; empty when unsigned
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
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{Counters: p.Counters(), p: p, window: cfg.DedupeWindow}
	if a.window <= 0 {
		a.window = 24 * time.Hour
	}
	var errs yamlpos.List
	var err error
	if n := present(&cfg.Signature); n != nil {
		a.verify, a.standard, err = signature(p.File, n)
		errs.Append(yamlpos.At(p.File, n), err)
		var sc SignatureConfig
		if yamlpos.DecodeStrict(p.File, n, &sc) == nil {
			a.secret = sc.Secret
		}
	}
	a.event, err = compile(p.File, "event", present(&cfg.Event))
	errs.Append(yamlpos.At(p.File, &cfg.Event), err)
	a.id, err = compile(p.File, "id", present(&cfg.ID))
	errs.Append(yamlpos.At(p.File, &cfg.ID), err)
	a.code, err = compile(p.File, "code", present(&cfg.Code))
	errs.Append(yamlpos.At(p.File, &cfg.Code), err)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// present returns n, or nil when the key was absent (a zero node).
func present(n *yaml.Node) *yaml.Node {
	if n.Kind == 0 {
		return nil
	}
	return n
}

// signature builds the verifier the signature block describes.
func signature(file string, n *yaml.Node) (verifier, bool, error) {
	var sc SignatureConfig
	if err := yamlpos.DecodeStrict(file, n, &sc); err != nil {
		return nil, false, err
	}
	at := func(key string) yamlpos.Pos { return yamlpos.ValueAt(file, n, key) }
	if sc.Secret.Value() == "" {
		return nil, false, yamlpos.Errorf(at("secret"), "signature: secret is required")
	}
	switch strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(sc.Scheme)) {
	case "standardwebhooks", "standard":
		s, err := sig.NewStandard(sc.Secret, sc.Tolerance)
		if err != nil {
			return nil, false, yamlpos.Errorf(at("secret"), "signature: %v", err)
		}
		return s.Verify, true, nil
	case "", SchemeHMAC:
	default:
		return nil, false, yamlpos.Errorf(at("scheme"), "signature: unknown scheme %q (known: %s, %s)", sc.Scheme, SchemeHMAC, SchemeStandard)
	}
	if sc.Header == "" {
		return nil, false, yamlpos.Errorf(at("header"), "signature: header is required for the hmac scheme (e.g. X-Hub-Signature-256)")
	}
	alg := sig.SHA256
	if sc.Algorithm != "" {
		var err error
		if alg, err = sig.ParseAlgorithm(sc.Algorithm); err != nil {
			return nil, false, yamlpos.Errorf(at("algorithm"), "signature: %v", err)
		}
	}
	enc := sig.Encoding(sc.Encoding)
	switch enc {
	case "":
		enc = sig.Hex
	case sig.Hex, sig.Base64:
	default:
		return nil, false, yamlpos.Errorf(at("encoding"), "signature: unknown encoding %q (known: hex, base64)", sc.Encoding)
	}
	h := sig.HMAC{Algorithm: alg, Encoding: enc, Prefix: sc.Prefix, Key: sc.Secret}
	header := sc.Header
	return func(hdr http.Header, body []byte, _ time.Time) error {
		return h.Verify(hdr.Get(header), body)
	}, false, nil
}
