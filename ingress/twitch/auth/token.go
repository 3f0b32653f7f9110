package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// TokenFile is the name of the login file in the data directory.
const TokenFile = "twitch-token.json"

// Token is an access token and what herald knows about it.
type Token struct {
	ClientID string
	Access   Secret
	// Refresh is empty for app and static tokens.
	Refresh Secret
	Scopes  []string
	UserID  string
	Login   string
	// Expires is zero when unknown.
	Expires time.Time

	// renewedFrom are the tags (tagOf) of the logins this one was renewed
	// from, newest first: how Shared tells a cluster's copy that lost
	// renewals from a new login.
	renewedFrom []string
}

// HasScope reports whether the token carries scope.
func (t Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// file is Token as stored on disk: the only place its secrets are spelled
// out, in a file only its owner can read.
type file struct {
	ClientID     string    `json:"client_id"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Scopes       []string  `json:"scopes"`
	UserID       string    `json:"user_id,omitempty"`
	Login        string    `json:"login,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	RenewedFrom  []string  `json:"renewed_from,omitempty"`
}

// ErrNoLogin means the data directory holds no login.
var ErrNoLogin = errors.New("no Twitch login: run `herald twitch login`")

// ErrOtherClient means the login was made for another client id than the
// one herald runs with: Twitch would refuse every call with it, and only
// a new login cures it.
var ErrOtherClient = errors.New("the Twitch login belongs to another client id")

// TokenStore keeps a User login between runs: Store, a file, or Shared,
// the file and a copy every node of a cluster shares.
type TokenStore interface {
	// Load returns the login; ErrNoLogin when there is none.
	Load() (Token, error)
	Save(Token) error
	// Delete removes the login; no login is not an error.
	Delete() error
}

// Store keeps the login in DIR/twitch-token.json, mode 0600.
type Store struct{ Dir string }

// Path is the token file's path.
func (s Store) Path() string { return filepath.Join(s.Dir, TokenFile) }

// Load reads the login; ErrNoLogin when there is none.
func (s Store) Load() (Token, error) {
	b, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return Token{}, ErrNoLogin
	}
	if err != nil {
		return Token{}, fmt.Errorf("reading the Twitch login: %w", err)
	}
	t, err := decode(b)
	if err != nil {
		return Token{}, fmt.Errorf("the Twitch login in %s is damaged; run `herald twitch login` again", s.Path())
	}
	return t, nil
}

// Save writes t atomically (temporary file, then rename) with mode 0600,
// creating the directory (0700) if needed.
func (s Store) Save(t Token) error {
	b, err := encode(t)
	if err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	return s.write(b)
}

// write is Save of an encoded login.
func (s Store) write(b []byte) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, TokenFile+".*")
	if err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	if err := whileHeld(func() error { return os.Rename(tmp.Name(), s.Path()) }); err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	return nil
}

// whileHeld runs op again for a moment while it fails because another
// program has the file open: Windows refuses to replace or remove such a
// file (herald's own login poll reads it every 2 s, and a backup or sync
// tool or a virus scanner may hold it). Elsewhere op runs once.
func whileHeld(op func() error) error {
	err := op()
	for wait := 10 * time.Millisecond; err != nil && heldOpen(err) && wait <= 640*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		err = op()
	}
	return err
}

// encode is t as the login file holds it (and a cluster's copy, Shared).
func encode(t Token) ([]byte, error) {
	b, err := json.MarshalIndent(file{ClientID: t.ClientID, AccessToken: t.Access.Value(), RefreshToken: t.Refresh.Value(),
		Scopes: t.Scopes, UserID: t.UserID, Login: t.Login, ExpiresAt: t.Expires.UTC(), RenewedFrom: t.renewedFrom}, "", "  ")
	return append(b, '\n'), err
}

// decode reads what encode wrote.
func decode(b []byte) (Token, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return Token{}, err
	}
	if f.AccessToken == "" {
		return Token{}, errors.New("no access token")
	}
	return Token{ClientID: f.ClientID, Access: NewSecret(f.AccessToken), Refresh: NewSecret(f.RefreshToken),
		Scopes: f.Scopes, UserID: f.UserID, Login: f.Login, Expires: f.ExpiresAt, renewedFrom: f.RenewedFrom}, nil
}

// Delete removes the login; no login is not an error.
func (s Store) Delete() error {
	if err := whileHeld(func() error { return os.Remove(s.Path()) }); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the Twitch login: %w", err)
	}
	return nil
}
