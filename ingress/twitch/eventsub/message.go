package eventsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message types on the EventSub WebSocket.
const (
	TypeWelcome      = "session_welcome"
	TypeKeepalive    = "session_keepalive"
	TypeNotification = "notification"
	TypeReconnect    = "session_reconnect"
	TypeRevocation   = "revocation"
)

// Message is one decoded WebSocket message.
type Message struct {
	ID        string
	Type      string
	Timestamp time.Time
	// SubscriptionType and SubscriptionVersion are set on notifications
	// and revocations.
	SubscriptionType    string
	SubscriptionVersion string
	// Session is set on session_welcome and session_reconnect.
	Session *Session
	// Subscription is the payload's subscription object (notification,
	// revocation), kept whole: a revocation publishes it as the event data.
	Subscription map[string]any
	// SubscriptionID is Subscription["id"].
	SubscriptionID string
	// Event is the notification's event object.
	Event map[string]any
}

// Session is the session object of a welcome or reconnect message.
type Session struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Keepalive int    `json:"keepalive_timeout_seconds"`
	// ReconnectURL is set on session_reconnect.
	ReconnectURL string `json:"reconnect_url"`
}

// wire is the envelope as Twitch sends it.
type wire struct {
	Metadata struct {
		MessageID           string `json:"message_id"`
		MessageType         string `json:"message_type"`
		MessageTimestamp    string `json:"message_timestamp"`
		SubscriptionType    string `json:"subscription_type"`
		SubscriptionVersion string `json:"subscription_version"`
	} `json:"metadata"`
	Payload struct {
		Session      *Session        `json:"session"`
		Subscription json.RawMessage `json:"subscription"`
		Event        json.RawMessage `json:"event"`
	} `json:"payload"`
}

// ErrMalformed wraps every reason DecodeMessage refuses a message.
var ErrMalformed = errors.New("malformed EventSub message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// DecodeMessage parses one text frame. It checks what herald relies on:
// every message has an id and a type; a welcome has a session id; a
// reconnect has a reconnect URL; a notification has a subscription and an
// event object; a revocation has a subscription. Unknown message types
// decode (with only the metadata) so a new Twitch message is logged, not
// fatal.
func DecodeMessage(b []byte) (Message, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Message{}, malformed("%v", err)
	}
	md := w.Metadata
	m := Message{ID: md.MessageID, Type: md.MessageType, SubscriptionType: md.SubscriptionType, SubscriptionVersion: md.SubscriptionVersion}
	if m.ID == "" || m.Type == "" {
		return Message{}, malformed("missing message_id or message_type")
	}
	if md.MessageTimestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, md.MessageTimestamp)
		if err != nil {
			return Message{}, malformed("bad message_timestamp %q", md.MessageTimestamp)
		}
		m.Timestamp = ts
	}
	switch m.Type {
	case TypeWelcome, TypeReconnect:
		s := w.Payload.Session
		if s == nil || s.ID == "" {
			return Message{}, malformed("%s without a session id", m.Type)
		}
		if m.Type == TypeReconnect && s.ReconnectURL == "" {
			return Message{}, malformed("session_reconnect without a reconnect_url")
		}
		if s.Keepalive < 0 {
			return Message{}, malformed("negative keepalive_timeout_seconds")
		}
		m.Session = s
	case TypeNotification, TypeRevocation:
		if err := json.Unmarshal(w.Payload.Subscription, &m.Subscription); err != nil || m.Subscription == nil {
			return Message{}, malformed("%s without a subscription object", m.Type)
		}
		m.SubscriptionID, _ = m.Subscription["id"].(string)
		if t, ok := m.Subscription["type"].(string); ok && t != "" {
			m.SubscriptionType = t
		}
		if v, ok := m.Subscription["version"].(string); ok && m.SubscriptionVersion == "" {
			m.SubscriptionVersion = v
		}
		if m.SubscriptionType == "" {
			return Message{}, malformed("%s without a subscription type", m.Type)
		}
		if m.Type == TypeNotification {
			if err := json.Unmarshal(w.Payload.Event, &m.Event); err != nil || m.Event == nil {
				return Message{}, malformed("notification without an event object")
			}
		}
	}
	return m, nil
}
