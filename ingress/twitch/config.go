package twitch

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// Transports.
const (
	Webhook   = "webhook"
	WebSocket = "websocket"
)

// Config is the instance's block in the rules file.
type Config struct {
	// Transport is "webhook" (default) or "websocket".
	Transport string `yaml:"transport"`
	// Secret is the EventSub subscription's transport secret, 10 to 100
	// characters (webhook).
	Secret sig.Secret `yaml:"secret"`
	// ClientID is the Twitch application's client id.
	ClientID string `yaml:"client_id"`
	// ClientSecret lets herald manage webhook subscriptions with an app
	// access token.
	ClientSecret sig.Secret `yaml:"client_secret"`
	// AccessToken is a user token given directly instead of a login.
	AccessToken sig.Secret `yaml:"access_token"`
	// Callback is the public HTTPS URL Twitch calls (webhook, managed).
	Callback string `yaml:"callback"`
	// BroadcasterUserID is whose channel to follow; default: the login's
	// user.
	BroadcasterUserID string `yaml:"broadcaster_user_id"`
	// Subscriptions are the declared subscriptions.
	Subscriptions []Subscription `yaml:"subscriptions"`
	// EventSubURL, HelixURL and AuthURL replace Twitch's endpoints (tests,
	// the Twitch CLI's mock servers).
	EventSubURL string `yaml:"eventsub_url"`
	HelixURL    string `yaml:"helix_url"`
	AuthURL     string `yaml:"auth_url"`
}

// Subscription is one entry of subscriptions: a type name, or a mapping
// with type, version, condition and scope.
type Subscription struct {
	eventsub.Declared
	pos *yaml.Node
}

// UnmarshalYAML accepts "channel.follow" or {type: …, version: …}.
func (s *Subscription) UnmarshalYAML(n *yaml.Node) error {
	s.pos = n
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&s.Type)
	}
	type plain eventsub.Declared
	return n.Decode((*plain)(&s.Declared))
}

// Managed reports whether herald creates the subscriptions itself.
func (c *Config) Managed() bool {
	return c.Transport == WebSocket || len(c.Subscriptions) > 0
}

// Declared lists the subscriptions.
func (c *Config) Declared() []eventsub.Declared {
	out := make([]eventsub.Declared, len(c.Subscriptions))
	for i, s := range c.Subscriptions {
		out[i] = s.Declared
	}
	return out
}

// DecodeConfig decodes and validates an instance's block; `herald twitch`
// reads the declaration through it.
func DecodeConfig(p ingress.Params) (*Config, error) {
	var cfg Config
	if err := yamlpos.DecodeStrict(p.File, p.Options, &cfg); err != nil {
		return nil, err
	}
	var errs yamlpos.List
	at := func(key string) yamlpos.Pos { return yamlpos.ValueAt(p.File, p.Options, key) }
	switch cfg.Transport {
	case "":
		cfg.Transport = Webhook
	case Webhook, WebSocket:
	default:
		errs.Add(at("transport"), "ingress %q: transport must be webhook or websocket, got %q", p.Name, cfg.Transport)
	}
	if cfg.Transport == Webhook {
		if n := utf8.RuneCountInString(cfg.Secret.Value()); n < 10 || n > 100 {
			errs.Add(at("secret"), "ingress %q: secret must be 10 to 100 characters, got %d", p.Name, n)
		}
		if p.Path == "" {
			errs.Add(yamlpos.At(p.File, p.Options), "ingress %q: the webhook transport needs a path (or use transport: websocket)", p.Name)
		}
		if len(cfg.Subscriptions) > 0 {
			if cfg.Callback == "" {
				errs.Add(at("subscriptions"), "ingress %q: managed webhook subscriptions need callback: the public https URL of %s", p.Name, p.Path)
			}
			if cfg.ClientID == "" || cfg.ClientSecret.Value() == "" {
				errs.Add(at("subscriptions"), "ingress %q: managed webhook subscriptions need client_id and client_secret (an app access token)", p.Name)
			}
		}
	}
	if cfg.Transport == WebSocket {
		if cfg.ClientID == "" {
			errs.Add(at("client_id"), "ingress %q: the websocket transport needs client_id (your Twitch application's)", p.Name)
		}
		if len(cfg.Subscriptions) == 0 {
			errs.Add(at("subscriptions"), "ingress %q: the websocket transport needs subscriptions (e.g. [channel.follow, channel.cheer])", p.Name)
		}
	}
	if p.Warnings != nil {
		unused(p, &cfg, at)
	}
	seen := map[string]bool{}
	for _, s := range cfg.Subscriptions {
		pos := yamlpos.At(p.File, s.pos)
		if err := s.Check(); err != nil {
			errs.Add(pos, "ingress %q: %v", p.Name, err)
		}
		key := fmt.Sprint(s.Type, s.Version, s.Condition)
		if seen[key] {
			errs.Add(pos, "ingress %q: subscription %s declared twice", p.Name, s.Type)
		}
		seen[key] = true
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// unused warns about options the transport does not use: left from the
// other transport (a file moved from webhooks to the WebSocket keeps its
// secret), they read as if they did something.
func unused(p ingress.Params, cfg *Config, at func(string) yamlpos.Pos) {
	warn := func(key, why string) {
		p.Warnings.Add(at(key), "warning: ingress %q: %s is for transport: %s; %s, so it is not used", p.Name, key, otherTransport(cfg.Transport), why)
	}
	switch cfg.Transport {
	case WebSocket:
		why := "with transport: websocket herald connects to Twitch itself with the login of `herald twitch login`"
		if cfg.Secret.Value() != "" {
			warn("secret", why)
		}
		if cfg.Callback != "" {
			warn("callback", why)
		}
		if cfg.ClientSecret.Value() != "" {
			warn("client_secret", why)
		}
		if p.Path != "" {
			p.Warnings.Add(yamlpos.ValueAt(p.File, p.Options, "path"), "warning: ingress %q: path is for transport: webhook; with transport: websocket Twitch calls no URL of herald's, so nothing is served there", p.Name)
		}
	case Webhook:
		if cfg.EventSubURL != "" {
			warn("eventsub_url", "with transport: webhook Twitch calls herald's path")
		}
	}
}

func otherTransport(t string) string {
	if t == WebSocket {
		return Webhook
	}
	return WebSocket
}

// Preflight is `herald check`'s look beyond the file, at the login of an
// instance that uses one: in p.DataDir, or in the cluster's store when
// p.State has one. Every declared subscription whose scope the login
// lacks is a positioned error. No login (or one that cannot be read) is
// a warning only: the file is right, and herald started without a login
// waits for one (a WebSocket instance) or says what to do. It only reads.
func Preflight(p ingress.Params) (warning string, err error) {
	cfg, err := DecodeConfig(p)
	if err != nil {
		return "", err
	}
	if cfg.AccessToken.Value() != "" || !cfg.Managed() {
		return "", nil
	}
	dir := dataDirOr(p.DataDir)
	where, login := "in "+dir, "herald twitch login --rules "+p.File+" --data "+dir
	var tok auth.Token
	if shared := p.State.SharedStore(); shared != nil {
		where, login = "in the cluster's Redis", "herald twitch login --rules "+p.File+" --redis URL"
		tok, err = ClusterLogin(shared).Load()
	} else {
		tok, err = auth.Store{Dir: dir}.Load()
	}
	if errors.Is(err, auth.ErrNoLogin) {
		return fmt.Sprintf("no Twitch login %s yet: %s", where, login), nil
	}
	if err != nil {
		return fmt.Sprintf("the Twitch login %s cannot be read (%v): %s", where, err, login), nil
	}
	missing := map[string]eventsub.MissingScope{}
	for _, m := range eventsub.Missing(cfg.Declared(), tok.Scopes) {
		missing[m.Type] = m
	}
	var errs yamlpos.List
	for _, s := range cfg.Subscriptions {
		if m, ok := missing[s.Type]; ok {
			errs.Add(yamlpos.At(p.File, s.pos), "ingress %q: %s, which the Twitch login of %s lacks; run `herald twitch login` again", p.Name, m, tok.Login)
		}
	}
	return "", errs.Err()
}
