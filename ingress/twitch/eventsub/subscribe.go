package eventsub

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// sync brings session in line with the declaration: it deletes what is
// no longer declared (Declare), then creates what is to be created
// (subscribe). Deleting first keeps a type whose version or condition
// changed from being subscribed twice, and from a 409 for the old one.
func (c *Client) sync(ctx context.Context, session string, retrying bool) (int, error) {
	if err := c.unsubscribe(ctx, session); err != nil {
		return 0, err
	}
	return c.subscribe(ctx, session, retrying)
}

// subscribe creates the declared subscriptions for session id, all at
// once so that one slow answer cannot push the rest past Twitch's
// 10-second window, and reports how many it created. Revoked types are
// left out, and so are refused ones (403) until their retry is due;
// retrying asks only for those and for pending ones (refusals AskAgain
// forgot, types Declare added). It returns an error only when the token
// is refused for good; other failures are logged and recorded, and the
// session goes on with what it has.
func (c *Client) subscribe(ctx context.Context, session string, retrying bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, SubscribeWindow)
	defer cancel()
	now := time.Now()
	subs := c.declared()
	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	ids := make([]string, len(subs))
	asked := make([]bool, len(subs))
	for i, r := range subs {
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
		wg.Go(func() { ids[i], errs[i] = c.create(ctx, r, Transport{Method: "websocket", SessionID: session}) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if !asked[i] {
			continue
		}
		r := subs[i]
		switch {
		case err == nil:
			created++
			c.update(func(s *sessionState) {
				if s.session == session {
					s.created[reqKey(r)] = &createdSub{req: r, id: ids[i]}
				}
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
		c.Log.Info("EventSub subscriptions created", "created", created, "declared", len(subs))
	}
	return created, nil
}

// unsubscribe deletes from session the subscriptions created on it that
// are no longer declared. One whose id is not known (Helix answered 409:
// it already existed) is found in Helix's list. A failure is logged and
// recorded, and the subscription tried again at the next change; the
// session goes on. It returns an error only when the token is refused
// for good.
func (c *Client) unsubscribe(ctx context.Context, session string) error {
	c.mu.Lock()
	declared := map[string]bool{}
	for _, r := range c.Subs {
		declared[reqKey(r)] = true
	}
	var gone []*createdSub
	unknown := false
	if c.st.session == session {
		for _, k := range slices.Sorted(maps.Keys(c.st.created)) {
			if cs := c.st.created[k]; !declared[k] {
				gone = append(gone, cs)
				unknown = unknown || cs.id == ""
			}
		}
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, SubscribeWindow)
	defer cancel()
	if unknown {
		if err := c.findIDs(ctx, session, gone); err != nil {
			if errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoLogin) {
				return err
			}
			c.setError(err)
			c.Log.Error("subscriptions no longer declared not deleted: listing them failed", "err", err)
		}
	}
	deleted := 0
	for _, cs := range gone {
		if cs.id == "" {
			continue // not listed: gone already, or the list failed (logged)
		}
		err := retryTemporary(ctx, func() error { return c.Helix.Delete(ctx, cs.id) })
		var he *HelixError
		switch {
		case err == nil, errors.As(err, &he) && he.Status == http.StatusNotFound:
		case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrNoLogin):
			return err
		default:
			c.setError(err)
			c.Log.Error("subscription no longer declared not deleted; Twitch still sends its events",
				"subscription_type", cs.req.Type, "subscription_id", cs.id, "err", err)
			continue
		}
		deleted++
		c.update(func(s *sessionState) {
			if s.created[reqKey(cs.req)] == cs {
				delete(s.created, reqKey(cs.req))
			}
		})
		c.Log.Info("EventSub subscription deleted: no longer declared", "subscription_type", cs.req.Type, "subscription_id", cs.id)
	}
	return nil
}

// findIDs fills in the ids of gone from Helix's list of session's
// subscriptions; one not listed is forgotten (there is nothing to
// delete).
func (c *Client) findIDs(ctx context.Context, session string, gone []*createdSub) error {
	list, err := c.Helix.List(ctx)
	if err != nil {
		return err
	}
	for _, cs := range gone {
		if cs.id != "" {
			continue
		}
		id := ""
		for _, s := range list {
			if s.Transport.SessionID == session && match([]Request{cs.req}, s) == 0 {
				id = s.ID
				break
			}
		}
		c.update(func(s *sessionState) {
			cs.id = id
			if id == "" && s.created[reqKey(cs.req)] == cs {
				delete(s.created, reqKey(cs.req))
			}
		})
	}
	return nil
}

// create makes one subscription and returns its id, retrying what
// Twitch says is temporary (429, 5xx) until ctx ends. A 409 means it
// already exists: done, its id unknown ("").
func (c *Client) create(ctx context.Context, r Request, tr Transport) (id string, err error) {
	err = retryTemporary(ctx, func() error {
		s, err := c.Helix.Create(ctx, r, tr)
		id = s.ID
		return err
	})
	if Conflict(err) {
		return "", nil
	}
	return id, err
}

// retryTemporary calls op until it succeeds, fails for good, or ctx
// ends; a 429 or 5xx from Helix is temporary, tried again after 250 ms,
// then waits that double.
func retryTemporary(ctx context.Context, op func() error) error {
	wait := 250 * time.Millisecond
	for {
		err := op()
		var he *HelixError
		if err == nil || !errors.As(err, &he) || he.Status != http.StatusTooManyRequests && he.Status < 500 {
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

// createdSub is a subscription created on the current session.
type createdSub struct {
	req Request
	// id is "" when Helix said it existed already (409), until findIDs
	// finds it; written under Client.mu.
	id string
}

// reqKey identifies a request: its type, version and condition.
func reqKey(r Request) string {
	var b strings.Builder
	b.WriteString(r.Type + "\x00" + r.Version)
	for _, k := range slices.Sorted(maps.Keys(r.Condition)) {
		b.WriteString("\x00" + k + "=" + r.Condition[k])
	}
	return b.String()
}

// declared is the declaration as it is now.
func (c *Client) declared() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Subs
}
