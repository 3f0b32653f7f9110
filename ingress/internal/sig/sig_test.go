package sig_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/ingress/internal/sig"
)

func TestHMACVerify(t *testing.T) {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	key := sig.NewSecret("It's a Secret to Everybody")
	// A well-formed MAC that is not the right one.
	const sha256Hex = "0c5c1ab3b0e3a3a5a2fb3e8d0ad4bd6d0ad6c3d6ae4bdd4b4a8ee1e4e3cbb6c7"
	github := sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Prefix: "sha256=", Key: key}
	good := "sha256=" + fmt.Sprintf("%x", sig.SHA256.MAC(key.Bytes(), body))
	tests := []struct {
		name   string
		h      sig.HMAC
		header string
		want   error
	}{
		{name: "github good", h: github, header: good},
		{name: "prefix case-insensitive", h: github, header: "SHA256=" + good[7:]},
		{name: "upper-case hex", h: github, header: "sha256=" + strings.ToUpper(good[7:])},
		{name: "missing", h: github, header: "", want: sig.ErrMissing},
		{name: "no prefix", h: github, header: good[7:], want: sig.ErrMalformed},
		{name: "prefix not configured but sent", h: sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Key: key}, header: good},
		{name: "prefix not configured, wrong one sent", h: sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Key: key}, header: "sha1=" + good[7:], want: sig.ErrMalformed},
		{name: "not hex", h: github, header: "sha256=zz", want: sig.ErrMalformed},
		{name: "flipped", h: github, header: good[:len(good)-1] + "0", want: sig.ErrMismatch},
		{name: "truncated", h: github, header: good[:len(good)-2], want: sig.ErrMismatch},
		{name: "made-up", h: github, header: "sha256=" + sha256Hex, want: sig.ErrMismatch},
		{name: "md5 patreon", h: sig.HMAC{Algorithm: sig.MD5, Encoding: sig.Hex, Key: key}, header: fmt.Sprintf("%x", sig.MD5.MAC(key.Bytes(), body))},
		{name: "md5 given sha1", h: sig.HMAC{Algorithm: sig.MD5, Encoding: sig.Hex, Key: key}, header: fmt.Sprintf("%x", sig.SHA1.MAC(key.Bytes(), body)), want: sig.ErrMismatch},
		{name: "wrong key", h: sig.HMAC{Algorithm: sig.SHA256, Encoding: sig.Hex, Prefix: "sha256=", Key: sig.NewSecret("other")}, header: good, want: sig.ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.h.Verify(tc.header, body); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%q) = %v, want %v", tc.header, err, tc.want)
			}
		})
	}
}

func TestHMACKnownVector(t *testing.T) {
	// RFC 4231 test case 2.
	got := fmt.Sprintf("%x", sig.SHA256.MAC([]byte("Jefe"), []byte("what do ya want "), []byte("for nothing?")))
	if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("HMAC-SHA256 = %s, want %s", got, want)
	}
}

// TestStandardVector is the Standard Webhooks reference libraries' vector.
func TestStandardVector(t *testing.T) {
	s, err := sig.NewStandard(sig.NewSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), 0)
	if err != nil {
		t.Fatal(err)
	}
	const id, ts, want = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	body := []byte(`{"test": 2432232314}`)
	if got := s.Sign(id, ts, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	at := time.Unix(ts, 0)
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body string
		now  time.Time
		want error
	}{
		{name: "good", h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", want)},
		{name: "svix names", h: header("svix-id", id, "svix-timestamp", "1614265330", "svix-signature", want)},
		{name: "one of several", h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", "v1,Zm9v v1a,abc "+want)},
		{name: "4m59s late", now: at.Add(299 * time.Second), h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", want)},
		{name: "6m late", now: at.Add(6 * time.Minute), h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", want), want: sig.ErrStale},
		{name: "6m early", now: at.Add(-6 * time.Minute), h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", want), want: sig.ErrStale},
		{name: "other body", body: `{"test": 2432232315}`, h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", want), want: sig.ErrMismatch},
		{name: "other id", h: header("webhook-id", "msg_x", "webhook-timestamp", "1614265330", "webhook-signature", want), want: sig.ErrMismatch},
		{name: "restamped", h: header("webhook-id", id, "webhook-timestamp", "1614265331", "webhook-signature", want), want: sig.ErrMismatch},
		{name: "v2 only", h: header("webhook-id", id, "webhook-timestamp", "1614265330", "webhook-signature", "v2,"+want[3:]), want: sig.ErrMismatch},
		{name: "no signature", h: header("webhook-id", id, "webhook-timestamp", "1614265330"), want: sig.ErrMissing},
		{name: "bad timestamp", h: header("webhook-id", id, "webhook-timestamp", "soon", "webhook-signature", want), want: sig.ErrTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now, b := tc.now, body
			if now.IsZero() {
				now = at
			}
			if tc.body != "" {
				b = []byte(tc.body)
			}
			if err := s.Verify(tc.h, b, now); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewStandardRejectsBadSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := sig.NewStandard(sig.NewSecret(s), 0); err == nil {
			t.Errorf("NewStandard(%q) succeeded, want an error", s)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	var holder struct {
		Key   sig.Secret `yaml:"key"`
		inner struct{ k sig.Secret }
	}
	if err := yaml.Unmarshal([]byte("key: hunter2-hunter2"), &holder); err != nil {
		t.Fatal(err)
	}
	holder.inner.k = holder.Key
	if holder.Key.Value() != "hunter2-hunter2" {
		t.Fatalf("decoded %q", holder.Key.Value())
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "secret", holder.Key, "holder", holder)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", holder, holder, holder, holder.Key), logs.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if !holder.Key.Equal("hunter2-hunter2") || holder.Key.Equal("hunter2") {
		t.Error("Equal does not compare the value")
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want sig.Algorithm
	}{
		{in: "sha256", want: sig.SHA256}, {in: "SHA-256", want: sig.SHA256}, {in: "hmac-sha256", want: sig.SHA256},
		{in: "HMAC_SHA1", want: sig.SHA1}, {in: "md5", want: sig.MD5}, {in: "sha512", want: sig.SHA512},
		{in: "crc32"}, {in: ""}, {in: "hmac"},
	}
	for _, tc := range tests {
		got, err := sig.ParseAlgorithm(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
