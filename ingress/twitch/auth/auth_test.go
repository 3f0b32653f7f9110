package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/faketwitch"
)

// TestPollFollowsTwitch: pending keeps the interval, slow_down lengthens
// it by 5 s (RFC 8628), success returns the token with its scopes.
func TestPollFollowsTwitch(t *testing.T) {
	tests := []struct {
		name      string
		polls     []string
		wantWaits []time.Duration
		wantErr   error
	}{
		{name: "pending then slow_down then success", polls: []string{"authorization_pending", "slow_down", "authorization_pending", "ok:a1:r1"},
			wantWaits: []time.Duration{1 * time.Second, 1 * time.Second, 6 * time.Second, 6 * time.Second}},
		{name: "expired", polls: []string{"authorization_pending", "expired_token"}, wantWaits: []time.Duration{time.Second, time.Second}, wantErr: auth.ErrExpired},
		{name: "denied", polls: []string{"access_denied"}, wantWaits: []time.Duration{time.Second}, wantErr: auth.ErrDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := faketwitch.New(t)
			fake.DevicePolls(tc.polls...)
			c := &auth.Client{BaseURL: fake.AuthURL(), ClientID: "test-client"}
			d, err := c.StartDevice(t.Context(), []string{"bits:read", "moderator:read:followers"})
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			tok, err := c.Poll(t.Context(), d, func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Poll error = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(waits, tc.wantWaits) {
				t.Errorf("Poll waited %v, want %v", waits, tc.wantWaits)
			}
			if tc.wantErr == nil && (tok.Access.Value() != "a1" || tok.Refresh.Value() != "r1" || !tok.HasScope("bits:read")) {
				t.Errorf("token = %v %v %v", tok.Access.Value(), tok.Refresh.Value(), tok.Scopes)
			}
		})
	}
}

// TestSourceRenews: a 401 refreshes the login once and saves the new
// pair; a static token cannot be renewed and says so.
func TestSourceRenews(t *testing.T) {
	fake := faketwitch.New(t)
	dir := t.TempDir()
	fake.Grant("old", "r", "new")
	store := auth.Store{Dir: dir}
	if err := store.Save(auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("r")}); err != nil {
		t.Fatal(err)
	}
	src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.User, Store: store}
	tok, err := src.Validate(t.Context())
	if err != nil || tok.UserID != "4242" || tok.Login != "ada" {
		t.Fatalf("Validate = %+v, %v", tok, err)
	}
	fake.Expire("old")
	tok, err = src.Validate(t.Context())
	if err != nil || tok.Access.Value() != "new" {
		t.Fatalf("Validate after expiry: access renewed = %v, err %v", tok.Access.Value() == "new", err)
	}
	saved, _ := store.Load()
	if saved.Access.Value() != "new" || saved.UserID != "4242" {
		t.Errorf("the renewed login was not saved")
	}

	static := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.Static, Static: auth.NewSecret("bogus")}
	_, err = static.Validate(t.Context())
	if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "cannot be refreshed") {
		t.Errorf("static token refused: err = %v", err)
	}
}

// TestSourceRefreshesBeforeExpiry: a token within 5 minutes of its expiry
// is refreshed before it is handed out.
func TestSourceRefreshesBeforeExpiry(t *testing.T) {
	fake := faketwitch.New(t)
	fake.Grant("old", "r", "new")
	store := auth.Store{Dir: t.TempDir()}
	_ = store.Save(auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("r"), Expires: time.Now().Add(time.Minute)})
	src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.User, Store: store}
	tok, err := src.Token(t.Context())
	if err != nil || tok.Access.Value() != "new" {
		t.Fatalf("Token = renewed %v, err %v", tok.Access.Value() == "new", err)
	}
	if !slices.Contains(fake.Requests(), "POST /oauth2/token") {
		t.Error("no refresh request was made")
	}
}

// TestSourceLoggedOutIsNotRenewed: a login deleted while herald runs
// (`herald twitch logout`) is not renewed and saved again when its token
// comes up for renewal: the logout sticks.
func TestSourceLoggedOutIsNotRenewed(t *testing.T) {
	fake := faketwitch.New(t)
	fake.Grant("old", "r", "new")
	store := auth.Store{Dir: t.TempDir()}
	_ = store.Save(auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("r"), Expires: time.Now().Add(time.Minute)})
	src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.User, Store: store}
	tok, err := src.Token(t.Context()) // loaded (and renewed once), as by a running instance
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Renew(t.Context(), tok); !errors.Is(err, auth.ErrNoLogin) {
		t.Errorf("Renew after logout = %v, want ErrNoLogin", err)
	}
	if _, err := store.Load(); !errors.Is(err, auth.ErrNoLogin) {
		t.Errorf("the login is back after logout (Load: %v)", err)
	}
}

// TestSourceAsksOnceForARefusedRefresh: once Twitch refused to renew a
// login, the callers that still hold its token (each pending Helix call)
// get that answer without sending the dead refresh token again; a new
// login is renewed as usual.
func TestSourceAsksOnceForARefusedRefresh(t *testing.T) {
	fake := faketwitch.New(t)
	store := auth.Store{Dir: t.TempDir()}
	_ = store.Save(auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("dead"), Expires: time.Now().Add(time.Hour)})
	src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.User, Store: store}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := src.Renew(t.Context(), tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("Renew with a dead refresh token = %v, want ErrInvalidToken", err)
		}
	}
	if n := strings.Count(strings.Join(fake.Requests(), "\n"), "POST /oauth2/token"); n != 1 {
		t.Errorf("%d refresh requests for 4 callers holding the same token, want 1", n)
	}
}

// TestSecretNeverShows: every way a token could be printed shows
// [redacted]; only the file holds it, mode 0600.
func TestSecretNeverShows(t *testing.T) {
	const value = "tok-very-secret-123"
	tok := auth.Token{Access: auth.NewSecret(value), Refresh: auth.NewSecret(value)}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", tok.Access, "tok", tok)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", tok.Access, "tok", tok)
	js, _ := json.Marshal(tok)
	dev := auth.Device{UserCode: "ABC"}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v %#v %v %s", tok, tok, tok.Access, tok.Access), logs.String(), string(js), fmt.Sprintf("%+v", dev)} {
		if strings.Contains(s, value) {
			t.Errorf("token printed: %s", s)
		}
	}
	dir := t.TempDir()
	if err := (auth.Store{Dir: dir}).Save(tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, auth.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, err %v", fi.Mode().Perm(), err)
	}
	// Errors from Twitch carry its message, never the token sent.
	c := &auth.Client{BaseURL: "http://127.0.0.1:1", ClientID: "cid", HTTP: &http.Client{Timeout: time.Second}}
	if _, err := c.Validate(t.Context(), tok.Access); err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("Validate error = %v", err)
	}
}

// TestSourceChanged: a login saved by someone else (a new `herald twitch
// login`) is noticed once, and used by the next Token call; what the
// Source saves itself (after a refresh or a validation) never counts.
func TestSourceChanged(t *testing.T) {
	fake := faketwitch.New(t)
	fake.Grant("access-1", "refresh-1", "access-2")
	store := auth.Store{Dir: t.TempDir()}
	src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "test-client"}, Kind: auth.User, Store: store}
	if src.Changed() {
		t.Fatal("with no login file Changed = true")
	}
	save := func(access, refresh string, expires time.Time) {
		t.Helper()
		err := store.Save(auth.Token{ClientID: "test-client", Access: auth.NewSecret(access), Refresh: auth.NewSecret(refresh),
			UserID: "4242", Login: "ada", Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
	}
	save("access-1", "refresh-1", time.Now().Add(time.Minute)) // due for a refresh
	if !src.Changed() || src.Changed() {
		t.Fatal("a first login was not noticed exactly once")
	}
	tok, err := src.Token(t.Context()) // refreshes and saves access-2
	if err != nil || tok.Access.Value() != "access-2" {
		t.Fatalf("Token = %v, %v; want the refreshed access-2", tok.Access.Value() != "", err)
	}
	if src.Changed() {
		t.Error("the Source's own refresh counted as a new login")
	}
	fake.Grant("access-9", "refresh-9", "")
	save("access-9", "refresh-9", time.Now().Add(4*time.Hour))
	if !src.Changed() {
		t.Fatal("a new login was not noticed")
	}
	if tok, err := src.Token(t.Context()); err != nil || tok.Access.Value() != "access-9" {
		t.Errorf("after Changed, Token = %v; want the new login's token", err)
	}
}
