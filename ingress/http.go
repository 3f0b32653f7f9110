package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Error is a refusal with the HTTP status to answer and a short reason
// safe to show the sender (never a secret).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Reason) }

// Errorf builds an *Error.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// WriteError answers err as JSON {"error": reason} with its status: an
// *Error keeps its own, anything else is a 500 with a generic reason.
func WriteError(w http.ResponseWriter, err error) {
	var he *Error
	if !errors.As(err, &he) {
		he = &Error{Status: http.StatusInternalServerError, Reason: "internal error"}
	}
	WriteJSON(w, he.Status, map[string]string{"error": he.Reason})
}

// WriteJSON answers v as JSON with the given status, byte for byte what
// the seed's aiohttp json_response sent apart from spacing: no trailing
// newline.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client went away; nothing to do
}

// bodyTimeout bounds how long a sender may take to send a body, so a
// client trickling bytes cannot hold a connection and a goroutine forever.
const bodyTimeout = 30 * time.Second

// ReadBody reads the whole request body, refusing more than limit bytes
// with a 413 *Error. A limit <= 0 means 1 MiB.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = 1 << 20
	}
	if r.ContentLength > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", limit)
	}
	// Not every ResponseWriter supports deadlines (httptest's does not);
	// the body is still size-limited then.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, BodyError(w, err, limit)
	}
	return body, nil
}

// BodyError maps a failure to read a request body to its answer: 413
// past the size limit, 408 when the sender was too slow (the read
// deadline passed; the connection is then closed after the answer, as
// the rest of the body may still be on its way), 400 otherwise.
func BodyError(w http.ResponseWriter, err error, limit int64) *Error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return Errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		return Errorf(http.StatusRequestTimeout, "body not received in time")
	}
	return Errorf(http.StatusBadRequest, "reading body: %v", err)
}

// BearerToken returns the credentials of an "Authorization: Bearer …"
// header. The scheme is case-insensitive (RFC 6750 and RFC 9110 11.1), so
// "bearer x" is accepted too.
func BearerToken(h http.Header) (string, bool) {
	scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(tok, " "), true
}

// Headers flattens request headers to canonical name → first value, the
// shape herald.Event carries.
func Headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
