package eventsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// DefaultHelixURL is Twitch's API base.
const DefaultHelixURL = "https://api.twitch.tv/helix"

// Tokens hands out access tokens; *auth.Source is one.
type Tokens interface {
	Token(ctx context.Context) (auth.Token, error)
	Renew(ctx context.Context, stale auth.Token) (auth.Token, error)
}

// Helix manages EventSub subscriptions through Twitch's API.
type Helix struct {
	// BaseURL is the helix_url ("" means DefaultHelixURL).
	BaseURL  string
	ClientID string
	Tokens   Tokens
	// HTTP is the client to use; nil means one with a 15 s timeout.
	HTTP *http.Client
}

// Transport says where Twitch delivers a subscription's messages.
type Transport struct {
	Method    string `json:"method"`
	SessionID string `json:"session_id,omitempty"`
	Callback  string `json:"callback,omitempty"`
	// Secret is sent on creation of a webhook subscription and never
	// comes back.
	Secret auth.Secret `json:"-"`
}

// Subscription is a subscription as Helix reports it.
type Subscription struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Type      string         `json:"type"`
	Version   string         `json:"version"`
	Condition map[string]any `json:"condition"`
	Transport Transport      `json:"transport"`
	CreatedAt string         `json:"created_at"`
}

// HelixError is a refusal from Helix.
type HelixError struct {
	Op      string
	Status  int
	Message string
}

func (e *HelixError) Error() string {
	return fmt.Sprintf("helix %s: %d %s", e.Op, e.Status, e.Message)
}

// Conflict reports whether err is Helix's 409: the subscription exists.
func Conflict(err error) bool {
	var he *HelixError
	return errors.As(err, &he) && he.Status == http.StatusConflict
}

// Forbidden reports whether err is a 403: the token lacks a scope or the
// user's authorisation.
func Forbidden(err error) bool {
	var he *HelixError
	return errors.As(err, &he) && he.Status == http.StatusForbidden
}

func (h *Helix) base() string {
	if h.BaseURL == "" {
		return DefaultHelixURL
	}
	return strings.TrimRight(h.BaseURL, "/")
}

// Create subscribes to r, delivered through tr.
func (h *Helix) Create(ctx context.Context, r Request, tr Transport) (Subscription, error) {
	type wireTransport struct {
		Method    string `json:"method"`
		SessionID string `json:"session_id,omitempty"`
		Callback  string `json:"callback,omitempty"`
		Secret    string `json:"secret,omitempty"`
	}
	body, err := json.Marshal(struct {
		Request
		Transport wireTransport `json:"transport"`
	}{r, wireTransport{tr.Method, tr.SessionID, tr.Callback, tr.Secret.Value()}})
	if err != nil {
		return Subscription{}, fmt.Errorf("helix create %s: %w", r.Type, err)
	}
	var out struct {
		Data []Subscription `json:"data"`
	}
	if err := h.call(ctx, "create "+r.Type, http.MethodPost, "/eventsub/subscriptions", body, &out); err != nil {
		return Subscription{}, err
	}
	if len(out.Data) == 0 {
		return Subscription{}, fmt.Errorf("helix create %s: answer without data", r.Type)
	}
	return out.Data[0], nil
}

// List returns every subscription of the token's client, following pages.
func (h *Helix) List(ctx context.Context) ([]Subscription, error) {
	var all []Subscription
	cursor := ""
	for range 100 { // 100 pages of 100 is far beyond Twitch's limits
		path := "/eventsub/subscriptions"
		if cursor != "" {
			path += "?after=" + url.QueryEscape(cursor)
		}
		var out struct {
			Data       []Subscription `json:"data"`
			Pagination struct {
				Cursor string `json:"cursor"`
			} `json:"pagination"`
		}
		if err := h.call(ctx, "list", http.MethodGet, path, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Data...)
		if cursor = out.Pagination.Cursor; cursor == "" {
			return all, nil
		}
	}
	return all, nil
}

// Delete removes a subscription.
func (h *Helix) Delete(ctx context.Context, id string) error {
	return h.call(ctx, "delete", http.MethodDelete, "/eventsub/subscriptions?id="+url.QueryEscape(id), nil, nil)
}

// call sends one request with the current token; on a 401 it renews the
// token once and tries again.
func (h *Helix) call(ctx context.Context, op, method, path string, body []byte, out any) error {
	tok, err := h.Tokens.Token(ctx)
	if err != nil {
		return err
	}
	err = h.send(ctx, tok, op, method, path, body, out)
	if !errors.Is(err, auth.ErrInvalidToken) {
		return err
	}
	if tok, err = h.Tokens.Renew(ctx, tok); err != nil {
		return err
	}
	return h.send(ctx, tok, op, method, path, body, out)
}

func (h *Helix) send(ctx context.Context, tok auth.Token, op, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, h.base()+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("helix %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Access.Value())
	req.Header.Set("Client-Id", h.ClientID)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := h.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("helix %s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("helix %s: reading answer: %w", op, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return auth.ErrInvalidToken
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return &HelixError{Op: op, Status: resp.StatusCode, Message: e.Message}
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("helix %s: malformed answer: %w", op, err)
	}
	return nil
}
