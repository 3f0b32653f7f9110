package eventsub

import (
	"errors"
	"fmt"

	"github.com/gorilla/websocket"
)

// CloseReconnectGraceExpired is the close code of the old connection of
// a session_reconnect the client did not follow within 30 s.
const CloseReconnectGraceExpired = 4004

// closeMeanings are Twitch's documented close codes.
var closeMeanings = map[int]string{
	4000: "internal server error",
	4001: "client sent inbound traffic",
	4002: "client failed ping-pong",
	4003: "connection unused: no subscription was created within 10 seconds of the welcome",
	4004: "reconnect grace time expired",
	4005: "network timeout",
	4006: "network error",
	4007: "invalid reconnect URL",
}

// CloseMeaning explains a WebSocket close code.
func CloseMeaning(code int) string {
	if m, ok := closeMeanings[code]; ok {
		return m
	}
	switch code {
	case websocket.CloseNormalClosure:
		return "normal closure"
	case websocket.CloseGoingAway:
		return "going away"
	case websocket.CloseAbnormalClosure:
		return "connection dropped without a close frame"
	}
	return "unknown close code"
}

// ClosedError is a connection Twitch closed with a close frame.
type ClosedError struct {
	Code int
	Text string
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("EventSub closed the connection: %d %s", e.Code, CloseMeaning(e.Code))
}

// closed turns gorilla's close error into a ClosedError.
func closed(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &ClosedError{Code: ce.Code, Text: ce.Text}
	}
	return err
}
