package twitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// Run implements ingress.Runner: for the websocket transport it holds the
// EventSub session until ctx ends; for a managed webhook it makes Twitch's
// subscriptions match the file once, then returns. An unmanaged webhook
// (subscriptions created by hand) returns at once.
func (a *Adapter) Run(ctx context.Context) error {
	if !a.cfg.Managed() {
		return nil
	}
	tok, err := a.validate(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	if a.cfg.Transport == WebSocket {
		return a.runWebSocket(ctx, tok)
	}
	return a.syncWebhooks(ctx)
}

// Source returns the token source the declaration calls for: the login in
// the data directory, a static access_token, or an app token.
func (a *Adapter) source() *auth.Source {
	return NewSource(a.cfg, a.p.DataDir, nil)
}

// NewSource builds the token source a declaration calls for.
func NewSource(cfg *Config, dataDir string, hc *http.Client) *auth.Source {
	c := &auth.Client{BaseURL: cfg.AuthURL, ClientID: cfg.ClientID, HTTP: hc}
	switch {
	case cfg.AccessToken.Value() != "":
		return &auth.Source{Client: c, Kind: auth.Static, Static: auth.NewSecret(cfg.AccessToken.Value())}
	case cfg.Transport == Webhook:
		return &auth.Source{Client: c, Kind: auth.App, ClientSecret: auth.NewSecret(cfg.ClientSecret.Value())}
	default:
		return &auth.Source{Client: c, Kind: auth.User, Store: auth.Store{Dir: dataDirOr(dataDir)}}
	}
}

func dataDirOr(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// validate checks the token at start, retrying while Twitch cannot be
// reached; a refused or missing login is returned at once, clearly.
func (a *Adapter) validate(ctx context.Context) (auth.Token, error) {
	a.src = a.source()
	for attempt := 0; ; attempt++ {
		tok, err := a.src.Validate(ctx)
		if err == nil {
			a.p.Log.Info("Twitch token valid", "login", tok.Login, "user_id", tok.UserID, "scopes", tok.Scopes,
				"expires", tok.Expires.Format(time.RFC3339))
			return tok, nil
		}
		if errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoLogin) || ctx.Err() != nil {
			return auth.Token{}, fmt.Errorf("twitch login: %w", err)
		}
		if a.cfg.AccessToken.Value() != "" && a.cfg.BroadcasterUserID != "" {
			// Everything validation would tell is in the file; a mock
			// server (the Twitch CLI's) has no /validate at all. Twitch
			// will still refuse a bad token, with a 401 we report.
			a.p.Log.Warn("token not validated; using access_token and broadcaster_user_id as given", "err", err)
			return a.src.Token(ctx)
		}
		wait := eventsub.DefaultBackoff(attempt)
		a.p.Log.Warn("cannot reach Twitch to check the token; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return auth.Token{}, nil
		}
	}
}

// requests resolves the declaration for the broadcaster, leaving out (and
// logging) every subscription whose scope the token lacks.
func (a *Adapter) requests(userID string, scopes []string, checkScopes bool) []eventsub.Request {
	decl := a.cfg.Declared()
	skip := map[string]bool{}
	if checkScopes {
		missing := eventsub.Missing(decl, scopes)
		a.run.setMissing(missing)
		for _, m := range missing {
			skip[m.Type] = true
			a.p.Log.Error("subscription skipped: the login lacks its scope; run `herald twitch login` again",
				"subscription_type", m.Type, "needs", m.String())
		}
	}
	var out []eventsub.Request
	for _, d := range decl {
		if !skip[d.Type] {
			out = append(out, d.Resolve(userID))
		}
	}
	return out
}

func (a *Adapter) broadcaster(tokUserID string) string {
	if a.cfg.BroadcasterUserID != "" {
		return a.cfg.BroadcasterUserID
	}
	return tokUserID
}

func (a *Adapter) helix() *eventsub.Helix {
	return &eventsub.Helix{BaseURL: a.cfg.HelixURL, ClientID: a.cfg.ClientID, Tokens: a.src}
}

func (a *Adapter) runWebSocket(ctx context.Context, tok auth.Token) error {
	// A token whose scopes Twitch did not tell (a mock's) is not judged.
	subs := a.requests(a.broadcaster(tok.UserID), tok.Scopes, tok.Scopes != nil)
	if len(subs) == 0 {
		return errors.New("no declared subscription can be created with this login; run `herald twitch login` again")
	}
	c := &eventsub.Client{URL: a.cfg.EventSubURL, Helix: a.helix(), Subs: subs, Log: a.p.Log,
		Handle: a.publishMessage, Seen: a.seen}
	a.run.setClient(c)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.keepFresh(ctx)
	return c.Run(ctx)
}

// freshEvery is how often a running instance checks its token. A session
// needs no token once subscribed, but the login must stay refreshable (a
// public client's refresh token lapses when unused) and the next
// reconnect should not wait on a refresh.
const freshEvery = 10 * time.Minute

// keepFresh renews the token ahead of its expiry while the session runs.
func (a *Adapter) keepFresh(ctx context.Context) {
	t := time.NewTicker(freshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.src.Token(ctx); err != nil && ctx.Err() == nil {
				a.p.Log.Warn("Twitch token not refreshed; the running session is unaffected", "err", err)
			}
		}
	}
}

func (a *Adapter) seen(id string) bool {
	if a.p.State == nil || !a.p.State.Seen(id, a.p.Now(), dedupeTTL) {
		return false
	}
	a.CountDuplicate()
	return true
}

// publishMessage turns a WebSocket notification or revocation into the
// event the webhook transport would have published for it.
func (a *Adapter) publishMessage(ctx context.Context, m eventsub.Message) {
	ev := herald.Event{ID: m.ID, Source: a.p.Name, Received: a.p.Now(), Headers: map[string]string{
		hdrID:                                  m.ID,
		hdrType:                                m.Type,
		hdrSubType:                             m.SubscriptionType,
		"Twitch-Eventsub-Subscription-Version": m.SubscriptionVersion,
		HdrSubscriptionID:                      m.SubscriptionID,
		"Twitch-Eventsub-Transport":            WebSocket,
	}}
	if !m.Timestamp.IsZero() {
		ev.Headers[hdrTimestamp] = m.Timestamp.Format(time.RFC3339Nano)
	}
	if m.Type == eventsub.TypeRevocation {
		ev.Type, ev.Data = TypeRevocation, m.Subscription
	} else {
		ev.Type, ev.Data = m.SubscriptionType, m.Event
	}
	if _, err := a.p.Publish.Publish(ctx, ev); err != nil {
		a.Count(false)
		a.p.Log.LogAttrs(ctx, slog.LevelWarn, "event not published", slog.String("event_id", ev.ID), slog.String("err", err.Error()))
		return
	}
	a.Count(true)
}

// syncWebhooks makes Twitch's webhook subscriptions for the callback
// match the file, retrying while Twitch cannot be reached.
func (a *Adapter) syncWebhooks(ctx context.Context) error {
	userID, scopes, haveLogin := a.cfg.BroadcasterUserID, []string(nil), false
	if login, err := (auth.Store{Dir: dataDirOr(a.p.DataDir)}).Load(); err == nil {
		haveLogin, scopes = true, login.Scopes
		if userID == "" {
			userID = login.UserID
		}
	}
	if userID == "" {
		return errors.New("managed webhook subscriptions need the broadcaster: set broadcaster_user_id, or run `herald twitch login` (which also grants the scopes)")
	}
	want := a.requests(userID, scopes, haveLogin)
	for attempt := 0; ; attempt++ {
		rep, err := eventsub.Sync(ctx, a.helix(), want, a.cfg.Callback, auth.NewSecret(a.cfg.Secret.Value()))
		if err == nil {
			a.p.Log.Info("webhook subscriptions in step", "callback", a.cfg.Callback,
				"kept", rep.Kept, "created", rep.Created, "deleted", rep.Deleted)
			for typ, err := range rep.Failed {
				a.p.Log.Error("webhook subscription not created", "subscription_type", typ, "err", err)
			}
			return nil
		}
		if errors.Is(err, auth.ErrInvalidToken) || ctx.Err() != nil {
			return err
		}
		wait := eventsub.DefaultBackoff(attempt)
		a.p.Log.Warn("webhook subscriptions not synchronised; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
