package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is Twitch's OAuth base; /device, /token, /validate and
// /revoke hang below it.
const DefaultURL = "https://id.twitch.tv/oauth2"

// Errors a caller acts on. Their text is safe to show: it never holds a
// token.
var (
	// ErrInvalidToken means Twitch answered 401: the token is unknown,
	// expired or revoked.
	ErrInvalidToken = errors.New("twitch refused the token (401): expired or revoked")
	// ErrExpired means the device code ran out before the user approved it.
	ErrExpired = errors.New("the code expired before it was approved; run `herald twitch login` again")
	// ErrDenied means the user declined the authorisation.
	ErrDenied = errors.New("the authorisation was declined on twitch.tv")
)

// Client speaks Twitch's OAuth endpoints for one application.
type Client struct {
	// BaseURL is the auth_url ("" means DefaultURL).
	BaseURL string
	// ClientID is the application's public id.
	ClientID string
	// HTTP is the client to use; nil means one with a 15 s timeout.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return &http.Client{Timeout: 15 * time.Second}
	}
	return c.HTTP
}

// apiError is Twitch's error body: {"status":400,"message":"..."}; some
// OAuth servers (and RFC 8628) say {"error":"..."} instead.
type apiError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// reason is the error's machine-readable word, whichever field carries it.
func (e apiError) reason() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Error
}

// HTTPError is an OAuth endpoint's refusal other than the ones above.
type HTTPError struct {
	Endpoint string
	Status   int
	Message  string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("twitch %s: %d %s", e.Endpoint, e.Status, e.Message)
}

// post sends a form to endpoint and decodes a 2xx JSON answer into out.
func (c *Client) post(ctx context.Context, endpoint string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/"+endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twitch %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req, endpoint, out)
}

func (c *Client) do(req *http.Request, endpoint string, out any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		// url.Error holds the URL, which never carries a token here (tokens
		// go in bodies and headers).
		return fmt.Errorf("twitch %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("twitch %s: reading answer: %w", endpoint, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return ErrInvalidToken
		}
		msg := e.reason()
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &HTTPError{Endpoint: endpoint, Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("twitch %s: malformed answer: %w", endpoint, err)
	}
	return nil
}

// tokenAnswer is the /token endpoint's success body.
type tokenAnswer struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	ExpiresIn    int      `json:"expires_in"`
	Scope        []string `json:"scope"`
}

func (c *Client) token(a tokenAnswer) (Token, error) {
	if a.AccessToken == "" {
		return Token{}, errors.New("twitch token: answer without an access_token")
	}
	t := Token{ClientID: c.ClientID, Access: NewSecret(a.AccessToken), Refresh: NewSecret(a.RefreshToken), Scopes: a.Scope}
	if a.ExpiresIn > 0 {
		t.Expires = c.now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return t, nil
}

// Refresh trades a refresh token for a new pair. Public clients (device
// flow) send no secret; clientSecret may be zero.
func (c *Client) Refresh(ctx context.Context, refresh, clientSecret Secret) (Token, error) {
	form := url.Values{"client_id": {c.ClientID}, "grant_type": {"refresh_token"}, "refresh_token": {refresh.Value()}}
	if !clientSecret.IsZero() {
		form.Set("client_secret", clientSecret.Value())
	}
	var a tokenAnswer
	if err := c.post(ctx, "token", form, &a); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.Status == http.StatusBadRequest {
			return Token{}, fmt.Errorf("%w (refresh refused: %s)", ErrInvalidToken, he.Message)
		}
		return Token{}, err
	}
	return c.token(a)
}

// AppToken gets an app access token with the client credentials grant.
func (c *Client) AppToken(ctx context.Context, clientSecret Secret) (Token, error) {
	var a tokenAnswer
	form := url.Values{"client_id": {c.ClientID}, "client_secret": {clientSecret.Value()}, "grant_type": {"client_credentials"}}
	if err := c.post(ctx, "token", form, &a); err != nil {
		return Token{}, err
	}
	return c.token(a)
}

// Validation is what /validate says about a token.
type Validation struct {
	ClientID  string   `json:"client_id"`
	Login     string   `json:"login"`
	UserID    string   `json:"user_id"`
	Scopes    []string `json:"scopes"`
	ExpiresIn int      `json:"expires_in"`
}

// Validate asks Twitch who the token belongs to. A 401 is ErrInvalidToken.
func (c *Client) Validate(ctx context.Context, access Secret) (Validation, error) {
	var v Validation
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/validate", nil)
	if err != nil {
		return v, fmt.Errorf("twitch validate: %w", err)
	}
	req.Header.Set("Authorization", "OAuth "+access.Value())
	err = c.do(req, "validate", &v)
	return v, err
}

// Revoke invalidates a token at Twitch.
func (c *Client) Revoke(ctx context.Context, access Secret) error {
	return c.post(ctx, "revoke", url.Values{"client_id": {c.ClientID}, "token": {access.Value()}}, nil)
}
