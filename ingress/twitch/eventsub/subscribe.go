package eventsub

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// subscribe creates every declared subscription for session id, all at
// once so that one slow answer cannot push the rest past Twitch's
// 10-second window. It returns an error only when the token is refused for
// good; other failures are logged and the subscription skipped.
func (c *Client) subscribe(ctx context.Context, session string) error {
	ctx, cancel := context.WithTimeout(ctx, SubscribeWindow)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(c.Subs))
	for i, r := range c.Subs {
		c.mu.Lock()
		skip := c.revoked[r.Type] || c.refused[r.Type]
		c.mu.Unlock()
		if skip {
			c.Log.Warn("subscription skipped (revoked or refused earlier)", "subscription_type", r.Type)
			continue
		}
		wg.Go(func() { errs[i] = c.create(ctx, r, Transport{Method: "websocket", SessionID: session}) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		r := c.Subs[i]
		switch {
		case err == nil:
			created++
		case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrNoLogin):
			return err
		case Forbidden(err):
			c.mu.Lock()
			if c.refused == nil {
				c.refused = map[string]bool{}
			}
			c.refused[r.Type] = true
			c.mu.Unlock()
			c.Log.Error("subscription refused by Twitch: the login lacks a scope or the right; run `herald twitch login` again",
				"subscription_type", r.Type, "err", err)
		default:
			c.Log.Error("subscription not created", "subscription_type", r.Type, "err", err)
		}
	}
	c.Log.Info("EventSub subscriptions created", "created", created, "declared", len(c.Subs))
	return nil
}

// create makes one subscription, retrying what Twitch says is temporary
// (429, 5xx) until ctx ends. A 409 means it already exists: done.
func (c *Client) create(ctx context.Context, r Request, tr Transport) error {
	wait := 250 * time.Millisecond
	for {
		_, err := c.Helix.Create(ctx, r, tr)
		if err == nil || Conflict(err) {
			return nil
		}
		var he *HelixError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests && he.Status < 500 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
