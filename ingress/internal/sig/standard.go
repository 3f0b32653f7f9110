package sig

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StandardTolerance is the Standard Webhooks timestamp tolerance.
const StandardTolerance = 5 * time.Minute

// Standard verifies the Standard Webhooks scheme
// (https://www.standardwebhooks.com): headers webhook-id,
// webhook-timestamp (Unix seconds) and webhook-signature, a space-separated
// list of "v1,<base64 HMAC-SHA256>" over "id.timestamp.body". Svix sends
// the same scheme under svix-* header names, which are accepted too.
type Standard struct {
	key       []byte
	Tolerance time.Duration
}

// NewStandard decodes a "whsec_<base64>" secret (the prefix is optional,
// as in the reference libraries).
func NewStandard(secret Secret, tolerance time.Duration) (*Standard, error) {
	s := strings.TrimPrefix(secret.Value(), "whsec_")
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("secret must be whsec_ followed by base64")
	}
	if tolerance <= 0 {
		tolerance = StandardTolerance
	}
	return &Standard{key: key, Tolerance: tolerance}, nil
}

// StandardHeaders returns the message id, timestamp and signature headers,
// preferring webhook-* over svix-*.
func StandardHeaders(h http.Header) (id, ts, sigs string) {
	id, ts, sigs = h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" && ts == "" && sigs == "" {
		id, ts, sigs = h.Get("Svix-Id"), h.Get("Svix-Timestamp"), h.Get("Svix-Signature")
	}
	return id, ts, sigs
}

// Verify checks a request's Standard Webhooks headers and body at time now.
// The signature is checked before the timestamp's age so that a forger
// learns nothing about the window.
func (s *Standard) Verify(h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := StandardHeaders(h)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissing
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	want := SHA256.MAC(s.key, []byte(id), []byte("."), []byte(ts), []byte("."), body)
	if !s.match(sigs, want) {
		return ErrMismatch
	}
	return CheckWindow(time.Unix(sec, 0), now, s.Tolerance, s.Tolerance)
}

func (s *Standard) match(sigs string, want []byte) bool {
	ok := false
	for _, one := range strings.Fields(sigs) {
		version, enc, found := strings.Cut(one, ",")
		if !found || version != "v1" {
			continue // v1a (asymmetric) and future versions are not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		// No early return: check every entry so timing does not reveal which matched.
		if hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

// Sign returns a webhook-signature value for id, ts and body; tests and
// the examples use it to produce requests a real sender would.
func (s *Standard) Sign(id string, ts int64, body []byte) string {
	mac := SHA256.MAC(s.key, []byte(id), []byte("."), []byte(strconv.FormatInt(ts, 10)), []byte("."), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac)
}
