package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Kind says where a Source's token comes from and how it is renewed.
type Kind int

const (
	// User is a login from `herald twitch login`, kept in a Store and
	// renewed with its refresh token.
	User Kind = iota
	// App is an app access token (client credentials), renewed by asking
	// for a new one.
	App
	// Static is a token given in the rules file; it cannot be renewed.
	Static
)

// refreshBefore renews a token this long before Twitch says it expires,
// so a request never races the expiry.
const refreshBefore = 5 * time.Minute

// Source hands out a valid access token, renewing it before expiry and
// after a 401. Safe for concurrent use; renewals are serialised.
type Source struct {
	Client *Client
	Kind   Kind
	// Store keeps a User login; renewed tokens are saved back.
	Store TokenStore
	// ClientSecret is the application's secret (App).
	ClientSecret Secret
	// Static is the token from the rules file (Static).
	Static Secret

	mu     sync.Mutex
	tok    Token
	loaded bool
	// refused is why Twitch refused to renew tok (ErrInvalidToken): the
	// same refresh token is not sent again, by every caller holding tok
	// (each pending Helix call), until another login is loaded.
	refused error
	// renewedAway are the access tokens this Source renewed away from
	// since it loaded tok's login (the newest last, a few at most). The
	// store may still hold one: read before the renewal was saved, or
	// because the save failed. That is no new login (Changed): its
	// refresh token is used up, and taking it would lose the login.
	renewedAway []Secret
	// unsaved is why tok, renewed, is not in the store yet; Changed
	// saves it again. Twitch took the old refresh token, so until it is
	// saved a restart needs a new login.
	unsaved error
}

// keepRenewedAway bounds renewedAway: a save that keeps failing for days
// still leaves the store with one of the last few.
const keepRenewedAway = 8

// Token returns the current token, loading or renewing it as needed.
func (s *Source) Token(ctx context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		if err := s.load(ctx); err != nil {
			return Token{}, err
		}
	}
	if !s.tok.Expires.IsZero() && !s.Client.now().Before(s.tok.Expires.Add(-refreshBefore)) {
		if err := s.renew(ctx); err != nil {
			return Token{}, err
		}
	}
	return s.tok, nil
}

// Renew is called after Twitch answered 401 to stale: it renews the token
// unless another caller already did, and returns the fresh one.
func (s *Source) Renew(ctx context.Context, stale Token) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded && !s.tok.Access.Equal(stale.Access) {
		return s.tok, nil
	}
	if s.loaded && s.refused != nil {
		return Token{}, s.refused
	}
	if err := s.renew(ctx); err != nil {
		if s.loaded && errors.Is(err, ErrInvalidToken) {
			s.refused = err
		}
		return Token{}, err
	}
	return s.tok, nil
}

func (s *Source) load(ctx context.Context) error {
	switch s.Kind {
	case User:
		t, err := s.Store.Load()
		if err != nil {
			return err
		}
		if t.ClientID != "" && t.ClientID != s.Client.ClientID {
			return fmt.Errorf("%w (%s, not %s); run `herald twitch login` again", ErrOtherClient, t.ClientID, s.Client.ClientID)
		}
		s.tok, s.renewedAway, s.unsaved = t, nil, nil
	case Static:
		if s.Static.IsZero() {
			return errors.New("access_token is empty")
		}
		s.tok = Token{ClientID: s.Client.ClientID, Access: s.Static}
	case App:
		t, err := s.Client.AppToken(ctx, s.ClientSecret)
		if err != nil {
			return fmt.Errorf("getting an app access token: %w", err)
		}
		s.tok = t
	}
	s.loaded, s.refused = true, nil
	return nil
}

func (s *Source) renew(ctx context.Context) error {
	switch s.Kind {
	case Static:
		return fmt.Errorf("%w; the access_token in the rules file cannot be refreshed, give a new one", ErrInvalidToken)
	case App:
		t, err := s.Client.AppToken(ctx, s.ClientSecret)
		if err != nil {
			return fmt.Errorf("renewing the app access token: %w", err)
		}
		s.tok, s.loaded = t, true
		return nil
	}
	if !s.loaded {
		if err := s.load(ctx); err != nil {
			return err
		}
	}
	if s.tok.Refresh.IsZero() {
		return fmt.Errorf("%w; run `herald twitch login` again", ErrInvalidToken)
	}
	if _, err := s.Store.Load(); errors.Is(err, ErrNoLogin) {
		// `herald twitch logout` ran meanwhile: the login is not renewed,
		// nor saved again, or the logout would be undone.
		s.tok, s.loaded, s.renewedAway, s.unsaved = Token{}, false, nil, nil
		return fmt.Errorf("logged out: %w", err)
	}
	t, err := s.Client.Refresh(ctx, s.tok.Refresh, Secret{})
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return fmt.Errorf("the Twitch login could not be refreshed (%w); run `herald twitch login` again", err)
		}
		return fmt.Errorf("refreshing the Twitch login: %w", err)
	}
	t.UserID, t.Login = s.tok.UserID, s.tok.Login
	if len(t.Scopes) == 0 {
		t.Scopes = s.tok.Scopes
	}
	if t.Refresh.IsZero() {
		t.Refresh = s.tok.Refresh
	}
	s.renewedAway = append(s.renewedAway, s.tok.Access)
	s.renewedAway = s.renewedAway[max(0, len(s.renewedAway)-keepRenewedAway):]
	s.tok, s.refused = t, nil
	// The renewal stands even when the save fails (a full disk, or on
	// Windows another program holding the file open): Twitch has taken
	// the old refresh token, so the new token is the login now. unsaved
	// keeps the failure for Changed to try again and Unsaved to report.
	s.unsaved = s.Store.Save(t)
	return nil
}

// Unsaved reports why the token in use, renewed, could not be saved to
// the store (nil once it was). herald goes on with it, and Changed saves
// it again; a restart before then needs a new login.
func (s *Source) Unsaved() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsaved
}

// Changed reports whether the Store holds another token than the one in
// use (or than none): a new `herald twitch login`, or a refresh another
// process saved. The next Token call then uses the stored one. What this
// Source saves itself is the token in use, so it never counts, nor does a
// token it renewed away from (read before its renewal was saved, or left
// by a save that failed, which Changed then makes again). Only a User
// source has a Store.
func (s *Source) Changed() bool {
	if s.Kind != User {
		return false
	}
	// Read before taking the lock: the store may be Redis (Shared), and
	// a token request must not wait on it.
	t, err := s.Store.Load()
	s.mu.Lock()
	if err != nil {
		s.mu.Unlock()
		return false // no login (a logout is not undone), or unreadable
	}
	if !s.ours(t) {
		// Loaded again (and checked) by the next Token call.
		s.tok, s.loaded, s.renewedAway, s.unsaved = t, false, nil, nil
		s.mu.Unlock()
		return true
	}
	again, tok := s.loaded && s.unsaved != nil, s.tok
	s.mu.Unlock()
	if again {
		s.saveAgain(tok)
	}
	return false
}

// ours reports whether t, read from the store, is the token in use or one
// this Source renewed away from. Callers hold s.mu.
func (s *Source) ours(t Token) bool {
	return t.Access.Equal(s.tok.Access) || slices.ContainsFunc(s.renewedAway, t.Access.Equal)
}

// saveAgain saves tok, a renewal whose save failed, unless the store took
// another login or lost it meanwhile (a `herald twitch login` or logout
// just now must not be undone): it is read once more right before.
func (s *Source) saveAgain(tok Token) {
	t, err := s.Store.Load()
	s.mu.Lock()
	still := err == nil && s.ours(t) && s.tok.Access.Equal(tok.Access)
	s.mu.Unlock()
	if !still {
		return
	}
	err = s.Store.Save(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Access.Equal(tok.Access) {
		s.unsaved = err
	}
}

// Validate checks the token with Twitch (renewing it once on a 401) and
// records whose it is, its scopes and its expiry.
func (s *Source) Validate(ctx context.Context) (Token, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return Token{}, err
	}
	v, err := s.Client.Validate(ctx, tok.Access)
	if errors.Is(err, ErrInvalidToken) {
		if tok, err = s.Renew(ctx, tok); err != nil {
			return Token{}, err
		}
		v, err = s.Client.Validate(ctx, tok.Access)
	}
	if err != nil {
		return Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tok.Access.Equal(tok.Access) { // renewed meanwhile; validate that one next time
		return s.tok, nil
	}
	s.tok.UserID, s.tok.Login, s.tok.Scopes = v.UserID, v.Login, v.Scopes
	if v.ExpiresIn > 0 {
		s.tok.Expires = s.Client.now().Add(time.Duration(v.ExpiresIn) * time.Second)
	}
	if s.Kind == User {
		// What Twitch said of it. The file holds the same token either
		// way, so a failure matters only as the retry of a renewal's.
		if err := s.Store.Save(s.tok); s.unsaved != nil {
			s.unsaved = err
		}
	}
	return s.tok, nil
}
