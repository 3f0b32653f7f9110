// Package sig verifies the signatures webhook senders put on their
// requests: plain HMACs over the raw body (GitHub, Patreon, Twitch's
// id+timestamp+body variant) and the Standard Webhooks scheme. It is
// internal to ingress so only adapters use it.
//
// Every comparison is constant-time (hmac.Equal), and secrets travel as
// Secret, which never prints.
package sig

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret is a shared secret or token from the rules file. It formats and
// logs as "[redacted]", and holds its value behind a pointer so that even
// reflection-based printing of a struct that contains it (%+v of an
// adapter) shows an address, never the value. The zero Secret is empty.
type Secret struct{ v *string }

const redacted = "[redacted]"

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: &s} }

// UnmarshalYAML decodes a scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	*s = NewSecret(v)
	return nil
}

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Value returns the secret's value.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// Bytes returns the secret's value as bytes.
func (s Secret) Bytes() []byte { return []byte(s.Value()) }

// Equal reports whether token equals the secret, in constant time.
func (s Secret) Equal(token string) bool {
	return subtle.ConstantTimeCompare(s.Bytes(), []byte(token)) == 1
}

// Refusal reasons, kept short: they are sent back to the caller.
var (
	ErrMissing   = errors.New("missing signature")
	ErrMismatch  = errors.New("invalid signature")
	ErrMalformed = errors.New("malformed signature")
	ErrStale     = errors.New("timestamp outside the allowed window")
	ErrTimestamp = errors.New("malformed timestamp")
)

// Algorithm names a hash for HMACs.
type Algorithm string

// The supported algorithms. MD5 and SHA-1 are weak, but Patreon and older
// GitHub hooks sign with them; an HMAC over them is still unforgeable
// without the key.
const (
	SHA256 Algorithm = "sha256"
	SHA1   Algorithm = "sha1"
	SHA512 Algorithm = "sha512"
	MD5    Algorithm = "md5"
)

// Algorithms lists the names ParseAlgorithm accepts.
var Algorithms = []string{string(SHA256), string(SHA1), string(SHA512), string(MD5)}

// ParseAlgorithm accepts an algorithm name in any case, with or without
// dashes and an "hmac" prefix ("SHA256", "sha-256", "hmac-sha256").
func ParseAlgorithm(s string) (Algorithm, error) {
	name := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(s))
	a := Algorithm(strings.TrimPrefix(name, "hmac"))
	if a.hash() == nil {
		return "", fmt.Errorf("unknown algorithm %q (known: %s)", s, strings.Join(Algorithms, ", "))
	}
	return a, nil
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New
	case SHA1:
		return sha1.New
	case SHA512:
		return sha512.New
	case MD5:
		return md5.New
	}
	return nil
}

// MAC returns the HMAC of the concatenated parts under key.
func (a Algorithm) MAC(key []byte, parts ...[]byte) []byte {
	m := hmac.New(a.hash(), key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Encoding is how a signature header spells the MAC bytes.
type Encoding string

// The supported encodings.
const (
	Hex    Encoding = "hex"
	Base64 Encoding = "base64"
)

// Decode turns a header value (prefix already removed) into MAC bytes.
func (e Encoding) Decode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	switch e {
	case Base64:
		b, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			b, err = base64.URLEncoding.DecodeString(s)
		}
	default:
		b, err = hex.DecodeString(s)
	}
	if err != nil || len(b) == 0 {
		return nil, ErrMalformed
	}
	return b, nil
}

// HMAC checks a signature header carrying one MAC over the raw body.
type HMAC struct {
	Algorithm Algorithm
	Encoding  Encoding
	// Prefix precedes the encoded MAC, e.g. "sha256=" for GitHub.
	Prefix string
	Key    Secret
}

// Verify checks header (the signature header's value) against the MAC of
// the concatenated parts. It returns ErrMissing, ErrMalformed or
// ErrMismatch.
func (h HMAC) Verify(header string, parts ...[]byte) error {
	if header == "" {
		return ErrMissing
	}
	if h.Prefix == "" && len(header) > len(h.Algorithm)+1 && strings.EqualFold(header[:len(h.Algorithm)+1], string(h.Algorithm)+"=") {
		// No prefix configured, but the sender names the algorithm the
		// GitHub way ("sha256=…"): the name is not part of the MAC.
		header = header[len(h.Algorithm)+1:]
	} else if h.Prefix != "" {
		// The prefix names the algorithm; compare it case-insensitively
		// because some senders upper-case it.
		if len(header) < len(h.Prefix) || !strings.EqualFold(header[:len(h.Prefix)], h.Prefix) {
			return ErrMalformed
		}
		header = header[len(h.Prefix):]
	}
	got, err := h.Encoding.Decode(header)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, h.Algorithm.MAC(h.Key.Bytes(), parts...)) {
		return ErrMismatch
	}
	return nil
}

// CheckWindow refuses a timestamp more than maxAge before now or more than
// maxAhead after it (clock skew, or a forged "fresh" replay).
func CheckWindow(ts, now time.Time, maxAge, maxAhead time.Duration) error {
	if now.Sub(ts) > maxAge || ts.Sub(now) > maxAhead {
		return ErrStale
	}
	return nil
}
