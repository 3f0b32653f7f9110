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
	"runtime"
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
	// Windows has no file modes (the folder's permissions apply: README).
	if err != nil || (fi.Mode().Perm() != 0o600 && runtime.GOOS != "windows") {
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

// flakyStore is the login file with faults on call: the next saves fail
// (a full disk; on Windows a rename over a file another program holds
// open), or the next load returns a copy read before the last save.
type flakyStore struct {
	auth.Store
	failSaves int
	stale     *auth.Token
	afterLoad func() // once, after the next load: another program's write
}

func (f *flakyStore) Save(t auth.Token) error {
	if f.failSaves > 0 {
		f.failSaves--
		return errors.New("saving the Twitch login: rename: Access is denied.")
	}
	return f.Store.Save(t)
}

func (f *flakyStore) Load() (auth.Token, error) {
	if t := f.stale; t != nil {
		f.stale = nil
		return *t, nil
	}
	t, err := f.Store.Load()
	if after := f.afterLoad; after != nil {
		f.afterLoad = nil
		after()
	}
	return t, err
}

// TestSourceKeepsARenewalItCouldNotSave: Twitch takes the old refresh
// token when it renews a login, so a renewed token whose save failed is
// the login now. It stays in use, is reported unsaved, and is saved again
// by the next login poll (Changed), which does not take the file's spent
// token for a new login; nor does a poll that read the file just before
// a renewal was saved. A logout meanwhile is not undone.
func TestSourceKeepsARenewalItCouldNotSave(t *testing.T) {
	setup := func(t *testing.T) (*faketwitch.Server, *flakyStore, *auth.Source) {
		fake := faketwitch.New(t)
		fake.Grant("old", "r", "new")
		store := &flakyStore{Store: auth.Store{Dir: t.TempDir()}}
		old := auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("r"), Expires: time.Now().Add(time.Minute)}
		if err := store.Store.Save(old); err != nil {
			t.Fatal(err)
		}
		src := &auth.Source{Client: &auth.Client{BaseURL: fake.AuthURL(), ClientID: "cid"}, Kind: auth.User, Store: store}
		return fake, store, src
	}
	access := func(t *testing.T, src *auth.Source) string {
		t.Helper()
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatalf("Token = %v; want the renewed login in use", err)
		}
		return tok.Access.Value()
	}
	t.Run("save failed", func(t *testing.T) {
		_, store, src := setup(t)
		store.failSaves = 2
		if got := access(t, src); got != "new" { // renewed: within 5 minutes of expiry
			t.Fatalf("Token = %q, want the renewed token", got)
		}
		if src.Unsaved() == nil {
			t.Error("Unsaved = nil after a failed save")
		}
		if src.Changed() {
			t.Fatal("the file's spent token counted as a new login")
		}
		if src.Unsaved() == nil { // the second save failed too
			t.Error("Unsaved = nil while saves fail")
		}
		if src.Changed() || src.Unsaved() != nil {
			t.Fatalf("after a poll with the store working: Unsaved = %v, want the login saved", src.Unsaved())
		}
		if saved, err := store.Load(); err != nil || saved.Access.Value() != "new" {
			t.Errorf("store holds %q, %v; want the renewed token", saved.Access.Value(), err)
		}
		if got := access(t, src); got != "new" {
			t.Errorf("Token = %q after the save, want the renewed token", got)
		}
	})
	t.Run("poll read the file before the renewal was saved", func(t *testing.T) {
		_, store, src := setup(t)
		before, _ := store.Load()
		if got := access(t, src); got != "new" {
			t.Fatalf("Token = %q, want the renewed token", got)
		}
		store.stale = &before
		if src.Changed() {
			t.Error("a read from before the renewal counted as a new login")
		}
		if got := access(t, src); got != "new" {
			t.Errorf("Token = %q, want the renewed token", got)
		}
	})
	t.Run("a new login saved while the poll reads", func(t *testing.T) {
		_, store, src := setup(t)
		store.failSaves = 1
		access(t, src)
		newLogin := auth.Token{ClientID: "cid", Access: auth.NewSecret("other"), Refresh: auth.NewSecret("r2"), Expires: time.Now().Add(time.Hour)}
		store.afterLoad = func() {
			if err := store.Store.Save(newLogin); err != nil {
				t.Error(err)
			}
		}
		src.Changed() // read the spent token, then `herald twitch login` saved another
		if saved, err := store.Load(); err != nil || saved.Access.Value() != "other" {
			t.Fatalf("store holds %q, %v; want the new login, not the renewal saved over it", saved.Access.Value(), err)
		}
		if !src.Changed() {
			t.Error("the new login was not noticed")
		}
	})
	t.Run("a validate's failed save is no renewal's", func(t *testing.T) {
		fake, store, src := setup(t)
		fake.Grant("old", "r", "new")
		if err := store.Store.Save(auth.Token{ClientID: "cid", Access: auth.NewSecret("old"), Refresh: auth.NewSecret("r"), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		store.failSaves = 1
		if _, err := src.Validate(t.Context()); err != nil {
			t.Fatalf("Validate = %v", err)
		}
		if err := src.Unsaved(); err != nil {
			t.Errorf("Unsaved = %v after a validate (nothing was renewed); want nil", err)
		}
	})
	t.Run("logout while unsaved", func(t *testing.T) {
		_, store, src := setup(t)
		store.failSaves = 1
		access(t, src)
		if err := store.Delete(); err != nil {
			t.Fatal(err)
		}
		if src.Changed() {
			t.Error("Changed = true after a logout")
		}
		if _, err := store.Load(); !errors.Is(err, auth.ErrNoLogin) {
			t.Errorf("the login is back after logout (Load: %v)", err)
		}
	})
}

// TestSaveWhileAnotherProgramReadsTheFile: Windows refuses to replace a
// file another handle has open (herald's own login poll, a backup tool);
// a save waits for it to let go, as it does for a moment. (Elsewhere the
// rename never waits.)
func TestSaveWhileAnotherProgramReadsTheFile(t *testing.T) {
	store := auth.Store{Dir: t.TempDir()}
	tok := auth.Token{ClientID: "cid", Access: auth.NewSecret("a1"), Refresh: auth.NewSecret("r1")}
	if err := store.Save(tok); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(store.Path())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		held.Close()
		close(done)
	}()
	tok.Access = auth.NewSecret("a2")
	if err := store.Save(tok); err != nil {
		t.Fatalf("Save while the file was held for 100 ms = %v", err)
	}
	<-done
	if got, err := store.Load(); err != nil || got.Access.Value() != "a2" {
		t.Errorf("Load = %q, %v; want the saved a2", got.Access.Value(), err)
	}
}
