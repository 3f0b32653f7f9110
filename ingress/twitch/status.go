package twitch

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/eventsub"
)

// runState is what a running websocket instance knows beyond its
// EventSub client: the subscriptions it left out for a missing scope.
type runState struct {
	mu      sync.Mutex
	client  *eventsub.Client
	missing []eventsub.MissingScope
	// loginErr is why the instance waits for a new login ("" when not).
	loginErr   string
	loginErrAt time.Time
}

func (r *runState) setClient(c *eventsub.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.client, r.loginErr = c, ""
}

// waitForLogin reports the instance as waiting for `herald twitch login`,
// with why.
func (r *runState) waitForLogin(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.client, r.loginErr, r.loginErrAt = nil, err.Error(), time.Now()
}

func (r *runState) setMissing(m []eventsub.MissingScope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missing = m
}

// RunStatus implements ingress.Statuser for the websocket transport: the
// EventSub session, its keepalives and every declared subscription (the
// ones left out for a missing scope included). A webhook instance reports
// nothing (its state is the requests it serves, in the traffic counters).
// No token is ever part of it.
func (a *Adapter) RunStatus() ingress.RunStatus {
	if a.config().Transport != WebSocket {
		return ingress.RunStatus{}
	}
	a.run.mu.Lock()
	c, missing, loginErr, loginErrAt := a.run.client, a.run.missing, a.run.loginErr, a.run.loginErrAt
	a.run.mu.Unlock()
	st := ingress.RunStatus{State: ingress.StateConnecting, Subscriptions: []ingress.SubscriptionStatus{}}
	if loginErr != "" {
		st.State, st.LastError, st.LastErrorAt = ingress.StateWaiting, loginErr, loginErrAt
	}
	if c != nil {
		st = c.Status()
	} else if missing == nil { // still checking the login: all declared are to come
		for _, d := range a.config().Declared() {
			st.Subscriptions = append(st.Subscriptions, ingress.SubscriptionStatus{Type: d.Type, Status: ingress.SubPending})
		}
	}
	for _, m := range missing {
		st.Subscriptions = append(st.Subscriptions, ingress.SubscriptionStatus{
			Type: m.Type, Status: ingress.SubMissingScope, Detail: m.String()})
	}
	return st
}
