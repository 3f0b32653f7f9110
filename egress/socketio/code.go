package socketio

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// logCode is a page code on its way to a log. Codes are secrets (whoever
// knows one can push alerts to a streamer's overlay), so the log shows a
// short hash: enough to tell pages apart and to match the same code across
// lines, not enough to use it.
type logCode string

// LogValue implements slog.LogValuer.
func (c logCode) LogValue() slog.Value {
	if c == "" {
		return slog.StringValue("")
	}
	sum := sha256.Sum256([]byte(c))
	return slog.StringValue("sha256:" + hex.EncodeToString(sum[:4]))
}
