package eventsub

import (
	"time"

	"github.com/heraldhq/herald/ingress"
)

// MaxRefusedRetry caps the wait before a subscription Helix refused (403)
// is asked for again: a scope granted by a new login, or a right given
// back, is picked up within it, and a lasting refusal costs one call per
// interval.
const MaxRefusedRetry = 10 * time.Minute

// DefaultRefusedRetry is the wait after the n-th refusal in a row
// (0-based): 30 s doubling, capped at MaxRefusedRetry.
func DefaultRefusedRetry(n int) time.Duration {
	return min(30*time.Second<<min(n, 5), MaxRefusedRetry)
}

// sessionState is what Status reports; Client.mu guards it.
type sessionState struct {
	state     string
	session   string
	since     time.Time
	keepalive time.Time
	lastErr   string
	lastErrAt time.Time
	subs      map[string]*subState // by type
	// created are the subscriptions created on session, by reqKey, so
	// that those Declare leaves out can be deleted from it.
	created map[string]*createdSub
}

type subState struct {
	status   string
	detail   string
	retryAt  time.Time
	refusals int // 403s in a row
}

// Status is the client's connection and each subscription's state.
func (c *Client) Status() ingress.RunStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ingress.RunStatus{State: c.st.state, Session: c.st.session, ConnectedSince: c.st.since,
		LastKeepalive: c.st.keepalive, LastError: c.st.lastErr, LastErrorAt: c.st.lastErrAt,
		Subscriptions: make([]ingress.SubscriptionStatus, 0, len(c.Subs))}
	if st.State == "" {
		st.State = ingress.StateConnecting
	}
	if st.State != ingress.StateConnected {
		st.Session, st.ConnectedSince = "", time.Time{}
	}
	for _, r := range c.Subs {
		ss := ingress.SubscriptionStatus{Type: r.Type, Status: ingress.SubPending}
		if s := c.st.subs[r.Type]; s != nil {
			ss.Status, ss.Detail = s.status, s.detail
			if s.status == ingress.SubRefused {
				ss.RetryAt = s.retryAt
			}
		}
		st.Subscriptions = append(st.Subscriptions, ss)
	}
	return st
}

// update changes the state under the lock.
func (c *Client) update(f func(*sessionState)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.subs == nil {
		c.st.subs = map[string]*subState{}
	}
	if c.st.created == nil {
		c.st.created = map[string]*createdSub{}
	}
	f(&c.st)
}

// sub returns typ's state; the lock is held.
func (s *sessionState) sub(typ string) *subState {
	ss := s.subs[typ]
	if ss == nil {
		ss = &subState{status: ingress.SubPending}
		s.subs[typ] = ss
	}
	return ss
}

func (c *Client) setError(err error) {
	if err == nil {
		return
	}
	c.update(func(s *sessionState) { s.lastErr, s.lastErrAt = err.Error(), time.Now() })
}

// nextRetry is the earliest time a refused subscription is due again
// (zero when none is refused).
func (c *Client) nextRetry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, s := range c.st.subs {
		if s.status == ingress.SubRefused && (next.IsZero() || s.retryAt.Before(next)) {
			next = s.retryAt
		}
	}
	return next
}

// nextAsk is when a new session would first have a subscription to ask
// for: now when one is pending or due, else the earliest retry of a
// refused one. ok is false when nothing will ever be asked for (every
// declared type was revoked).
func (c *Client) nextAsk(now time.Time) (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.Subs {
		s := c.st.subs[r.Type]
		switch {
		case s == nil || s.status != ingress.SubRevoked && s.status != ingress.SubRefused:
			return now, true
		case s.status == ingress.SubRefused && !s.retryAt.After(now):
			return now, true
		case s.status == ingress.SubRefused && (!ok || s.retryAt.Before(at)):
			at, ok = s.retryAt, true
		}
	}
	return at, ok
}

// forgetRefusals makes every refused subscription pending again, due now,
// and every one revoked for a reason a new login cures.
func (c *Client) forgetRefusals() {
	c.update(func(s *sessionState) {
		for _, ss := range s.subs {
			if ss.status == ingress.SubRefused || ss.status == ingress.SubRevoked && loginCures(ss.detail) {
				ss.status, ss.detail, ss.refusals, ss.retryAt = ingress.SubPending, "", 0, time.Time{}
			}
		}
	})
}

// loginCures reports whether a new login can undo a revocation of this
// status: the streamer took herald's authorization back (and gave it
// again), or the moderator whose login it was lost the role (another
// moderator's login may hold it). Twitch's other reasons (the user is
// gone, the version retired, notifications failing) need another
// declaration.
func loginCures(status string) bool {
	return status == "authorization_revoked" || status == "moderator_removed"
}
