package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Remote holds the cluster's copy of the login: one value every node
// reads and writes, with a tag its writer chooses (ingress.SharedStore
// under one key).
type Remote interface {
	// Get returns the value and its tag; nil and "" when there is none.
	Get(ctx context.Context) (value []byte, tag string, err error)
	// Set writes value under tag, whatever was there.
	Set(ctx context.Context, tag string, value []byte) error
	// Swap writes value under tag if the stored tag is still oldTag (""
	// for none), and reports whether it did.
	Swap(ctx context.Context, oldTag, tag string, value []byte) (bool, error)
}

// remoteTimeout bounds a call to Remote; past it this node's file is used.
const remoteTimeout = 2 * time.Second

// loggedOut is the tag of the cluster's login after a logout: a node's
// own copy is not shared again over it.
const loggedOut = "logged-out"

// maxRenewedFrom bounds the lineage a login keeps (renewedFrom): the
// renewals a cluster's copy can have missed and still be recognised.
const maxRenewedFrom = 16

// tagOf names a login by its refresh token (hashed: the tag is no
// secret). Twitch renews a public client's refresh token each time it is
// used, so a renewal is a new tag, and a write conditional on the tag a
// node holds cannot overwrite a login that changed since.
func tagOf(t Token) string {
	if t.Access.IsZero() {
		return ""
	}
	h := sha256.Sum256([]byte("refresh:" + t.Refresh.Value()))
	return hex.EncodeToString(h[:12])
}

// Shared keeps a User login in the cluster's Remote, which every node
// reads, and a copy in this node's file.
//
// Which copy is the login: the cluster's, unless it is one this node's
// copy was renewed from (renewedFrom), which means the cluster's lost
// renewals (made while Redis did not answer, or undone by a Redis that
// came back from an older snapshot): then this node's copy is shared
// over it. A renewal is saved only over the login it renewed (Swap on
// the tag), so a new login made meanwhile stands. A node's own copy is
// also shared with a cluster that has none (a Redis that restarted
// empty); after a logout (a tombstone tag) it is deleted instead. While
// Remote does not answer, this node's copy serves. Safe for concurrent
// use; its state is only the login it holds, so a new Shared over the
// same file and Remote (a rules reload) behaves the same.
type Shared struct {
	// File is this node's copy; nil keeps none (the command line, run
	// from anywhere), and then a Remote that does not answer is an error.
	File   *Store
	Remote Remote

	mu   sync.Mutex
	held Token // the login this node holds: last loaded or saved
}

// Load returns the login (see Shared); ErrNoLogin when there is none or
// the cluster logged out.
func (s *Shared) Load() (Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(ctx, true)
}

func (s *Shared) load(ctx context.Context, retry bool) (Token, error) {
	b, tag, err := s.Remote.Get(ctx)
	if err != nil {
		if s.File == nil {
			return Token{}, fmt.Errorf("reading the cluster's Twitch login from Redis: %w", err)
		}
		t, err := s.File.Load() // Redis away: what this node has
		if err == nil {
			s.held = t
		}
		return t, err
	}
	if tag == loggedOut {
		s.held = Token{}
		if s.File != nil {
			_ = s.File.Delete() // not to be shared again, nor used while Redis is away
		}
		return Token{}, ErrNoLogin
	}
	local, localErr := s.fileLoad()
	shared, err := decode(b)
	switch {
	case localErr == nil && (tag == "" || err != nil || slices.Contains(local.renewedFrom, tag)):
		// The cluster has no login (or a damaged one), or one this
		// node's was renewed from: this node's is the login.
		return s.share(ctx, tag, local, retry)
	case tag == "":
		return Token{}, localErr
	case err != nil:
		return Token{}, errors.New("the cluster's Twitch login in Redis is damaged; run `herald twitch login --redis` again")
	}
	s.held = shared
	s.cache(b)
	return shared, nil
}

// share makes t the cluster's login over the one tagged from, unless the
// cluster's changed meanwhile: then that one is read instead (once).
func (s *Shared) share(ctx context.Context, from string, t Token, retry bool) (Token, error) {
	b, err := encode(t)
	if err != nil {
		return Token{}, err
	}
	ok, err := s.Remote.Swap(ctx, from, tagOf(t), b)
	if err == nil && !ok && retry {
		return s.load(ctx, false)
	}
	s.held = t // shared, or Redis flickered: this node's copy serves
	return t, nil
}

// Save stores a renewed (or newly validated) login in this node's file
// and, if the cluster's login is still the one this node held, in
// Remote. If the cluster's changed meanwhile (a new login, a logout) it
// stands, and the next Load takes it; this node's token works until
// then. While Remote does not answer, the file keeps the renewal and
// its lineage, and the next Load shares it. An error means neither copy
// holds t.
func (s *Shared) Save(t Token) error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	from := tagOf(s.held)
	t.renewedFrom = s.held.renewedFrom
	if tag := tagOf(t); tag != from && from != "" {
		t.renewedFrom = append([]string{from}, t.renewedFrom...)
		t.renewedFrom = t.renewedFrom[:min(len(t.renewedFrom), maxRenewedFrom)]
	}
	b, err := encode(t)
	if err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	var fileErr error
	if s.File != nil {
		fileErr = s.File.write(b)
	}
	s.held = t
	if _, err := s.Remote.Swap(ctx, from, tagOf(t), b); err != nil && (s.File == nil || fileErr != nil) {
		return fmt.Errorf("saving the Twitch login in Redis: %w", err)
	}
	return nil
}

// Put makes t the cluster's login, whatever it was: a new
// `herald twitch login`.
func (s *Shared) Put(t Token) error {
	t.renewedFrom = nil
	b, err := encode(t)
	if err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Remote.Set(ctx, tagOf(t), b); err != nil {
		return fmt.Errorf("saving the Twitch login in Redis: %w", err)
	}
	s.held = t
	s.cache(b)
	return nil
}

// Delete logs the cluster out: each node deletes its copy at its next
// Load, and none is shared again until the next Put.
func (s *Shared) Delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Remote.Set(ctx, loggedOut, []byte("{}")); err != nil {
		return fmt.Errorf("logging the cluster out of Twitch: %w", err)
	}
	s.held = Token{}
	if s.File != nil {
		return s.File.Delete()
	}
	return nil
}

func (s *Shared) fileLoad() (Token, error) {
	if s.File == nil {
		return Token{}, ErrNoLogin
	}
	return s.File.Load()
}

// cache brings this node's file up to the cluster's login b. Best
// effort: the file serves while Redis is away, and is shared with a
// cluster whose Redis restarted empty.
func (s *Shared) cache(b []byte) {
	if s.File == nil {
		return
	}
	if cur, err := os.ReadFile(s.File.Path()); err == nil && bytes.Equal(cur, b) {
		return
	}
	_ = s.File.write(b)
}
