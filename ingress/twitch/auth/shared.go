package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
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

// tagOf names a login by its refresh token (hashed: the tag is no
// secret). Twitch renews a public client's refresh token each time it is
// used, so a renewal is a new tag, and a write conditional on the tag a
// node holds cannot overwrite a login that changed since (a renewal, a
// new login, a logout).
func tagOf(t Token) string {
	h := sha256.Sum256([]byte("refresh:" + t.Refresh.Value()))
	return hex.EncodeToString(h[:12])
}

// Shared keeps a User login in the cluster's Remote, which every node
// reads, and a copy in this node's file, used while Remote does not
// answer. The node that runs the session saves each renewal to Remote
// (conditional on the login it renewed being still the cluster's), and
// the node that takes over loads it from there. A node's own login file
// is shared only when the cluster has never had a login; after a logout
// the cluster has none until the next `herald twitch login --redis`.
// Safe for concurrent use.
type Shared struct {
	// File is this node's copy; nil keeps none (the command line, run
	// from anywhere).
	File   *Store
	Remote Remote

	mu sync.Mutex
	// held is the tag of the login this node holds (last loaded or
	// saved), "" for none.
	held string
	// unsaved is a renewal Remote did not answer for: offered again at
	// each Load until Remote takes it or the cluster's login changed.
	unsaved *renewal
}

type renewal struct {
	from, tag string
	value     []byte
}

// Load returns the cluster's login; this node's file while Remote does
// not answer; ErrNoLogin when there is none (or the cluster logged out).
func (s *Shared) Load() (Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offerUnsaved(ctx)
	b, tag, err := s.Remote.Get(ctx)
	switch {
	case err != nil: // Redis away: what this node has
		t, err := s.fileLoad()
		if err == nil {
			s.held = tagOf(t)
		}
		return t, err
	case tag == "":
		return s.adopt(ctx)
	case tag == loggedOut:
		s.held = ""
		if s.File != nil {
			_ = s.File.Delete() // not to be used while Redis is away
		}
		return Token{}, ErrNoLogin
	}
	t, err := decode(b)
	if err != nil {
		return Token{}, errors.New("the cluster's Twitch login in Redis is damaged; run `herald twitch login --redis` again")
	}
	s.held = tag
	s.cache(b)
	return t, nil
}

// adopt shares this node's own login file with a cluster that has never
// had a login (a node that ran alone before, or Redis restarted empty).
// If another node shares one first, that one is taken.
func (s *Shared) adopt(ctx context.Context) (Token, error) {
	t, err := s.fileLoad()
	if err != nil {
		return Token{}, err
	}
	b, err := encode(t)
	if err != nil {
		return Token{}, err
	}
	tag := tagOf(t)
	if ok, err := s.Remote.Swap(ctx, "", tag, b); err == nil && !ok {
		theirs, theirTag, err := s.Remote.Get(ctx)
		if t2, derr := decode(theirs); err == nil && derr == nil && theirTag != loggedOut {
			s.held = theirTag
			s.cache(theirs)
			return t2, nil
		}
	}
	s.held = tag
	return t, nil
}

// Save stores a renewed (or newly validated) login: in Remote if the
// cluster's login is still the one this node held, and in this node's
// file. If the cluster's login changed meanwhile (a new login, a logout,
// a renewal elsewhere) it stands, and the next Load takes it; this
// node's token still works until then. While Remote does not answer the
// renewal is kept and offered again at each Load. An error means neither
// copy holds t.
func (s *Shared) Save(t Token) error {
	b, err := encode(t)
	if err != nil {
		return fmt.Errorf("saving the Twitch login: %w", err)
	}
	tag := tagOf(t)
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	var fileErr error
	if s.File != nil {
		fileErr = s.File.write(b)
	}
	ok, err := s.Remote.Swap(ctx, s.held, tag, b)
	switch {
	case err != nil:
		s.unsaved = &renewal{from: s.held, tag: tag, value: b}
		s.held = tag
		if s.File == nil || fileErr != nil {
			return fmt.Errorf("saving the Twitch login in Redis: %w", err)
		}
	case ok:
		s.held, s.unsaved = tag, nil
	}
	return nil
}

// offerUnsaved gives Remote a renewal it did not answer for, once it
// answers; if the cluster's login changed meanwhile, that one stands.
func (s *Shared) offerUnsaved(ctx context.Context) {
	if s.unsaved == nil {
		return
	}
	if _, err := s.Remote.Swap(ctx, s.unsaved.from, s.unsaved.tag, s.unsaved.value); err == nil {
		s.unsaved = nil
	}
}

// Put makes t the cluster's login, whatever it was: a new
// `herald twitch login`.
func (s *Shared) Put(t Token) error {
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
	s.held, s.unsaved = tagOf(t), nil
	s.cache(b)
	return nil
}

// Delete logs the cluster out: no node takes a login from Redis, or
// shares its own file, until the next Put.
func (s *Shared) Delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Remote.Set(ctx, loggedOut, []byte("{}")); err != nil {
		return fmt.Errorf("removing the cluster's Twitch login: %w", err)
	}
	s.held, s.unsaved = "", nil
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
// effort: the file only serves while Redis is away.
func (s *Shared) cache(b []byte) {
	if s.File == nil {
		return
	}
	if cur, err := os.ReadFile(s.File.Path()); err == nil && bytes.Equal(cur, b) {
		return
	}
	_ = s.File.write(b)
}
