package eventsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// DefaultURL is Twitch's EventSub WebSocket.
const DefaultURL = "wss://eventsub.wss.twitch.tv/ws"

// Timing Twitch imposes or herald chooses.
const (
	// SubscribeWindow is how long Twitch waits, after the welcome, for the
	// first subscription before closing with 4003.
	SubscribeWindow = 10 * time.Second
	// welcomeTimeout bounds the wait for a welcome after dialling.
	welcomeTimeout = 15 * time.Second
	// defaultKeepalive applies until a welcome says otherwise.
	defaultKeepalive = 10 * time.Second
	// drainGrace is how long the old connection of a session_reconnect is
	// read after the new welcome, unless Twitch closes it first.
	drainGrace = 5 * time.Second
	// moveGrace is how long Twitch keeps the old connection of a
	// session_reconnect open for the client to reach reconnect_url (it
	// then closes it with 4004): a dial that fails within it is tried
	// again while the old connection still delivers.
	moveGrace = 30 * time.Second
	// firstRedial is the wait before the first retry of a failed
	// reconnect_url dial; each retry waits twice as long as the last, up
	// to maxRedial, so the dials go on until the grace ends.
	firstRedial = time.Second
	maxRedial   = 4 * time.Second
	// maxFrame bounds one message; notifications are a few KiB.
	maxFrame = 1 << 20
)

// Client keeps one EventSub WebSocket session alive and subscribed. Run
// it once; it is not safe to Run twice at the same time.
type Client struct {
	// URL is the eventsub_url ("" means DefaultURL).
	URL string
	// Helix creates the subscriptions for each new session.
	Helix *Helix
	// Subs are the subscriptions to create on every new session. Set it
	// before Run; once Run may be running, change it with Declare only.
	Subs []Request
	// Handle receives every notification and revocation once: messages
	// whose id Seen reports are skipped. It is called from Run's goroutine.
	Handle func(context.Context, Message)
	// Seen records a message id and reports whether it was already
	// handled (across reconnects); nil handles everything.
	Seen func(id string) bool
	// Log is the instance's logger; nil discards.
	Log *slog.Logger
	// Backoff is the wait before reconnect attempt n (0-based); nil means
	// DefaultBackoff.
	Backoff func(n int) time.Duration
	// Dialer dials the WebSocket; nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// RefusedRetry is the wait before asking again for a subscription
	// Helix refused n+1 times in a row; nil means DefaultRefusedRetry.
	RefusedRetry func(n int) time.Duration

	mu sync.Mutex   // guards st, and Subs once Run runs
	st sessionState // what Status reports; revoked and refused types
	// poke wakes Run after AskAgain or Declare; buffered, so a poke is
	// never lost.
	poke chan struct{}
	once sync.Once
}

// Declare replaces Subs, before or while Run runs: the running session
// stays open, and Run deletes from it the subscriptions no longer
// declared and creates the new ones on it at once, so the types both
// lists hold go on delivering without a gap. A type whose version or
// condition changed is deleted and then created again (never both at
// once, which would deliver its events twice). As the declaration
// changed, every declared type not enabled on the session (refused,
// revoked, failed) is asked for again, as a new session would. A
// session_reconnect keeps the session, so the list moves with it; a new
// session subscribes to the list as it is. Safe to call from any
// goroutine.
func (c *Client) Declare(subs []Request) {
	subs = slices.Clone(subs)
	c.update(func(s *sessionState) {
		c.Subs = subs
		declared := map[string]bool{}
		for _, r := range subs {
			declared[r.Type] = true
		}
		for typ, ss := range s.subs {
			if !declared[typ] {
				delete(s.subs, typ)
			} else if ss.status != ingress.SubEnabled {
				*ss = subState{status: ingress.SubPending}
			}
		}
		for _, r := range subs {
			// Enabled, but not with this version or condition: the new
			// one is still to be created.
			if ss := s.subs[r.Type]; ss != nil && s.created[reqKey(r)] == nil {
				*ss = subState{status: ingress.SubPending}
			}
		}
	})
	c.nudge()
}

// AskAgain forgets every refusal (403), and every revocation a new login
// cures (authorization_revoked), and asks Twitch for those types at once:
// on the running session, or by opening one if none is held because
// nothing was due. Call it after a new login. Safe to call from any
// goroutine, before or during Run.
func (c *Client) AskAgain() {
	c.forgetRefusals()
	c.nudge()
}

// nudge wakes Run to bring the session in line with the declaration.
func (c *Client) nudge() {
	select {
	case c.wake() <- struct{}{}:
	default: // a poke is already waiting
	}
}

func (c *Client) wake() chan struct{} {
	c.once.Do(func() { c.poke = make(chan struct{}, 1) })
	return c.poke
}

// DefaultBackoff doubles from 1 s to 2 min, each wait jittered down by
// up to half, so many herald instances do not reconnect in step.
func DefaultBackoff(n int) time.Duration {
	d := time.Second << min(n, 7)
	d = min(d, 2*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// ErrKeepalive means nothing arrived within the keepalive timeout.
var ErrKeepalive = errors.New("no EventSub message within the keepalive timeout")

// Run connects, subscribes and delivers until ctx ends (then it closes the
// connection cleanly and returns nil) or the token is refused for good.
func (c *Client) Run(ctx context.Context) error {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.RefusedRetry == nil {
		c.RefusedRetry = DefaultRefusedRetry
	}
	c.update(func(s *sessionState) { s.state = ingress.StateConnecting })
	defer c.update(func(s *sessionState) { s.state = ingress.StateStopped })
	url := c.URL
	if url == "" {
		url = DefaultURL
	}
	for attempt := 0; ; attempt++ {
		healthy, err := c.session(ctx, url)
		if ctx.Err() != nil {
			return nil
		}
		c.setError(err)
		if errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoLogin) {
			return err
		}
		if healthy {
			// A session that carried subscriptions starts the backoff
			// over; one that created none (all refused or revoked) does
			// not, so it cannot turn into a reconnect per second.
			attempt = 0
		}
		wait := c.Backoff(attempt)
		if at, ok := c.nextAsk(time.Now()); !ok || at.After(time.Now().Add(wait)) {
			// A session would ask for nothing: Twitch would close it
			// after 10 s (4003) and the next would do the same. Open
			// none until a refused subscription is due again.
			if !c.idle(ctx, at, ok) {
				return nil
			}
			continue
		}
		c.update(func(s *sessionState) { s.state = ingress.StateReconnecting })
		attrs := []any{"err", err, "retry_in", wait.Round(time.Millisecond)}
		var ce *ClosedError
		if errors.As(err, &ce) {
			attrs = append(attrs, "close_code", ce.Code, "meaning", CloseMeaning(ce.Code))
		}
		c.Log.Warn("EventSub connection lost; reconnecting", attrs...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// idle holds no session until at (forever when !ok), reporting
// ingress.StateWaiting meanwhile; it returns false when ctx ended first.
func (c *Client) idle(ctx context.Context, at time.Time, ok bool) bool {
	c.update(func(s *sessionState) { s.state = ingress.StateWaiting })
	if !ok {
		c.Log.Error("no EventSub session: Twitch revoked every declared subscription; change the rules file or restart herald")
		<-ctx.Done()
		return false
	}
	c.Log.Warn("no EventSub session until a refused subscription is due again; a new `herald twitch login` asks at once",
		"next_ask", at.Format(time.RFC3339), "in", time.Until(at).Round(time.Second))
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-c.wake():
	}
	c.update(func(s *sessionState) { s.state = ingress.StateConnecting })
	return true
}

// link is one WebSocket connection and the frames read from it.
type link struct {
	conn *websocket.Conn
	url  string
}

type frame struct {
	from *link
	msg  Message
	err  error
}

func (c *Client) dial(ctx context.Context, url string, frames chan<- frame) (*link, error) {
	d := c.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	dctx, cancel := context.WithTimeout(ctx, welcomeTimeout)
	defer cancel()
	conn, resp, err := d.DialContext(dctx, url, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dialling EventSub: %w", err)
	}
	conn.SetReadLimit(maxFrame)
	l := &link{conn: conn, url: url}
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				select {
				case frames <- frame{from: l, err: closed(err)}:
				case <-ctx.Done():
				}
				return
			}
			m, err := DecodeMessage(b)
			if err != nil {
				c.Log.Warn("EventSub message ignored", "err", err)
				continue
			}
			select {
			case frames <- frame{from: l, msg: m}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return l, nil
}

// session runs one session from dial to loss. It reports whether a
// welcome arrived and a subscription was created (so the backoff starts
// over) and why it ended.
func (c *Client) session(ctx context.Context, url string) (healthy bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frames := make(chan frame)
	cur, err := c.dial(ctx, url, frames)
	if err != nil {
		return false, err
	}
	links := []*link{cur}
	defer func() {
		for _, l := range links {
			l.conn.Close()
		}
	}()
	var next *link // the connection a session_reconnect asked for, until its welcome
	keepalive := time.NewTimer(welcomeTimeout)
	defer keepalive.Stop()
	window := defaultKeepalive
	subscribed := make(chan subscribeResult, 1)
	redialed := make(chan dialResult, 1)
	// retry fires when a refused subscription is due again.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var session string
	subscribing := false
	again := false   // AskAgain came while subscribing: ask once that ends
	dialing := false // a session_reconnect's dial is under way
	// redialAt fires when a failed dial of reconnect_url is due again;
	// waiting says it is armed.
	redialAt := time.NewTimer(time.Hour)
	redialAt.Stop()
	defer redialAt.Stop()
	waiting := false
	// The move a session_reconnect asked for: where to, since when, how
	// long the next failed dial waits before trying again, and how the
	// old connection ended meanwhile, if it did (then a failed dial is
	// final).
	var move struct {
		url    string
		asked  time.Time
		wait   time.Duration
		oldErr error
	}
	redial := func() {
		dialing = true
		go func(u string) {
			l, err := c.dial(ctx, u, frames)
			select {
			case redialed <- dialResult{l, err}:
			case <-ctx.Done():
				if l != nil {
					l.conn.Close() // the session ended meanwhile
				}
			}
		}(move.url)
	}
	follow := func(r dialResult) error {
		dialing = false
		if r.err == nil {
			next = r.link
			links = append(links, next)
			return nil
		}
		// The old connection delivers until Twitch closes it, so a move
		// that failed once is not a lost session yet: starting over would
		// drop a working connection and its subscriptions.
		if move.oldErr != nil {
			return fmt.Errorf("following session_reconnect: %w; the old connection had ended: %w", r.err, move.oldErr)
		}
		if time.Since(move.asked) >= moveGrace {
			return fmt.Errorf("following session_reconnect: %w", r.err)
		}
		c.Log.Warn("EventSub reconnect_url not reached; the current connection still delivers, trying again",
			"err", r.err, "retry_in", move.wait)
		waiting = true
		resetTimer(redialAt, move.wait)
		move.wait = min(2*move.wait, maxRedial)
		return nil
	}
	startSubscribe := func(retrying bool) {
		subscribing = true
		go func(id string) {
			n, err := c.sync(ctx, id, retrying)
			select {
			case subscribed <- subscribeResult{n, err}:
			case <-ctx.Done():
			}
		}(session)
	}
	for {
		select {
		case <-ctx.Done():
			for _, l := range links {
				closeCleanly(l.conn)
			}
			return healthy, nil
		case <-keepalive.C:
			return healthy, ErrKeepalive
		case res := <-subscribed:
			subscribing = false
			if res.err != nil {
				return healthy, res.err
			}
			if res.created > 0 {
				healthy = true
			}
			if again {
				// The answers may be to the old login: forget them too.
				again = false
				c.forgetRefusals()
				startSubscribe(true)
			} else if at := c.nextRetry(); !at.IsZero() {
				resetTimer(retry, time.Until(at))
			}
		case <-retry.C:
			if !subscribing {
				startSubscribe(true)
			}
		case <-c.wake():
			switch {
			case session == "": // not welcomed yet: the first subscribe asks for everything
			case subscribing:
				again = true
			default:
				startSubscribe(true)
			}
		case <-redialAt.C:
			waiting = false
			redial()
		case r := <-redialed:
			if err := follow(r); err != nil {
				return healthy, err
			}
		case f := <-frames:
			// The new connection reads as soon as it is dialled, so its
			// welcome can be here before the loop took the dial's result
			// (and select picks at random among ready cases): take the
			// result first, or the welcome would look like a new session.
			if dialing && !slices.Contains(links, f.from) {
				select {
				case r := <-redialed:
					if err := follow(r); err != nil {
						return healthy, err
					}
				case <-ctx.Done():
					continue
				}
			}
			if f.err != nil {
				if f.from != cur {
					continue // an old connection ending after the move
				}
				if next != nil || dialing || waiting {
					if err := c.oldEnded(f.err, next != nil, dialing); err != nil {
						return healthy, err
					}
					move.oldErr = f.err
					continue
				}
				return healthy, f.err
			}
			resetTimer(keepalive, window)
			c.update(func(s *sessionState) { s.keepalive = time.Now() })
			switch f.msg.Type {
			case TypeWelcome:
				window = keepaliveWindow(f.msg.Session.Keepalive)
				resetTimer(keepalive, window)
				if f.from == next { // the move is complete: subscriptions came along
					c.Log.Info("EventSub session moved", "session_id", f.msg.Session.ID)
					// Twitch closes the old connection itself once the new
					// one is welcomed; reading it until then loses nothing
					// that was already on its way. Close it after a grace.
					old := cur.conn
					time.AfterFunc(drainGrace, func() { closeCleanly(old) })
					cur, next = next, nil
					continue
				}
				session = f.msg.Session.ID
				c.welcomed(session)
				c.Log.Info("EventSub session started", "session_id", session, "keepalive", window)
				startSubscribe(false)
			case TypeKeepalive:
			case TypeReconnect:
				c.Log.Info("EventSub asked to reconnect; moving the session")
				move.url, move.asked, move.wait, move.oldErr = f.msg.Session.ReconnectURL, time.Now(), firstRedial, nil
				if waiting { // asked again while a retry waited: dial the new URL now
					waiting = false
					redialAt.Stop()
				}
				if !dialing {
					redial()
				}
			case TypeNotification, TypeRevocation:
				c.deliver(ctx, f.msg)
			default:
				c.Log.Debug("EventSub message of unknown type ignored", "message_type", f.msg.Type)
			}
		}
	}
}

// oldEnded judges the end (err) of the old connection of a move: nil to
// go on with the move, or why the session is over. Twitch closes the old
// connection once the new one is welcomed (connected: it is dialled,
// its welcome on its way), or with 4004 once its 30 s grace for the move
// is over. After a 4004 with no dial under way (the last one failed, the
// next waits) reconnect_url is no longer valid and the session is gone:
// a new one starts now rather than after that wait. Otherwise the move
// goes on: a dial under way may have made it, and a connection that only
// dropped leaves the session to reconnect_url until the grace ends.
func (c *Client) oldEnded(err error, connected, dialing bool) error {
	var ce *ClosedError
	graceOver := errors.As(err, &ce) && ce.Code == CloseReconnectGraceExpired
	switch {
	case connected, dialing && !graceOver:
		// With a dial under way the new connection may be welcomed
		// already, its result not yet taken: the routine end of a move.
		c.Log.Debug("EventSub closed the old connection of the move", "err", err)
		return nil
	case graceOver && !dialing:
		return fmt.Errorf("following session_reconnect: reconnect_url was not reached in time: %w", err)
	}
	attrs := []any{"err", err}
	if ce != nil {
		attrs = append(attrs, "close_code", ce.Code, "meaning", CloseMeaning(ce.Code))
	}
	c.Log.Warn("EventSub old connection ended before the move completed; still trying reconnect_url", attrs...)
	return nil
}

type subscribeResult struct {
	created int
	err     error
}

// welcomed records a new session: connected, and every subscription that
// was enabled on the old one is pending again (revoked and refused ones
// keep their state).
func (c *Client) welcomed(id string) {
	now := time.Now()
	c.update(func(s *sessionState) {
		s.state, s.session, s.since, s.keepalive = ingress.StateConnected, id, now, now
		clear(s.created)
		for _, ss := range s.subs {
			if ss.status != ingress.SubRevoked && ss.status != ingress.SubRefused {
				ss.status, ss.detail = ingress.SubPending, ""
			}
		}
	})
}

type dialResult struct {
	link *link
	err  error
}

// keepaliveWindow is how long to wait for any message: the session's
// keepalive plus a grace for the network, as Twitch only promises a
// message within the timeout.
func keepaliveWindow(seconds int) time.Duration {
	d := defaultKeepalive
	if seconds > 0 {
		d = time.Duration(seconds) * time.Second
	}
	return d + max(time.Second, d/5)
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}

func closeCleanly(conn *websocket.Conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	conn.Close()
}

func (c *Client) deliver(ctx context.Context, m Message) {
	if c.Seen != nil && c.Seen(m.ID) {
		c.Log.Debug("duplicate EventSub message ignored", "event_id", m.ID)
		return
	}
	if m.Type == TypeRevocation {
		c.update(func(s *sessionState) {
			ss := s.sub(m.SubscriptionType)
			ss.status, ss.detail = ingress.SubRevoked, fmt.Sprint(m.Subscription["status"])
			// Twitch ended it: there is nothing to delete when it is no
			// longer declared.
			for k, cs := range s.created {
				if cs.req.Type == m.SubscriptionType && (cs.id == m.SubscriptionID || cs.id == "") {
					delete(s.created, k)
				}
			}
		})
		c.Log.Error("subscription revoked; herald asks for it again when the twitch: block changes, herald restarts, or (authorization_revoked) after `herald twitch login`",
			"subscription_type", m.SubscriptionType, "subscription_id", m.SubscriptionID, "status", m.Subscription["status"])
	}
	if c.Handle != nil {
		c.Handle(ctx, m)
	}
}
