package auth

import (
	"encoding/json"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a token or client secret. It prints, logs and marshals as
// "[redacted]" so that no fmt verb, slog attribute or JSON answer can leak
// it; Value is the one way to read it, used only where it goes on the wire.
// The value sits behind a pointer so that even %+v of a struct holding a
// Secret in an unexported field shows an address, never the token.
type Secret struct{ v *string }

// NewSecret wraps s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Value returns the secret itself.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.Value() == o.Value() }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

var (
	_ slog.LogValuer = Secret{}
	_ json.Marshaler = Secret{}
)
