package socketio

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// logCode is a page code on its way to a log. Codes are secrets (whoever
// knows one can push alerts to a streamer's overlay), so the log shows a
// short keyed hash: enough to tell pages apart and to match the same code
// across the lines of one run, useless for recovering a short code by
// trying them all (the key is random per process and never leaves it).
type logCode string

// logKey keys the hash; it is written once at start-up and only read.
var logKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// LogValue implements slog.LogValuer.
func (c logCode) LogValue() slog.Value {
	if c == "" {
		return slog.StringValue("")
	}
	mac := hmac.New(sha256.New, logKey)
	mac.Write([]byte(c))
	return slog.StringValue("sha256:" + hex.EncodeToString(mac.Sum(nil)[:4]))
}
