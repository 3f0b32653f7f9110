package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Device is a started Device Code Grant: show VerificationURI and UserCode
// to the user, then Poll.
type Device struct {
	// UserCode is what the user types at VerificationURI.
	UserCode string
	// VerificationURI is the page to open (it carries the code already).
	VerificationURI string
	// Expires is when the code stops working.
	Expires time.Time
	// Interval is the polling period Twitch asked for.
	Interval time.Duration

	code   Secret
	scopes []string
}

// StartDevice begins the Device Code Grant for scopes.
func (c *Client) StartDevice(ctx context.Context, scopes []string) (Device, error) {
	var a struct {
		DeviceCode      string `json:"device_code"`
		UserCode        string `json:"user_code"`
		VerificationURI string `json:"verification_uri"`
		ExpiresIn       int    `json:"expires_in"`
		Interval        int    `json:"interval"`
	}
	form := url.Values{"client_id": {c.ClientID}, "scopes": {strings.Join(scopes, " ")}}
	if err := c.post(ctx, "device", form, &a); err != nil {
		return Device{}, err
	}
	if a.DeviceCode == "" || a.VerificationURI == "" {
		return Device{}, errors.New("twitch device: answer without device_code or verification_uri")
	}
	d := Device{UserCode: a.UserCode, VerificationURI: a.VerificationURI, code: NewSecret(a.DeviceCode), scopes: scopes,
		Interval: time.Duration(a.Interval) * time.Second, Expires: c.now().Add(time.Duration(a.ExpiresIn) * time.Second)}
	if d.Interval <= 0 {
		d.Interval = 5 * time.Second
	}
	if a.ExpiresIn <= 0 {
		d.Expires = c.now().Add(30 * time.Minute)
	}
	return d, nil
}

// slowDownStep is how much a slow_down answer lengthens the polling
// period (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

// Poll asks the token endpoint every d.Interval until the user approves
// (the token), declines (ErrDenied), the code expires (ErrExpired) or ctx
// ends. wait sleeps between polls; nil means a real timer.
func (c *Client) Poll(ctx context.Context, d Device, wait func(context.Context, time.Duration) error) (Token, error) {
	if wait == nil {
		wait = sleep
	}
	interval := d.Interval
	form := url.Values{"client_id": {c.ClientID}, "scopes": {strings.Join(d.scopes, " ")},
		"device_code": {d.code.Value()}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}
	for {
		if err := wait(ctx, interval); err != nil {
			return Token{}, err
		}
		var a tokenAnswer
		err := c.post(ctx, "token", form, &a)
		if err == nil {
			return c.token(a)
		}
		var he *HTTPError
		if !errors.As(err, &he) {
			if errors.Is(err, ErrInvalidToken) { // a 401 here means the client id is wrong
				return Token{}, fmt.Errorf("twitch refused the client id: %w", err)
			}
			return Token{}, err
		}
		switch strings.ToLower(he.Message) {
		case "authorization_pending":
		case "slow_down":
			interval += slowDownStep
		case "expired_token", "invalid device code":
			return Token{}, ErrExpired
		case "access_denied":
			return Token{}, ErrDenied
		default:
			if he.Status >= http.StatusInternalServerError {
				continue // Twitch hiccup: keep polling until the code expires
			}
			return Token{}, err
		}
		if !d.Expires.IsZero() && !c.now().Before(d.Expires) {
			return Token{}, ErrExpired
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
