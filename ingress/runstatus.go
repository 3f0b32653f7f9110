package ingress

import "time"

// Statuser is the optional capability of a Runner that can say how its
// connection is doing, for GET /api/rules, the dashboard and /metrics.
// The router calls RunStatus on the running instance (the one whose Run
// is live, which survives reloads that leave its block alone), from any
// goroutine, about once a second per open dashboard; it must be cheap and
// must never include a secret (tokens, signing secrets).
type Statuser interface {
	RunStatus() RunStatus
}

// Connection states a RunStatus reports.
const (
	StateConnecting   = "connecting"   // dialling, or waiting for the first welcome
	StateConnected    = "connected"    // a session is up
	StateReconnecting = "reconnecting" // the session was lost; waiting to dial again
	StateStopped      = "stopped"      // Run returned; LastError says why
	// StateWaiting: no session on purpose, until something changes (a
	// login is saved, a refused subscription is due again); LastError
	// says what it waits for. Not a failure to dial, as reconnecting is.
	StateWaiting = "waiting"
)

// RunStatus is a Runner's connection as people need to see it.
type RunStatus struct {
	// State is one of the State* constants.
	State string `json:"state"`
	// Session is the remote's session id (not a secret).
	Session string `json:"session_id,omitempty"`
	// ConnectedSince is when the current session was welcomed.
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	// LastKeepalive is when the remote last showed it was alive (a
	// keepalive, or any message standing in for one).
	LastKeepalive time.Time `json:"last_keepalive,omitzero"`
	// Subscriptions are the declared subscriptions and how each fares.
	Subscriptions []SubscriptionStatus `json:"subscriptions"`
	// LastError is the latest failure, if any, and when it happened.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Subscription states.
const (
	SubPending      = "pending"       // not created yet for this session
	SubEnabled      = "enabled"       // the remote accepted it
	SubMissingScope = "missing_scope" // the login lacks the scope; not asked for
	SubRefused      = "refused"       // the remote refused it (403); retried later
	SubRevoked      = "revoked"       // the remote revoked it; not asked for again
	SubFailed       = "failed"        // creating it failed otherwise
)

// SubscriptionStatus is one declared subscription.
type SubscriptionStatus struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	// Detail says why, for anything but enabled (the scope it needs, the
	// remote's refusal).
	Detail string `json:"detail,omitempty"`
	// RetryAt is when a refused subscription is asked for again.
	RetryAt time.Time `json:"retry_at,omitzero"`
}
