package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/faketwitch"
)

// cliRules writes a rules file whose twitch ingress points at fake.
func cliRules(t *testing.T, fake *faketwitch.Server, subs string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	body := fmt.Sprintf(wsRulesTemplate, fake.EventSubURL(), fake.HelixURL(), fake.AuthURL(), subs)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runHerald(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, noEnv, &out, &errb)
	return code, out.String(), errb.String()
}

// TestTwitchLoginStatusLogout runs the device flow as a user sees it:
// the code to enter, a wait while Twitch says authorization_pending, the
// login saved 0600 with the scopes the subscriptions need; status shows
// it and each subscription; logout revokes and deletes it. No token
// appears in anything printed.
func TestTwitchLoginStatusLogout(t *testing.T) {
	fake := faketwitch.New(t)
	rules := cliRules(t, fake, allSubs+", stream.online")
	data := t.TempDir()
	fake.DevicePolls("authorization_pending", "ok:device-access:device-refresh")

	code, out, errOut := runHerald(t, "twitch", "login", "--rules", rules, "--data", data)
	if code != exitOK {
		t.Fatalf("login exited %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"https://www.twitch.tv/activate", "ABCDEFGH", "Logged in as ada (user id 4242)",
		"Scopes asked for: bits:read channel:read:subscriptions moderator:read:followers"} {
		if !strings.Contains(out, want) {
			t.Errorf("login printed:\n%s\nwant it to contain %q", out, want)
		}
	}
	fi, err := os.Stat(filepath.Join(data, auth.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	tok, err := auth.Store{Dir: data}.Load()
	if err != nil || tok.Access.Value() != "device-access" || tok.UserID != "4242" || tok.ClientID != "test-client" {
		t.Fatalf("saved login = %+v (err %v)", tok, err)
	}

	// herald subscribes one of them; status shows it and the others. An
	// ended session's subscription of the same type (Twitch lists those
	// too) does not hide the live one.
	fake.AddSub(faketwitch.Sub{ID: "s0", Type: "channel.follow", Version: "2", Status: "websocket_disconnected", Method: "websocket", Session: "old"})
	fake.AddSub(faketwitch.Sub{ID: "s1", Type: "channel.follow", Version: "2", Status: "enabled", Method: "websocket", Session: "x"})
	code, out, errOut = runHerald(t, "twitch", "status", "--rules", rules, "--data", data)
	if code != exitOK {
		t.Fatalf("status exited %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"logged in as ada (user id 4242)", "moderator:read:followers",
		"channel.raid", "not subscribed"} {
		if !strings.Contains(out, want) {
			t.Errorf("status printed:\n%s\nwant it to contain %q", out, want)
		}
	}
	if !regexp.MustCompile(`(?m)^  channel\.follow +enabled$`).MatchString(out) {
		t.Errorf("status printed:\n%s\nwant channel.follow enabled", out)
	}

	code, out, errOut = runHerald(t, "twitch", "logout", "--rules", rules, "--data", data)
	if code != exitOK || !strings.Contains(out, "Logged out ada") {
		t.Fatalf("logout exited %d: %s%s", code, out, errOut)
	}
	if !slices.Contains(fake.Revoked(), "device-access") {
		t.Errorf("logout did not revoke the token at Twitch (revoked: %d tokens)", len(fake.Revoked()))
	}
	if _, err := os.Stat(filepath.Join(data, auth.TokenFile)); !os.IsNotExist(err) {
		t.Errorf("logout left the token file: %v", err)
	}
	code, _, errOut = runHerald(t, "twitch", "status", "--rules", rules, "--data", data)
	if code != exitFailure || !strings.Contains(errOut, "no Twitch login: run `herald twitch login`") {
		t.Errorf("status after logout exited %d: %s", code, errOut)
	}
}

// TestTwitchStatusOfAStaticToken: an ingress that runs on the rules
// file's access_token is reported on that token, not as "no login".
func TestTwitchStatusOfAStaticToken(t *testing.T) {
	fake := faketwitch.New(t)
	fake.Grant("static-token", "", "")
	rules := cliRules(t, fake, "channel.follow")
	body, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(strings.Replace(string(body), "    client_id: test-client\n", "    client_id: test-client\n    access_token: static-token\n", 1))
	if err := os.WriteFile(rules, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runHerald(t, "twitch", "status", "--rules", rules, "--data", t.TempDir())
	if code != exitOK || !strings.Contains(out, "uses the access_token of the rules file") || !strings.Contains(out, "logged in as ada") {
		t.Errorf("status exited %d:\n%s%s\nwant the rules file's token reported", code, out, errOut)
	}
	if strings.Contains(out+errOut, "static-token") {
		t.Error("status printed the token")
	}
}

// TestTwitchLoginRefused: an expired code and a declined authorisation
// are one clear line each, and nothing is saved.
func TestTwitchLoginRefused(t *testing.T) {
	tests := []struct {
		name  string
		polls []string
		want  string
	}{
		{name: "expired", polls: []string{"authorization_pending", "expired_token"}, want: "the code expired before it was approved"},
		{name: "twitch's word for expired", polls: []string{"invalid device code"}, want: "the code expired before it was approved"},
		{name: "denied", polls: []string{"access_denied"}, want: "the authorisation was declined on twitch.tv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := faketwitch.New(t)
			rules := cliRules(t, fake, "channel.follow")
			data := t.TempDir()
			fake.DevicePolls(tc.polls...)
			code, _, errOut := runHerald(t, "twitch", "login", "--rules", rules, "--data", data)
			if code != exitFailure || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("login exited %d with %q, want 1 and one line containing %q", code, errOut, tc.want)
			}
			if _, err := os.Stat(filepath.Join(data, auth.TokenFile)); !os.IsNotExist(err) {
				t.Errorf("a refused login left a token file: %v", err)
			}
		})
	}
}

// TestCheckTwitchDeclaration: herald check refuses an unknown type and a
// managed webhook without a callback, and, when a login exists, names
// each subscription whose scope it lacks.
func TestCheckTwitchDeclaration(t *testing.T) {
	fake := faketwitch.New(t)
	data := t.TempDir()
	err := auth.Store{Dir: data}.Save(auth.Token{ClientID: "test-client", Access: auth.NewSecret("a"), Login: "ada", UserID: "1",
		Scopes: []string{"moderator:read:followers"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, rules string
		want        []string // "" = ok
	}{
		{name: "scopes present", rules: cliRules(t, fake, "channel.follow, channel.raid")},
		{name: "scope missing", rules: cliRules(t, fake, "channel.follow, channel.cheer, channel.subscribe"), want: []string{
			`ingress "twitch": channel.cheer needs scope bits:read, which the Twitch login of ada lacks; run ` + "`herald twitch login`" + ` again`,
			`ingress "twitch": channel.subscribe needs scope channel:read:subscriptions, which the Twitch login of ada lacks`}},
		{name: "unknown type", rules: cliRules(t, fake, "channel.folow"), want: []string{`subscription type "channel.folow" is not built in`}},
	}
	webhook := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(webhook, []byte("version: 1\ningress:\n  twitch:\n    type: twitch\n    path: /webhooks/twitch\n    secret: 0123456789abc\n    client_id: x\n    client_secret: y\n    subscriptions: [channel.follow]\n"), 0o600)
	tests = append(tests, struct {
		name, rules string
		want        []string
	}{name: "webhook without callback", rules: webhook, want: []string{"rules.yaml:9:20: ingress \"twitch\": managed webhook subscriptions need callback"}})
	t.Run("no login yet", func(t *testing.T) {
		// The file is right: ok, with a warning saying how to log in.
		empty := t.TempDir()
		code, out, errOut := runHerald(t, "check", "--data", empty, cliRules(t, fake, "channel.follow"))
		if code != exitOK || !strings.Contains(errOut, `warning: ingress "twitch": no Twitch login`) || !strings.Contains(errOut, "--data "+empty) {
			t.Errorf("check with no login exited %d:\n%s%s\nwant 0 and a warning naming the login command and %s", code, out, errOut, empty)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runHerald(t, "check", "--data", data, tc.rules)
			if len(tc.want) == 0 {
				if code != exitOK {
					t.Errorf("check exited %d: %s%s", code, out, errOut)
				}
				return
			}
			if code != exitFailure {
				t.Errorf("check exited %d, want 1: %s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("check said:\n%s\nwant it to contain %q", errOut, w)
				}
			}
		})
	}
}
