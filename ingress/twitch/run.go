package twitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// Run implements ingress.Runner: for the websocket transport it holds the
// EventSub session until ctx ends; for a managed webhook it makes Twitch's
// subscriptions match the file, and again after a new `herald twitch
// login`, until ctx ends. An unmanaged webhook (subscriptions created by
// hand) returns at once.
func (a *Adapter) Run(ctx context.Context) error {
	cfg := a.config()
	if !cfg.Managed() {
		return nil
	}
	if cfg.Transport == WebSocket {
		return a.runWebSocket(ctx)
	}
	if _, err := a.validate(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	return a.keepWebhooksInStep(ctx)
}

// Update implements ingress.Updater. A websocket instance takes over a
// changed block that its session can follow as it is: other
// subscriptions (types, versions, conditions, scopes), another
// broadcaster_user_id (which changes only their conditions: the session
// and the login stay those of the same user), a path (the instance
// serves none) or an option only the webhook transport reads. The
// session then creates the new subscriptions and deletes the removed
// ones without closing, so the types that did not change deliver without
// a gap (eventsub.Client.Declare). What the session or its token depends
// on needs a new instance, as before: another transport, client_id (the
// login and the session are the application's), access_token (another
// token, perhaps another user's, which only the start validates) or
// endpoint URL (another server). So does any change to a webhook
// instance, whose Run is one synchronisation with the file (it serves
// its path from the new snapshot either way).
func (a *Adapter) Update(next ingress.Runner) bool {
	n, ok := next.(*Adapter)
	if !ok {
		return false
	}
	cur, cfg := a.config(), n.config()
	if cur.Transport != WebSocket || !cur.sameSession(cfg) {
		return false
	}
	a.cfg.Store(cfg)
	select {
	case a.redeclared <- struct{}{}:
	default: // a change is already waiting to be read, which reads this one
	}
	return true
}

// sameSession reports whether a session held for c can serve d: the
// same transport, application, token and servers.
func (c *Config) sameSession(d *Config) bool {
	return c.Transport == d.Transport && c.ClientID == d.ClientID && c.AccessToken.Value() == d.AccessToken.Value() &&
		c.EventSubURL == d.EventSubURL && c.HelixURL == d.HelixURL && c.AuthURL == d.AuthURL
}

// Source returns the token source the declaration calls for: the login in
// the data directory, a static access_token, or an app token.
func (a *Adapter) source() *auth.Source {
	return NewSource(a.config(), a.p.DataDir, a.p.State.SharedStore(), nil)
}

// loginKey names the login in a cluster's SharedStore: one per cluster,
// as there is one login file per data directory.
const loginKey = "twitch-login"

// sharedLogin is the login's place in a cluster's SharedStore.
type sharedLogin struct{ ingress.SharedStore }

func (l sharedLogin) Get(ctx context.Context) ([]byte, string, error) {
	return l.SharedStore.Get(ctx, loginKey)
}

func (l sharedLogin) Set(ctx context.Context, tag string, v []byte) error {
	return l.SharedStore.Set(ctx, loginKey, tag, v)
}

func (l sharedLogin) Swap(ctx context.Context, oldTag, tag string, v []byte) (bool, error) {
	return l.SharedStore.Swap(ctx, loginKey, oldTag, tag, v)
}

// LoginStore is where a User login is kept: the data directory's file
// alone, or with a cluster's shared store (nil on a single node) the
// cluster's copy, which every node shares, with the file as this node's
// own copy (auth.Shared).
func LoginStore(dataDir string, shared ingress.SharedStore) auth.TokenStore {
	file := auth.Store{Dir: dataDirOr(dataDir)}
	if shared == nil {
		return file
	}
	return &auth.Shared{File: &file, Remote: sharedLogin{shared}}
}

// ClusterLogin is the cluster's copy of the login alone, with no file:
// for the command line, which may run anywhere.
func ClusterLogin(shared ingress.SharedStore) *auth.Shared {
	return &auth.Shared{Remote: sharedLogin{shared}}
}

// NewSource builds the token source a declaration calls for; shared is
// the cluster's store (nil on a single node).
func NewSource(cfg *Config, dataDir string, shared ingress.SharedStore, hc *http.Client) *auth.Source {
	c := &auth.Client{BaseURL: cfg.AuthURL, ClientID: cfg.ClientID, HTTP: hc}
	switch {
	case cfg.AccessToken.Value() != "":
		return &auth.Source{Client: c, Kind: auth.Static, Static: auth.NewSecret(cfg.AccessToken.Value())}
	case cfg.Transport == Webhook:
		return &auth.Source{Client: c, Kind: auth.App, ClientSecret: auth.NewSecret(cfg.ClientSecret.Value())}
	default:
		return &auth.Source{Client: c, Kind: auth.User, Store: LoginStore(dataDir, shared)}
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
		if errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoLogin) || errors.Is(err, auth.ErrOtherClient) || ctx.Err() != nil {
			return auth.Token{}, fmt.Errorf("twitch login: %w", err)
		}
		if cfg := a.config(); cfg.AccessToken.Value() != "" && cfg.BroadcasterUserID != "" {
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
	decl := a.config().Declared()
	skip := map[string]bool{}
	if checkScopes {
		missing := eventsub.Missing(decl, scopes)
		a.run.setMissing(missing)
		// Both transports read the login every loginPoll: a new login is
		// enough.
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
	if id := a.config().BroadcasterUserID; id != "" {
		return id
	}
	return tokUserID
}

func (a *Adapter) helix() *eventsub.Helix {
	cfg := a.config()
	return &eventsub.Helix{BaseURL: cfg.HelixURL, ClientID: cfg.ClientID, Tokens: a.src}
}

// loginPoll is how often the login file is read for a new `herald twitch
// login`: a streamer who just logged in should not wait, and reading a
// small file costs nothing.
const loginPoll = 2 * time.Second

// errNewLogin ends the sessions of one login when another was saved.
var errNewLogin = errors.New("a new Twitch login was saved")

// errNoUsableSubscription: the login lacks the scope of every declared type.
var errNoUsableSubscription = errors.New("no declared subscription can be created with this login; run `herald twitch login` again")

// runWebSocket holds EventSub sessions with the login, starting over with
// each new one `herald twitch login` saves. A login that is missing,
// refused or lacks every scope the file needs is waited for, not fatal: a
// streamer fixes it by logging in, and expects that to be enough.
func (a *Adapter) runWebSocket(ctx context.Context) error {
	for {
		err := a.withLogin(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errNewLogin):
			a.p.Log.Info("new Twitch login saved; starting a session with it")
			continue
		case !a.loginFixes(err):
			return err
		}
		a.run.waitForLogin(err)
		a.p.Log.Error("Twitch ingress waiting for a login: run `herald twitch login`; herald picks it up without a restart", "err", err)
		if !a.awaitLogin(ctx) {
			return nil
		}
	}
}

// loginFixes reports whether a new `herald twitch login` can cure err. A
// token given in the rules file is replaced by saving the file instead.
func (a *Adapter) loginFixes(err error) bool {
	return a.src != nil && a.src.Kind == auth.User &&
		(errors.Is(err, auth.ErrNoLogin) || errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrOtherClient) ||
			errors.Is(err, errNoUsableSubscription))
}

// awaitLogin waits until the login file holds another token than the one
// that failed, or the block changed (it may ask for less than the login
// grants); false when ctx ended first.
func (a *Adapter) awaitLogin(ctx context.Context) bool {
	t := time.NewTicker(loginPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.redeclared:
			a.p.Log.Info("Twitch subscriptions changed; trying the login again")
			return true
		case <-t.C:
			if a.src.Changed() {
				a.p.Log.Info("new Twitch login found")
				return true
			}
		}
	}
}

// withLogin holds EventSub sessions with the login as it is until ctx
// ends, the login fails, a new login needs another session (errNewLogin),
// or a changed block leaves nothing the login can create
// (errNoUsableSubscription).
func (a *Adapter) withLogin(ctx context.Context) error {
	tok, err := a.validate(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	// The block is read below: a change stored until now is in it.
	select {
	case <-a.redeclared:
	default:
	}
	subs := a.wanted(tok)
	if len(subs) == 0 {
		return errNoUsableSubscription
	}
	c := &eventsub.Client{URL: a.config().EventSubURL, Helix: a.helix(), Subs: subs, Log: a.p.Log,
		Handle: a.publishMessage, Seen: a.seen}
	a.run.setClient(c)
	// The next login's validate replaces a.src: nothing of this one may
	// still use it by then.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wg.Go(func() { a.keepFresh(ctx) })
	wg.Go(func() { a.steer(ctx, c, tok, subs, cancel) })
	err = c.Run(ctx)
	if cause := context.Cause(ctx); errors.Is(cause, errNewLogin) || errors.Is(cause, errNoUsableSubscription) {
		return cause
	}
	return err
}

// wanted is the subscriptions tok can create. A token whose scopes
// Twitch did not tell (a mock's) is not judged.
func (a *Adapter) wanted(tok auth.Token) []eventsub.Request {
	return a.requests(a.broadcaster(tok.UserID), tok.Scopes, tok.Scopes != nil)
}

// steer is the one goroutine that changes what the sessions of c ask
// for while they run, so that a changed block and a new login are never
// applied over each other: running is always what tok can create of the
// block.
//
// A changed block (Update) is resolved for tok as at the start (a type
// whose scope the login lacks is left out and logged) and handed to c,
// whose session creates and deletes subscriptions without closing
// (eventsub.Client.Declare); a block that leaves nothing tok can create
// ends the sessions (errNoUsableSubscription), as it would at the start.
//
// A new `herald twitch login` (User logins only, read every loginPoll):
// the refusals of the old login say nothing about the new one, so c asks
// again at once for the refused ones on its session. A login of the same
// user that can create other subscriptions (new scopes) hands them to the
// running session as a changed block does (no gap for the types it
// already held); another user's login (or one that can create nothing)
// ends the session, as a session is the user's.
func (a *Adapter) steer(ctx context.Context, c *eventsub.Client, tok auth.Token, running []eventsub.Request, restart context.CancelCauseFunc) {
	var poll <-chan time.Time
	if a.src.Kind == auth.User {
		t := time.NewTicker(loginPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.redeclared:
			want := a.wanted(tok)
			if len(want) == 0 {
				restart(errNoUsableSubscription)
				return
			}
			a.p.Log.Info("Twitch subscriptions changed; the running session follows without closing", "subscriptions", types(want))
			c.Declare(want)
			running = want
			continue
		case <-poll:
		}
		if !a.src.Changed() {
			continue
		}
		next, err := a.src.Validate(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.p.Log.Warn("the new Twitch login was not accepted; the running session is unaffected", "err", err)
			}
			continue
		}
		want := a.wanted(next)
		if next.UserID != tok.UserID || len(want) == 0 {
			restart(errNewLogin) // another user's session, or nothing to ask for
			return
		}
		tok = next
		if !sameRequests(want, running) {
			a.p.Log.Info("new Twitch login saved with other scopes; the running session follows without closing",
				"login", tok.Login, "subscriptions", types(want))
			c.Declare(want)
			running = want
		}
		a.p.Log.Info("new Twitch login saved; asking Twitch again for every refused subscription", "login", tok.Login)
		c.AskAgain()
	}
}

func types(reqs []eventsub.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Type
	}
	return out
}

func sameRequests(a, b []eventsub.Request) bool {
	return slices.EqualFunc(a, b, func(x, y eventsub.Request) bool {
		return x.Type == y.Type && x.Version == y.Version && maps.Equal(x.Condition, y.Condition)
	})
}

// freshEvery is how often a running instance checks its token (a local
// look at its expiry, a refresh only within auth's five minutes of it, so
// the token is renewed four to five minutes before it expires). A session
// needs no token once subscribed, but the login must stay refreshable (a
// public client's refresh token lapses when unused) and the next
// reconnect should not wait on a refresh.
const freshEvery = time.Minute

// keepFresh renews the token ahead of its expiry while the session runs,
// and says, once a minute, while a renewed login is not saved.
func (a *Adapter) keepFresh(ctx context.Context) {
	t := time.NewTicker(freshEvery)
	defer t.Stop()
	told := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.src.Token(ctx); err != nil && ctx.Err() == nil {
				a.p.Log.Warn("Twitch token not refreshed; the running session is unaffected", "err", err)
			}
			told = a.tellUnsaved(told)
		}
	}
}

// tellUnsaved logs a renewed login that is not saved yet at ERROR (a
// restart would need a new login; the login poll saves it again), and at
// INFO once it is, after told. It returns whether the failure stands.
func (a *Adapter) tellUnsaved(told bool) bool {
	err := a.src.Unsaved()
	switch {
	case err != nil:
		a.p.Log.Error("the renewed Twitch login could not be saved; herald goes on with it and tries again, but a restart before then needs `herald twitch login`", "err", err)
		return true
	case told:
		a.p.Log.Info("the renewed Twitch login is saved")
	}
	return false
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

// keepWebhooksInStep synchronises the webhook subscriptions, then again
// each time the login they were resolved for changes its user or its
// scopes (a new `herald twitch login` granting a scope the last
// synchronisation had to leave out), read every loginPoll, until ctx
// ends. A renewed token of the same login changes neither. A logout
// leaves the subscriptions as they are, until the next login.
func (a *Adapter) keepWebhooksInStep(ctx context.Context) error {
	t := time.NewTicker(loginPoll)
	defer t.Stop()
	for synced := false; ; synced = true {
		used, _ := a.webhookLogin() // an unreadable login counts as none, as at start
		if err := a.syncWebhooks(ctx, used); err != nil || ctx.Err() != nil {
			if !synced || !errors.Is(err, errNoBroadcaster) {
				return err
			}
			// Logged out after a synchronisation: the subscriptions stay
			// as they are, and the next login is followed.
			a.p.Log.Warn("webhook subscriptions left as they are; waiting for a login", "err", err)
		}
		for changed := false; !changed; {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			// A login that cannot be read now (the cluster's Redis away)
			// has not changed.
			now, err := a.webhookLogin()
			changed = err == nil && (now.UserID != used.UserID || !slices.Equal(now.Scopes, used.Scopes))
		}
		a.p.Log.Info("new Twitch login found; synchronising the webhook subscriptions again")
	}
}

// webhookLogin is what of the login a managed webhook's subscriptions
// depend on: its user and scopes (sorted); zero without a login, and an
// error when it cannot be read.
func (a *Adapter) webhookLogin() (auth.Token, error) {
	login, err := LoginStore(a.p.DataDir, a.p.State.SharedStore()).Load()
	if errors.Is(err, auth.ErrNoLogin) {
		return auth.Token{}, nil
	}
	if err != nil {
		return auth.Token{}, err
	}
	return auth.Token{UserID: login.UserID, Scopes: slices.Sorted(slices.Values(login.Scopes))}, nil
}

// syncWebhooks makes Twitch's webhook subscriptions for the callback
// match the file for login (webhookLogin), retrying while Twitch cannot
// be reached.
func (a *Adapter) syncWebhooks(ctx context.Context, login auth.Token) error {
	userID, haveLogin := a.config().BroadcasterUserID, login.UserID != ""
	if userID == "" {
		userID = login.UserID
	}
	if userID == "" {
		return errNoBroadcaster
	}
	want := a.requests(userID, login.Scopes, haveLogin)
	for attempt := 0; ; attempt++ {
		rep, err := eventsub.Sync(ctx, a.helix(), want, a.config().Callback, auth.NewSecret(a.config().Secret.Value()))
		if err == nil {
			a.p.Log.Info("webhook subscriptions in step", "callback", a.config().Callback,
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

// errNoBroadcaster: a managed webhook has neither broadcaster_user_id
// nor a login to take the broadcaster from.
var errNoBroadcaster = errors.New("managed webhook subscriptions need the broadcaster: set broadcaster_user_id, or run `herald twitch login` (which also grants the scopes)")

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
