package auth

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// Remote holds one value every node of a cluster reads and writes (a key
// in the cluster's Redis): the shared copy of the login.
type Remote interface {
	// Get returns the value, nil when there is none.
	Get(ctx context.Context) ([]byte, error)
	Set(ctx context.Context, value []byte) error
	Delete(ctx context.Context) error
}

// remoteTimeout bounds a call to Remote; past it this node's file is used.
const remoteTimeout = 2 * time.Second

// Shared keeps a User login in this node's file and in Remote, which every
// node of a cluster shares. Twitch renews a public client's refresh token
// each time it is used, so two copies of one login cannot both stay
// valid: the node that runs the session saves every renewal to Remote too,
// and the node that takes the session over loads it from there.
//
// Load takes the newer copy, the one that expires later (a renewal, or a
// new `herald twitch login` on any node), and brings the other up to it.
// While Remote does not answer, the file is used alone, and Save keeps
// the file: the next Load shares what Remote missed.
type Shared struct {
	File   Store
	Remote Remote
}

// Load returns the newer of the two copies; ErrNoLogin when neither holds
// a login.
func (s Shared) Load() (Token, error) {
	local, localErr := s.File.Load()
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	b, err := s.Remote.Get(ctx)
	if err != nil {
		return local, localErr // Redis away: what this node has
	}
	shared, err := decode(b)
	if b == nil || err != nil {
		if localErr == nil { // the first node with a login shares it
			_ = s.share(ctx, local)
		}
		return local, localErr
	}
	if localErr == nil && local.Expires.After(shared.Expires) {
		_ = s.share(ctx, local)
		return local, nil
	}
	if cur, _ := encode(local); localErr != nil || !bytes.Equal(cur, b) {
		// Best effort: this node's copy is for `herald twitch status`
		// and for when Redis is away.
		_ = s.File.Save(shared)
	}
	return shared, nil
}

// Save writes t to the file, then to Remote. Only the file's failure is
// an error: one Remote missed is shared by the next Load.
func (s Shared) Save(t Token) error {
	if err := s.File.Save(t); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	_ = s.share(ctx, t)
	return nil
}

// Delete removes both copies.
func (s Shared) Delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	if err := s.Remote.Delete(ctx); err != nil {
		return fmt.Errorf("removing the cluster's Twitch login: %w", err)
	}
	return s.File.Delete()
}

// share writes t to Remote.
func (s Shared) share(ctx context.Context, t Token) error {
	b, err := encode(t)
	if err != nil {
		return err
	}
	if err := s.Remote.Set(ctx, b); err != nil {
		return fmt.Errorf("sharing the Twitch login: %w", err)
	}
	return nil
}
