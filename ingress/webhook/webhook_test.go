package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/webhook"
)

var now = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// TestCases runs testdata/<case>/: GitHub, Patreon, Shopify-style and
// Standard Webhooks signatures, form and JSON bodies, and refusals.
func TestCases(t *testing.T) {
	adaptertest.RunCases(t, webhook.New, "webhook")
}

func load(t testing.TB, name string) (config string, req func() *http.Request) {
	t.Helper()
	c, err := os.ReadFile(filepath.Join("testdata", name, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", name, "request.http"))
	if err != nil {
		t.Fatal(err)
	}
	return string(c), func() *http.Request {
		r, err := adaptertest.ParseRequest(adaptertest.RawRequest(raw))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// TestReplayIsNotPublishedTwice: a GitHub redelivery and a replayed
// Standard Webhooks message (same id) are answered 200 but published once.
func TestReplayIsNotPublishedTwice(t *testing.T) {
	for _, name := range []string{"github-star", "standard-good"} {
		t.Run(name, func(t *testing.T) {
			config, req := load(t, name)
			a, rec := adaptertest.Build(t, webhook.New, "webhook", config, now)
			for i := range 3 {
				w := httptest.NewRecorder()
				a.ServeHTTP(w, req())
				if w.Code != http.StatusOK {
					t.Fatalf("attempt %d: status %d", i, w.Code)
				}
			}
			if n := len(rec.Events()); n != 1 {
				t.Errorf("published %d events, want 1", n)
			}
			if got := a.(ingress.StatsReporter).Stats(); got.Duplicates != 2 {
				t.Errorf("Stats() = %+v, want 2 duplicates", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    string
	}{
		{name: "empty", options: ""},
		{name: "all set", options: "signature: {header: X-Sig, secret: s}\nevent: data.type\nid: headers[\"X-Id\"]\ncode: '\"room\"'\ndedupe_window: 1h"},
		{name: "plain expr error", options: "event: data.type +", want: "rules.yaml:1:18: event: unexpected token EOF"},
		{name: "quoted expr error", options: "code: 'data.room +* 1'", want: `rules.yaml:1:19: code: unexpected token Operator("*")`},
		{name: "unknown name", options: "id: dta.id", want: "rules.yaml:1:5: id: unknown name dta"},
		{name: "block expr error", options: "event: |\n  data.type\n  +", want: "rules.yaml:3: event: unexpected token EOF"},
		{name: "not a scalar", options: "event: [a]", want: "rules.yaml:1:8: event: expected an expression, got a list"},
		{name: "unknown key", options: "evnt: data.type", want: `rules.yaml:1:1: unknown key "evnt" (known: code, dedupe_window, event, id, signature)`},
		{name: "signature unknown key", options: "signature:\n  header: X\n  secret: s\n  algo: md5", want: `rules.yaml:4:3: unknown key "algo" (known: algorithm, encoding, header, prefix, scheme, secret, tolerance)`},
		{name: "no secret", options: "signature:\n  header: X", want: "rules.yaml:2:3: signature: secret is required"},
		{name: "empty secret", options: "signature:\n  header: X\n  secret: ''", want: "rules.yaml:3:11: signature: secret is required"},
		{name: "no header", options: "signature: {secret: s}", want: "rules.yaml:1:12: signature: header is required for the hmac scheme (e.g. X-Hub-Signature-256)"},
		{name: "bad algorithm", options: "signature: {header: X, secret: s, algorithm: crc32}", want: `rules.yaml:1:46: signature: unknown algorithm "crc32" (known: sha256, sha1, sha512, md5)`},
		{name: "bad encoding", options: "signature: {header: X, secret: s, encoding: hexx}", want: `rules.yaml:1:45: signature: unknown encoding "hexx" (known: hex, base64)`},
		{name: "bad scheme", options: "signature: {scheme: svix, secret: s}", want: `rules.yaml:1:21: signature: unknown scheme "svix" (known: hmac, standard_webhooks)`},
		{name: "bad whsec", options: "signature: {scheme: standard_webhooks, secret: whsec_!!}", want: "rules.yaml:1:48: signature: secret must be whsec_ followed by base64"},
		{name: "several at once", options: "event: a.\nsignature: {secret: s}", want: "rules.yaml:1:9: event: unexpected end of expression\nrules.yaml:2:12: signature: header is required for the hmac scheme (e.g. X-Hub-Signature-256)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := adaptertest.Params(t, "webhook", tc.options, now, nil)
			_, err := webhook.New(p)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("New(%q) error =\n%s\nwant\n%s", tc.options, got, tc.want)
			}
		})
	}
}

func TestSecretNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	config, _ := load(t, "github-star")
	p, _ := adaptertest.Params(t, "webhook", config, now, &logs)
	a, err := webhook.New(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Log.Info("built", "adapter", a)
	for _, c := range []string{"github-tampered", "github-unsigned", "github-wrong-prefix"} {
		_, req := load(t, c)
		a.ServeHTTP(httptest.NewRecorder(), req())
	}
	if strings.Contains(logs.String(), "gh-webhook-secret") {
		t.Errorf("logs contain the secret:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "webhook refused"); n != 3 {
		t.Errorf("logged %d refusals, want 3:\n%s", n, logs.String())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        string // JSON of the data, or the error
	}{
		{name: "object", contentType: "application/json", body: `{"a":1}`, want: `{"a":1}`},
		{name: "no content type", body: `{"a":"b"}`, want: `{"a":"b"}`},
		{name: "empty", contentType: "application/json", body: ``, want: `{}`},
		{name: "scalar", body: `"hi"`, want: `{"payload":"hi"}`},
		{name: "null", body: `null`, want: `{"payload":null}`},
		{name: "form", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: `a=1&b=2&b=3`, want: `{"a":"1","b":["2","3"]}`},
		{name: "bad json", body: `{`, want: "400 malformed JSON body"},
		{name: "trailing garbage", body: `{} x`, want: "400 malformed JSON body"},
		{name: "bad form", contentType: "application/x-www-form-urlencoded", body: `a=%`, want: "400 malformed form body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := webhook.Parse(tc.contentType, []byte(tc.body))
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = jsonString(t, data)
			}
			if got != tc.want {
				t.Errorf("Parse(%q, %q) = %s, want %s", tc.contentType, tc.body, got, tc.want)
			}
		})
	}
}

func jsonString(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
