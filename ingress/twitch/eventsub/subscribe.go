package eventsub

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// subscribe creates the declared subscriptions for session id, all at
// once so that one slow answer cannot push the rest past Twitch's
// 10-second window, and reports how many it created. Revoked types are
// left out, and so are refused ones (403) until their retry is due;
// retrying asks only for those and for pending ones (refusals AskAgain
// forgot). It returns an error only when the token
// is refused for good; other failures are logged and recorded.
func (c *Client) subscribe(ctx context.Context, session string, retrying bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, SubscribeWindow)
	defer cancel()
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(c.Subs))
	asked := make([]bool, len(c.Subs))
	for i, r := range c.Subs {
		c.mu.Lock()
		st := c.st.sub(r.Type)
		status, due := st.status, !st.retryAt.After(now)
		c.mu.Unlock()
		switch {
		case status == ingress.SubRevoked:
			if !retrying {
				c.Log.Warn("subscription skipped: Twitch revoked it", "subscription_type", r.Type)
			}
			continue
		case status == ingress.SubRefused && !due:
			continue
		case retrying && status != ingress.SubRefused && status != ingress.SubPending:
			continue // enabled on this session, or failed for another reason
		}
		asked[i] = true
		wg.Go(func() { errs[i] = c.create(ctx, r, Transport{Method: "websocket", SessionID: session}) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if !asked[i] {
			continue
		}
		r := c.Subs[i]
		switch {
		case err == nil:
			created++
			c.update(func(s *sessionState) {
				st := s.sub(r.Type)
				st.status, st.detail, st.refusals, st.retryAt = ingress.SubEnabled, "", 0, time.Time{}
			})
		case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrNoLogin):
			return created, err
		case Forbidden(err):
			var wait time.Duration
			c.update(func(s *sessionState) {
				st := s.sub(r.Type)
				wait = c.RefusedRetry(st.refusals)
				st.refusals++
				st.status, st.detail, st.retryAt = ingress.SubRefused, err.Error(), time.Now().Add(wait)
			})
			c.setError(err)
			c.Log.Error("subscription refused by Twitch: the login lacks a scope or the right; run `herald twitch login` again",
				"subscription_type", r.Type, "err", err, "retry_in", wait)
		default:
			c.update(func(s *sessionState) {
				st := s.sub(r.Type)
				st.status, st.detail = ingress.SubFailed, err.Error()
			})
			c.setError(err)
			c.Log.Error("subscription not created", "subscription_type", r.Type, "err", err)
		}
	}
	if !retrying || created > 0 {
		c.Log.Info("EventSub subscriptions created", "created", created, "declared", len(c.Subs))
	}
	return created, nil
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
